import Yams

/// Decodes `stacks/<name>.yaml` into a `Stack`.
enum StackDecoder {
    static let keys = ["stack", "kind", "layer", "role", "description", "image", "version", "mode", "replicas",
                       "resources", "limits", "command", "ports", "routes", "volumes", "env", "secrets",
                       "depends_on", "health"]
    /// Keys that only mean something for stacks that deploy a service.
    static let serviceOnlyKeys = ["image", "mode", "replicas", "resources", "limits", "command", "ports", "routes",
                                  "volumes", "env", "secrets", "health"]

    static let cpuRange = CPU(millicores: 1)...CPU.cores(448)
    static let memoryRange = ByteSize.mebibytes(4)...ByteSize.tebibytes(24)

    static func decode(_ node: Node, reader: DocumentReader) -> Stack? {
        guard let fields = reader.mapping(node, at: .root, what: "stack", allowed: keys,
                                          required: ["stack", "kind", "layer", "role"]) else { return nil }
        let name = fields["stack"].flatMap { reader.name($0, at: "stack", what: "stack name") }
        let kind = fields["kind"].flatMap { reader.choice($0, at: "kind", what: "kind", as: Stack.Kind.self) }
        let layer = fields["layer"].flatMap { reader.choice($0, at: "layer", what: "layer", as: Stack.Layer.self) }
        let role = fields["role"].flatMap { reader.name($0, at: "role", what: "role") }
        let description = fields["description"].flatMap { reader.optionalString($0, at: "description", what: "description") }
        let version = fields["version"].flatMap { reader.string($0, at: "version", what: "version") }

        if let kind, kind != .service {
            for key in serviceOnlyKeys {
                guard let keyNode = fields.keyNode(key) else { continue }
                reader.error("a \(kind.rawValue) stack deploys nothing, so '\(key)' does not apply", at: keyNode,
                             fix: "remove '\(key)', or make the stack 'kind: service'")
            }
        }
        var stack = Stack(
            name: name ?? "", kind: kind ?? .service, layer: layer ?? .infrastructure, role: role ?? "",
            description: description, image: nil, version: version, mode: .replicated, replicas: 1,
            resources: .zero, limits: nil, command: nil, ports: [], routes: [], volumes: [], environment: [:],
            secrets: [], dependsOn: [], health: nil, source: SourceMap(file: reader.file)
        )
        if kind == .service {
            decodeService(fields, into: &stack, reader: reader)
        }
        if let dependsOn = fields["depends_on"] {
            let items = reader.sequence(dependsOn, at: "depends_on", what: "depends_on") ?? []
            let names = items.compactMap { item in reader.name(item.node, at: item.path, what: "each entry of depends_on").map { ($0, item.node) } }
            stack.dependsOn = reader.unique(names, what: "dependency")
            if let name, let itself = names.first(where: { $0.0 == name }) {
                reader.error("stack '\(name)' depends on itself", at: itself.1, fix: "remove '\(name)' from depends_on")
            }
        }
        return name == nil || kind == nil || layer == nil || role == nil ? nil : stack
    }

    private static func decodeService(_ fields: DocumentReader.Fields, into stack: inout Stack, reader: DocumentReader) {
        for required in ["image", "version", "resources"] where fields[required] == nil {
            reader.error("service stack is missing required key '\(required)'", at: fields.node,
                         fix: required == "resources" ? "add resources: { cpu: 0.5, memory: 512MiB }" : nil)
        }
        if let node = fields["image"], let image = reader.string(node, at: "image", what: "image") {
            if let problem = checkImage(image) {
                reader.error("image \(problem.message)", at: node, fix: problem.fix)
            } else {
                stack.image = image
            }
        }
        if let node = fields["version"], let version = stack.version, version == "latest" {
            reader.warning("version 'latest' changes under you; plans cannot show what will run", at: node,
                           fix: "pin an exact version, e.g. the one running today")
        }
        if let node = fields["mode"], let mode = reader.choice(node, at: "mode", what: "mode", as: Stack.Mode.self) {
            stack.mode = mode
            if mode == .global, let replicasKey = fields.keyNode("replicas") {
                reader.error("a global stack runs one task per node, so 'replicas' does not apply", at: replicasKey,
                             fix: "remove 'replicas', or use 'mode: replicated'")
            }
        }
        if let node = fields["replicas"], let replicas = reader.integer(node, at: "replicas", what: "replicas", in: 0...100) {
            stack.replicas = replicas
        }
        if let node = fields["resources"], let resources = decodeResources(node, at: "resources", what: "resources", allowGPU: true, reader: reader) {
            stack.resources = resources
        }
        if let node = fields["limits"], let limits = decodeResources(node, at: "limits", what: "limits", allowGPU: false, reader: reader) {
            stack.limits = limits
            if limits.cpu < stack.resources.cpu && limits.cpu > .zero {
                reader.error("limits.cpu (\(limits.cpu)) is below the reservation resources.cpu (\(stack.resources.cpu))",
                             at: reader.sourceMapNode(node, key: "cpu") ?? node, fix: "raise the limit or lower the reservation")
            }
            if limits.memory < stack.resources.memory && limits.memory > .zero {
                reader.error("limits.memory (\(limits.memory)) is below the reservation resources.memory (\(stack.resources.memory))",
                             at: reader.sourceMapNode(node, key: "memory") ?? node, fix: "raise the limit or lower the reservation")
            }
        }
        if let node = fields["command"] {
            if case .scalar = node, let text = reader.string(node, at: "command", what: "command") {
                stack.command = text.split(separator: " ").map(String.init)
            } else {
                stack.command = reader.stringList(node, at: "command", what: "command")
            }
        }
        if let node = fields["ports"] { stack.ports = ServiceDecoding.ports(node, reader: reader) }
        if let node = fields["routes"] { stack.routes = ServiceDecoding.routes(node, ports: stack.ports, reader: reader) }
        if let node = fields["volumes"] { stack.volumes = ServiceDecoding.volumes(node, reader: reader) }
        if let node = fields["env"] { stack.environment = ServiceDecoding.environment(node, reader: reader) }
        if let node = fields["secrets"] {
            let items = reader.sequence(node, at: "secrets", what: "secrets") ?? []
            let names: [(String, Node)] = items.compactMap { item in
                guard let text = reader.string(item.node, at: item.path, what: "each entry of secrets") else { return nil }
                if let problem = Name.checkSecret(text) {
                    reader.error("secret name \(problem.message)", at: item.node)
                    return nil
                }
                return (text, item.node)
            }
            stack.secrets = reader.unique(names, what: "secret")
        }
        if let node = fields["health"] { stack.health = ServiceDecoding.health(node, reader: reader) }
    }

    /// `{cpu, memory, gpu}` as a stack reserves or limits them.
    static func decodeResources(_ node: Node, at path: ModelPath, what: String, allowGPU: Bool, reader: DocumentReader) -> Resources? {
        let allowed = allowGPU ? ["cpu", "memory", "gpu"] : ["cpu", "memory"]
        guard let fields = reader.mapping(node, at: path, what: what, allowed: allowed, required: ["cpu", "memory"]) else { return nil }
        let cpu = fields["cpu"].flatMap { reader.cpu($0, at: path / "cpu", what: "\(path).cpu", in: cpuRange) }
        let memory = fields["memory"].flatMap { reader.byteSize($0, at: path / "memory", what: "\(path).memory", in: memoryRange) }
        let gpu = fields["gpu"].map { reader.integer($0, at: path / "gpu", what: "\(path).gpu", in: 0...16) } ?? 0
        guard let cpu, let memory, let gpu else { return nil }
        return Resources(cpu: cpu, memory: memory, gpu: gpu)
    }

    /// Images are `name`, `registry/name`, `registry:port/org/name`: the tag goes in `version`.
    static func checkImage(_ image: String) -> ParseProblem? {
        let lastComponent = image.split(separator: "/").last.map(String.init) ?? image
        if lastComponent.contains(":") || image.contains("@") {
            return ParseProblem("'\(image)' includes a tag or digest", fix: "write the tag under 'version'")
        }
        let valid = !image.isEmpty && image.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-/:".unicodeScalars.contains($0)
        }
        return valid ? nil : ParseProblem("'\(image)' is not a valid image name", fix: "image names are lower-case, e.g. grafana/grafana")
    }
}

extension DocumentReader {
    /// The value node under `key` in a mapping node, for pointing at one field of a decoded group.
    func sourceMapNode(_ node: Node, key: String) -> Node? {
        node.mapping?[key]
    }
}
