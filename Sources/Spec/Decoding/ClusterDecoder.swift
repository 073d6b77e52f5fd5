import Yams

/// Decodes an environment's `clusters:` mapping.
enum ClusterDecoder {
    static let keys = ["role", "roles", "nodes", "size", "volumes", "labels"]
    static let nodeCPU = 1...448
    static let nodeMemory = ByteSize.mebibytes(512)...ByteSize.tebibytes(24)
    static let nodeDisk = ByteSize.gibibytes(10)...ByteSize.tebibytes(64)
    static let volumeSize = ByteSize.gibibytes(1)...ByteSize.tebibytes(16)

    static func decode(_ node: Node, reader: DocumentReader) -> [Cluster] {
        var clusters: [Cluster] = []
        for entry in reader.namedEntries(node, at: "clusters", what: "clusters") ?? [] {
            let path = ModelPath.root / "clusters" / entry.name
            if let problem = Name.check(entry.name) {
                reader.error("cluster name \(problem.message)", at: entry.key, fix: problem.fix)
                continue
            }
            if let cluster = decodeCluster(entry.name, entry.value, at: path, reader: reader) {
                clusters.append(cluster)
            }
        }
        if clusters.isEmpty, case .mapping(let mapping) = node, mapping.count == 0 {
            reader.error("environment has no clusters", at: node, fix: "add at least one cluster")
        }
        return clusters
    }

    private static func decodeCluster(_ name: String, _ node: Node, at path: ModelPath, reader: DocumentReader) -> Cluster? {
        let what = "cluster '\(name)'"
        guard let fields = reader.mapping(node, at: path, what: what, allowed: keys, required: ["nodes", "size"]) else { return nil }
        var roles: [String]?
        switch (fields["role"], fields["roles"]) {
        case (let role?, nil):
            roles = reader.name(role, at: path / "role", what: "role").map { [$0] }
        case (nil, let list?):
            let items = reader.sequence(list, at: path / "roles", what: "roles") ?? []
            let names = items.compactMap { item in reader.name(item.node, at: item.path, what: "role").map { ($0, item.node) } }
            roles = reader.unique(names, what: "role")
            if items.isEmpty, case .sequence = list { reader.error("\(what) has an empty roles list", at: list) }
        case (_?, _?):
            reader.error("\(what) sets both 'role' and 'roles'", at: fields.keyNode("roles") ?? node, fix: "keep one of them")
        case (nil, nil):
            reader.error("\(what) needs a role", at: node, fix: "add role: application (or roles: [management, data])")
        }
        let nodes = fields["nodes"].flatMap { reader.integer($0, at: path / "nodes", what: "nodes", in: 1...100) }
        let size = fields["size"].flatMap { decodeSize($0, at: path / "size", reader: reader) }
        let volumes = fields["volumes"].map { decodeVolumes($0, at: path / "volumes", reader: reader) } ?? []
        let labels = fields["labels"].flatMap {
            reader.stringMap($0, at: path / "labels", what: "labels", checkKey: checkLabel)
        } ?? [:]
        guard let roles, let nodes, let size else { return nil }
        return Cluster(name: name, roles: roles, nodes: nodes, size: size, volumes: volumes, labels: labels)
    }

    private static func decodeSize(_ node: Node, at path: ModelPath, reader: DocumentReader) -> NodeSize? {
        if case .scalar = node {
            guard let slug = reader.string(node, at: path, what: "size") else { return nil }
            if slug.contains(" ") || slug.isEmpty {
                reader.error("size must be a provider's size slug or { cpu, memory, disk, gpu }, found '\(slug)'", at: node)
                return nil
            }
            return .slug(slug)
        }
        guard let fields = reader.mapping(node, at: path, what: "size", allowed: ["cpu", "memory", "disk", "gpu"],
                                          required: ["cpu", "memory"]) else { return nil }
        let cpu = fields["cpu"].flatMap { node -> Int? in
            guard let text = reader.string(node, at: path / "cpu", what: "size.cpu") else { return nil }
            guard let value = Int(text) else {
                reader.error("size.cpu must be a whole number of vCPUs, found '\(text)'", at: node,
                             fix: Double(text) != nil ? "nodes come with whole vCPUs; round it up" : nil)
                return nil
            }
            guard nodeCPU.contains(value) else {
                reader.error("size.cpu must be between 1 and 448 vCPU (the largest machines any provider offers), found \(value)", at: node)
                return nil
            }
            return value
        }
        let memory = fields["memory"].flatMap { reader.byteSize($0, at: path / "memory", what: "size.memory", in: nodeMemory) }
        let disk = fields["disk"].map { reader.byteSize($0, at: path / "disk", what: "size.disk", in: nodeDisk) }
        let gpu = fields["gpu"].map { reader.integer($0, at: path / "gpu", what: "size.gpu", in: 0...16) } ?? 0
        guard let cpu, let memory, disk != .some(nil), let gpu else { return nil }
        return .neutral(cpu: cpu, memory: memory, disk: disk ?? nil, gpu: gpu)
    }

    private static func decodeVolumes(_ node: Node, at path: ModelPath, reader: DocumentReader) -> [ClusterVolume] {
        var volumes: [ClusterVolume] = []
        var names: [(String, Node)] = []
        for item in reader.sequence(node, at: path, what: "volumes") ?? [] {
            guard let fields = reader.mapping(item.node, at: item.path, what: "volume", allowed: ["name", "size"],
                                              required: ["name", "size"]) else { continue }
            let name = fields["name"].flatMap { reader.name($0, at: fields.path("name"), what: "volume name") }
            let size = fields["size"].flatMap { reader.byteSize($0, at: fields.path("size"), what: "volume size", in: volumeSize) }
            if let name, let nameNode = fields["name"] { names.append((name, nameNode)) }
            if let name, let size { volumes.append(ClusterVolume(name: name, size: size)) }
        }
        let unique = Set(reader.unique(names, what: "volume"))
        var kept: Set<String> = []
        return volumes.filter { unique.contains($0.name) && kept.insert($0.name).inserted }
    }

    static func checkLabel(_ key: String) -> ParseProblem? {
        if key.hasPrefix("kryoform.") {
            return ParseProblem("'\(key)' uses the 'kryoform.' prefix, which kryoform keeps for its own labels")
        }
        let valid = !key.isEmpty && key.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
        }
        return valid ? nil : ParseProblem("'\(key)' must be lower-case letters, digits, '.', '_' and '-'")
    }
}
