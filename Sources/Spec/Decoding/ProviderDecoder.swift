import Yams

/// Decodes an environment's `provider:` block, whose keys depend on the provider's name.
enum ProviderDecoder {
    static let commonKeys = ["name", "region", "endpoint", "image"]
    static var credentialKeys: [String] {
        Provider.Name.allCases.flatMap { $0.credentials.map(\.key) }
    }

    static func decode(_ node: Node, reader: DocumentReader) -> Provider? {
        let path: ModelPath = "provider"
        guard let fields = reader.mapping(node, at: path, what: "provider", allowed: commonKeys + credentialKeys + ["hosts", "directory"],
                                          required: ["name"]) else { return nil }
        guard let nameNode = fields["name"],
              let name = reader.choice(nameNode, at: path / "name", what: "provider name", as: Provider.Name.self) else { return nil }
        var provider = Provider(name: name, region: nil, endpoint: nil, image: nil, credentials: [:], hosts: [])

        let ownKeys = Set(name.credentials.map(\.key))
        for key in credentialKeys where fields[key] != nil && !ownKeys.contains(key) {
            let takes = name.credentials.isEmpty ? "takes no credentials" : "takes \(name.credentials.map(\.key).joined(separator: ", "))"
            reader.error("'\(key)' is not a setting of provider \(name.rawValue); it \(takes)", at: fields.keyNode(key) ?? node)
        }
        for (key, defaultReference) in name.credentials {
            if let value = fields[key] {
                provider.credentials[key] = reader.secretReference(value, at: path / key, what: "provider.\(key)")
            } else if let defaultReference {
                provider.credentials[key] = defaultReference
            }
        }
        if let node = fields["region"] {
            provider.region = reader.string(node, at: path / "region", what: "provider.region")
        } else if name.isCloud {
            reader.error("provider \(name.rawValue) needs a region", at: node, fix: regionHint(name))
        }
        if let node = fields["endpoint"], let text = reader.string(node, at: path / "endpoint", what: "provider.endpoint") {
            if let problem = checkEndpoint(text), problem.revealsSecret {
                reader.secretError("provider.endpoint \(problem.message)", at: node, fix: problem.fix)
            } else if let problem = checkEndpoint(text) {
                reader.error("provider.endpoint \(problem.message)", at: node, fix: problem.fix)
            } else if !name.isCloud {
                reader.error("provider \(name.rawValue) has no HTTP API, so 'endpoint' does not apply", at: fields.keyNode("endpoint") ?? node)
            } else {
                provider.endpoint = text
            }
        }
        if let node = fields["image"] {
            provider.image = reader.string(node, at: path / "image", what: "provider.image")
        }
        if let node = fields["directory"], let text = reader.string(node, at: path / "directory", what: "provider.directory") {
            if name != .sandbox {
                reader.error("'directory' belongs to the sandbox provider (where its emulated cloud is kept)", at: fields.keyNode("directory") ?? node)
            } else if text.trimmingCharacters(in: .whitespaces).isEmpty {
                reader.error("provider.directory is empty", at: node, fix: "name a folder, e.g. directory: ../shared-sandbox")
            } else {
                provider.directory = text
            }
        }
        if let node = fields["hosts"] {
            if name == .static {
                provider.hosts = decodeHosts(node, reader: reader)
            } else {
                reader.error("'hosts' belongs to the static provider; provider \(name.rawValue) creates its nodes", at: fields.keyNode("hosts") ?? node)
            }
        } else if name == .static {
            reader.error("provider static needs 'hosts', the machines it configures", at: node,
                         fix: "add hosts: [ { name: web-1, address: 192.0.2.10, roles: [application] } ]")
        }
        return provider
    }

    static func regionHint(_ name: Provider.Name) -> String {
        switch name {
        case .digitalocean: return "add region: nyc3 (or ams3, fra1, sgp1, ...)"
        case .vultr: return "add region: ewr (or sao, fra, sgp, ...)"
        case .aws: return "add region: us-east-1 (or sa-east-1, eu-central-1, ...)"
        case .sandbox, .static: return "add region"
        }
    }

    /// `http(s)://host[:port][/path]`, without credentials in it.
    static func checkEndpoint(_ text: String) -> ParseProblem? {
        guard let scheme = ["https://", "http://"].first(where: text.hasPrefix) else {
            return ParseProblem("must start with http:// or https://, found '\(text)'")
        }
        let rest = text.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" }
        if authority.contains("@") {
            return ParseProblem("must not carry credentials", fix: "put credentials in the provider's credential keys as env: references",
                                revealsSecret: true)
        }
        guard !authority.isEmpty else { return ParseProblem("has no host, found '\(text)'") }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let port = Int(authority[authority.index(after: colon)...]), PortRange.valid.contains(port) else {
                return ParseProblem("has an invalid port, found '\(text)'")
            }
        }
        return nil
    }

    private static func decodeHosts(_ node: Node, reader: DocumentReader) -> [StaticHost] {
        var hosts: [StaticHost] = []
        var names: [(String, Node)] = []
        for item in reader.sequence(node, at: "provider.hosts", what: "provider.hosts") ?? [] {
            guard let fields = reader.mapping(item.node, at: item.path, what: "host", allowed: ["name", "address", "port", "user", "roles"],
                                              required: ["name", "address", "roles"]) else { continue }
            let name = fields["name"].flatMap { reader.name($0, at: fields.path("name"), what: "host name") }
            let address = fields["address"].flatMap { reader.string($0, at: fields.path("address"), what: "host address") }
            let port = fields["port"].map { reader.integer($0, at: fields.path("port"), what: "port", in: 1...65535) }
            let user = fields["user"].flatMap { reader.string($0, at: fields.path("user"), what: "user") }
            let roles = fields["roles"].flatMap { reader.stringList($0, at: fields.path("roles"), what: "roles") } ?? []
            if let name, let nameNode = fields["name"] { names.append((name, nameNode)) }
            guard let name, let address, port != .some(nil) else { continue }
            hosts.append(StaticHost(name: name, address: address, port: port ?? nil, user: user, roles: roles))
        }
        _ = reader.unique(names, what: "host")
        return hosts
    }
}
