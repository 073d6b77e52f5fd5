import Yams

/// Decoding of the parts of a service stack: ports, routes, volumes, environment and health check.
enum ServiceDecoding {
    /// `5432`, `"3478/udp"`, or `{ target: 80, published: 80, protocol: tcp }`.
    static func ports(_ node: Node, reader: DocumentReader) -> [ServicePort] {
        var ports: [ServicePort] = []
        var seen: [String: Node] = [:]
        for item in reader.sequence(node, at: "ports", what: "ports") ?? [] {
            guard let port = port(item.node, at: item.path, reader: reader) else { continue }
            let key = "\(port.target)/\(port.protocol.rawValue)"
            if let first = seen[key] {
                reader.error("port \(key) is listed twice", at: item.node, notes: ["first listed at \(reader.location(of: first))"],
                             fix: "remove one of them")
                continue
            }
            seen[key] = item.node
            ports.append(port)
        }
        return ports
    }

    private static func port(_ node: Node, at path: ModelPath, reader: DocumentReader) -> ServicePort? {
        if case .mapping = node {
            guard let fields = reader.mapping(node, at: path, what: "port", allowed: ["target", "published", "protocol"],
                                              required: ["target"]) else { return nil }
            let target = fields["target"].flatMap { portNumber($0, at: fields.path("target"), what: "target port", reader: reader) }
            let published = fields["published"].map { portNumber($0, at: fields.path("published"), what: "published port", reader: reader) }
            let proto = fields["protocol"].map { reader.choice($0, at: fields.path("protocol"), what: "protocol", as: ServicePort.Transport.self) }
            guard let target, published != .some(nil), proto != .some(nil) else { return nil }
            return ServicePort(target: target, published: published ?? nil, protocol: (proto ?? nil) ?? .tcp)
        }
        guard let text = reader.string(node, at: path, what: "port") else { return nil }
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        var proto = ServicePort.Transport.tcp
        if parts.count == 2 {
            guard let parsed = ServicePort.Transport(rawValue: parts[1]) else {
                reader.error("port protocol must be tcp or udp, found '\(parts[1])'", at: node)
                return nil
            }
            proto = parsed
        }
        if parts.first?.contains(":") == true {
            reader.error("port '\(text)' uses the docker 'published:target' form", at: node,
                         fix: "write { target: N, published: M }")
            return nil
        }
        guard let number = Int(parts.first ?? "") else {
            reader.error("port must be a number such as 5432 or 3478/udp, found '\(text)'", at: node)
            return nil
        }
        guard PortRange.valid.contains(number) else {
            reader.error("port \(number) is out of range; ports are 1 to 65535", at: node)
            return nil
        }
        return ServicePort(target: number, published: nil, protocol: proto)
    }

    private static func portNumber(_ node: Node, at path: ModelPath, what: String, reader: DocumentReader) -> Int? {
        guard let text = reader.string(node, at: path, what: what) else { return nil }
        guard let number = Int(text) else {
            reader.error("\(what) must be a number, found '\(text)'", at: node)
            return nil
        }
        guard PortRange.valid.contains(number) else {
            reader.error("\(what) \(number) is out of range; ports are 1 to 65535", at: node)
            return nil
        }
        return number
    }

    /// `{ host: grafana, path: /, port: 3000 }`: the port must be one the stack listens on.
    static func routes(_ node: Node, ports: [ServicePort], reader: DocumentReader) -> [Route] {
        var routes: [Route] = []
        for item in reader.sequence(node, at: "routes", what: "routes") ?? [] {
            guard let fields = reader.mapping(item.node, at: item.path, what: "route", allowed: ["host", "path", "port"],
                                              required: ["host", "port"]) else { continue }
            let host = fields["host"].flatMap { node -> String? in
                guard let text = reader.string(node, at: fields.path("host"), what: "route host") else { return nil }
                if let problem = HostName.check(text) {
                    reader.error("route host \(problem.message)", at: node, fix: problem.fix)
                    return nil
                }
                return text
            }
            var path = "/"
            if let node = fields["path"], let text = reader.string(node, at: fields.path("path"), what: "route path") {
                if text.hasPrefix("/") { path = text } else {
                    reader.error("route path must start with '/', found '\(text)'", at: node, fix: "write /\(text)")
                }
            }
            let port = fields["port"].flatMap { portNumber($0, at: fields.path("port"), what: "route port", reader: reader) }
            if let port, let portNode = fields["port"], !ports.contains(where: { $0.target == port && $0.protocol == .tcp }) {
                reader.error("route port \(port) is not one of the stack's ports", at: portNode,
                             fix: ports.isEmpty ? "add \(port) to ports" : "use one of \(ports.map { String($0.target) }.joined(separator: ", ")), or add \(port) to ports")
            }
            if let host, let port { routes.append(Route(host: host, path: path, port: port)) }
        }
        return routes
    }

    /// `{ name: pgdata, path: /var/lib/postgresql/data }`.
    static func volumes(_ node: Node, reader: DocumentReader) -> [StackVolume] {
        var volumes: [StackVolume] = []
        var names: [String: Node] = [:]
        var paths: [String: Node] = [:]
        for item in reader.sequence(node, at: "volumes", what: "volumes") ?? [] {
            guard let fields = reader.mapping(item.node, at: item.path, what: "volume", allowed: ["name", "path"],
                                              required: ["name", "path"]) else { continue }
            let name = fields["name"].flatMap { reader.name($0, at: fields.path("name"), what: "volume name") }
            var path: String?
            if let node = fields["path"], let text = reader.string(node, at: fields.path("path"), what: "volume path") {
                if text.hasPrefix("/") { path = text } else {
                    reader.error("volume path must be absolute, found '\(text)'", at: node, fix: "write /\(text)")
                }
            }
            if let name, let node = fields["name"], let first = names[name] {
                reader.error("volume '\(name)' is listed twice", at: node, notes: ["first listed at \(reader.location(of: first))"])
                continue
            }
            if let path, let node = fields["path"], let first = paths[path] {
                reader.error("two volumes are mounted at \(path)", at: node, notes: ["first mounted at \(reader.location(of: first))"])
                continue
            }
            if let name, let path {
                names[name] = fields["name"]
                paths[path] = fields["path"]
                volumes.append(StackVolume(name: name, path: path))
            }
        }
        return volumes
    }

    /// Environment variables. A variable named like a secret (`*_PASSWORD`, `*_TOKEN`, ...) with a
    /// value is refused: secrets go under `secrets:`, never into a spec.
    static func environment(_ node: Node, reader: DocumentReader) -> [String: String] {
        let values = reader.stringMap(node, at: "env", what: "env", checkKey: { name in
            isEnvironmentName(name) ? nil
                : ParseProblem("'\(name)' is not a valid environment variable name", fix: "use letters, digits, '_', '.' and '-', not starting with a digit")
        }) ?? [:]
        for (name, value) in values where looksLikeSecret(name) && !value.isEmpty {
            reader.secretError("env '\(name)' holds a literal secret; secrets never belong in a spec", value: value,
                               at: reader.sourceMap.location(of: ModelPath.root / "env" / name),
                               fix: "list it under secrets: and point the image at /run/secrets/<name> (many images read \(name)_FILE)")
        }
        return values
    }

    /// Docker passes any name without '=' through; images read names like `discovery.type` too.
    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)
        }
    }

    static func looksLikeSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        guard !upper.hasSuffix("_FILE") else { return false }
        return ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY"].contains { upper.contains($0) }
    }

    /// `{ command: [...], interval: 30s, timeout: 5s, retries: 3, start_period: 1m }`.
    static func health(_ node: Node, reader: DocumentReader) -> HealthCheck? {
        let path: ModelPath = "health"
        guard let fields = reader.mapping(node, at: path, what: "health", allowed: ["command", "interval", "timeout", "retries", "start_period"],
                                          required: ["command"]) else { return nil }
        var command: [String]?
        if let node = fields["command"] {
            if case .scalar = node {
                command = reader.string(node, at: path / "command", what: "health.command").map { ["CMD-SHELL", $0] }
            } else {
                command = reader.stringList(node, at: path / "command", what: "health.command")
                if command?.isEmpty == true {
                    reader.error("health.command is empty", at: node)
                    command = nil
                }
            }
        }
        let interval = fields["interval"].map { reader.interval($0, at: path / "interval", what: "health.interval") } ?? Interval(milliseconds: 30_000)
        let timeout = fields["timeout"].map { reader.interval($0, at: path / "timeout", what: "health.timeout") } ?? Interval(milliseconds: 5_000)
        let retries = fields["retries"].map { reader.integer($0, at: path / "retries", what: "health.retries", in: 1...100) } ?? 3
        let start = fields["start_period"].map { reader.interval($0, at: path / "start_period", what: "health.start_period") }
        guard let command, let interval, let timeout, let retries, start != .some(nil) else { return nil }
        return HealthCheck(command: command, interval: interval, timeout: timeout, retries: retries, startPeriod: start ?? nil)
    }
}
