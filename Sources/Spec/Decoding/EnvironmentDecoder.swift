import Yams

/// Decodes `environments/<name>.yaml` into an `Environment`.
enum EnvironmentDecoder {
    static let keys = ["environment", "description", "provider", "domain", "network", "clusters", "stacks", "pins",
                       "overrides", "secrets", "protect", "configure_nodes"]

    static func decode(_ node: Node, reader: DocumentReader) -> Environment? {
        guard let fields = reader.mapping(node, at: .root, what: "environment", allowed: keys,
                                          required: ["environment", "provider", "stacks"]) else { return nil }
        let name = fields["environment"].flatMap { reader.name($0, at: "environment", what: "environment name") }
        let provider = fields["provider"].flatMap { ProviderDecoder.decode($0, reader: reader) }
        let description = fields["description"].flatMap { reader.optionalString($0, at: "description", what: "description") }
        var domain: String?
        if let node = fields["domain"], let text = reader.string(node, at: "domain", what: "domain") {
            if let problem = HostName.check(text) { reader.error("domain \(problem.message)", at: node, fix: problem.fix) } else { domain = text }
        }
        let network = fields["network"].map { decodeNetwork($0, reader: reader) } ?? Network(cidr: nil, firewall: [])
        let errorsBeforeClusters = reader.diagnostics.errorCount
        let clusters = fields["clusters"].map { ClusterDecoder.decode($0, reader: reader) } ?? []
        let clustersAreComplete = fields["clusters"] != nil && reader.diagnostics.errorCount == errorsBeforeClusters
        if fields["clusters"] == nil, let provider, provider.name != .static {
            reader.error("environment is missing required key 'clusters'", at: node,
                         fix: "add clusters: { main: { role: application, nodes: 1, size: { cpu: 2, memory: 4GiB } } }")
        }
        let stacks = fields["stacks"].flatMap { decodeSelection($0, reader: reader) }
        let pins = fields["pins"].flatMap { reader.stringMap($0, at: "pins", what: "pins") } ?? [:]
        let overrides = fields["overrides"].map { decodeOverrides($0, reader: reader) } ?? [:]
        let secrets = fields["secrets"].map { decodeSecrets($0, reader: reader) } ?? [:]
        let protect = fields["protect"].map { reader.bool($0, at: "protect", what: "protect") } ?? false
        let configuresNodes = fields["configure_nodes"].map { reader.bool($0, at: "configure_nodes", what: "configure_nodes") } ?? true
        if configuresNodes == false, let provider, provider.name == .static, let node = fields["configure_nodes"] {
            reader.error("configure_nodes: false leaves a static environment nothing to do: kryoform makes nothing for static hosts",
                         at: node, fix: "remove configure_nodes, or use a cloud provider")
        }

        guard let name, let provider, let stacks else { return nil }
        var environment = Environment(
            name: name, description: description, provider: provider, domain: domain, network: network,
            clusters: clusters, stacks: stacks, pins: pins, overrides: overrides, secrets: secrets,
            protect: protect ?? false, source: SourceMap(file: reader.file)
        )
        environment.clustersAreComplete = clustersAreComplete || provider.name == .static
        environment.configuresNodes = configuresNodes ?? true
        return environment
    }

    private static func decodeNetwork(_ node: Node, reader: DocumentReader) -> Network {
        var network = Network(cidr: nil, firewall: [])
        let path: ModelPath = "network"
        guard let fields = reader.mapping(node, at: path, what: "network", allowed: ["cidr", "firewall"]) else { return network }
        if let node = fields["cidr"], let cidr = reader.parsed(node, at: path / "cidr", what: "network.cidr", CIDR.parse) {
            if cidr.family != .v4 {
                reader.error("network.cidr must be an IPv4 range; cloud private networks are IPv4", at: node)
            } else if !CIDR.privateRanges.contains(where: { $0.contains(cidr) }) {
                reader.error("network.cidr \(cidr) is not a private range", at: node,
                             fix: "use part of 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918)")
            } else if !(16...28).contains(cidr.prefixLength) {
                reader.error("network.cidr /\(cidr.prefixLength) is outside the /16 to /28 that DigitalOcean, Vultr and AWS accept", at: node)
            } else {
                network.cidr = cidr
            }
        }
        if let node = fields["firewall"] {
            for item in reader.sequence(node, at: path / "firewall", what: "network.firewall") ?? [] {
                if let rule = decodeRule(item.node, at: item.path, reader: reader) { network.firewall.append(rule) }
            }
        }
        return network
    }

    private static func decodeRule(_ node: Node, at path: ModelPath, reader: DocumentReader) -> FirewallRule? {
        guard let fields = reader.mapping(node, at: path, what: "firewall rule", allowed: ["ports", "from", "protocol", "description"],
                                          required: ["from"]) else { return nil }
        let proto = fields["protocol"].map { reader.choice($0, at: path / "protocol", what: "protocol", as: FirewallRule.Transport.self) } ?? .tcp
        var ports: [PortRange] = []
        if let node = fields["ports"] {
            if proto == .icmp {
                reader.error("icmp has no ports", at: node, fix: "remove 'ports' from this rule")
            }
            for item in reader.sequence(node, at: path / "ports", what: "ports") ?? [] {
                if let range = reader.parsed(item.node, at: item.path, what: "port", PortRange.parse) { ports.append(range) }
            }
        } else if proto != .icmp {
            reader.error("firewall rule is missing required key 'ports'", at: node)
        }
        var sources: [CIDR] = []
        if let node = fields["from"] {
            let items = reader.sequence(node, at: path / "from", what: "from") ?? []
            if items.isEmpty, case .sequence = node {
                reader.error("firewall rule allows traffic from nowhere", at: node, fix: "list the source ranges, e.g. [203.0.113.0/24]")
            }
            for item in items {
                guard let cidr = reader.parsed(item.node, at: item.path, what: "source", CIDR.parse) else { continue }
                if let covering = sources.first(where: { $0.overlaps(cidr) }) {
                    reader.warning("source \(cidr) overlaps \(covering) in the same rule", at: item.node, fix: "keep the wider range only")
                }
                sources.append(cidr)
            }
        }
        let description = fields["description"].flatMap { reader.optionalString($0, at: path / "description", what: "description") }
        guard let proto else { return nil }
        return FirewallRule(ports: ports, from: sources, protocol: proto, description: description)
    }

    /// `all`, a list of stack names, or `{ except: [names] }`.
    private static func decodeSelection(_ node: Node, reader: DocumentReader) -> StackSelection? {
        let path: ModelPath = "stacks"
        switch node {
        case .scalar(let scalar):
            guard let text = reader.string(node, at: path, what: "stacks") else { return nil }
            if text == "all" { return .all }
            reader.error("stacks must be 'all', a list of stack names, or { except: [names] }, found '\(scalar.string)'", at: node,
                         fix: Name.check(text) == nil ? "write [\(text)]" : nil)
            return nil
        case .mapping:
            guard let fields = reader.mapping(node, at: path, what: "stacks", allowed: ["except"], required: ["except"]),
                  let except = fields["except"] else { return nil }
            return .allExcept(stackNames(except, at: path / "except", what: "stacks.except", reader: reader))
        default:
            return .only(stackNames(node, at: path, what: "stacks", reader: reader))
        }
    }

    private static func stackNames(_ node: Node, at path: ModelPath, what: String, reader: DocumentReader) -> [String] {
        let items = reader.sequence(node, at: path, what: what) ?? []
        let names = items.compactMap { item in reader.name(item.node, at: item.path, what: "stack name").map { ($0, item.node) } }
        return reader.unique(names, what: "stack")
    }

    private static func decodeOverrides(_ node: Node, reader: DocumentReader) -> [String: StackOverride] {
        var overrides: [String: StackOverride] = [:]
        for entry in reader.namedEntries(node, at: "overrides", what: "overrides") ?? [] {
            let path = ModelPath.root / "overrides" / entry.name
            guard let fields = reader.mapping(entry.value, at: path, what: "override of '\(entry.name)'",
                                              allowed: ["replicas", "resources"]) else { continue }
            var override = StackOverride()
            if let node = fields["replicas"] {
                override.replicas = reader.integer(node, at: path / "replicas", what: "replicas", in: 0...100)
            }
            if let node = fields["resources"],
               let resources = reader.mapping(node, at: path / "resources", what: "resources", allowed: ["cpu", "memory", "gpu"]) {
                override.cpu = resources["cpu"].flatMap { reader.cpu($0, at: path / "resources" / "cpu", what: "resources.cpu", in: StackDecoder.cpuRange) }
                override.memory = resources["memory"].flatMap {
                    reader.byteSize($0, at: path / "resources" / "memory", what: "resources.memory", in: StackDecoder.memoryRange)
                }
                override.gpu = resources["gpu"].flatMap { reader.integer($0, at: path / "resources" / "gpu", what: "resources.gpu", in: 0...16) }
            }
            overrides[entry.name] = override
        }
        return overrides
    }

    private static func decodeSecrets(_ node: Node, reader: DocumentReader) -> [String: SecretReference] {
        var secrets: [String: SecretReference] = [:]
        for entry in reader.namedEntries(node, at: "secrets", what: "secrets") ?? [] {
            if let problem = Name.checkSecret(entry.name) {
                reader.error("secret name \(problem.message)", at: entry.key)
                continue
            }
            if let reference = reader.secretReference(entry.value, at: ModelPath.root / "secrets" / entry.name, what: "secret '\(entry.name)'") {
                secrets[entry.name] = reference
            }
        }
        return secrets
    }
}
