import Yams

/// Decodes `kryoform.yaml` into a `Project`.
enum ProjectDecoder {
    static let keys = ["project", "description", "state", "ssh"]
    static let sshKeys = ["user", "port", "private_key", "public_key", "passphrase", "host_key_policy", "known_hosts", "connect_timeout", "address", "boot_timeout", "via"]

    static func decode(_ node: Node, reader: DocumentReader) -> Project? {
        guard let fields = reader.mapping(node, at: .root, what: "project", allowed: keys, required: ["project"]) else { return nil }
        let name = fields["project"].flatMap { reader.name($0, at: "project", what: "project name") }
        let description = fields["description"].flatMap { reader.optionalString($0, at: "description", what: "description") }
        var backend = Project.StateBackend.local
        if let node = fields["state"],
           let state = reader.mapping(node, at: "state", what: "state", allowed: ["backend"], required: ["backend"]),
           let backendNode = state["backend"] {
            if let text = reader.string(backendNode, at: "state.backend", what: "state.backend") {
                if let parsed = Project.StateBackend(rawValue: text) {
                    backend = parsed
                } else if ["s3", "postgres"].contains(text) {
                    reader.error("state backend '\(text)' is not available yet; state is kept locally", at: backendNode,
                                 fix: "use backend: local")
                } else {
                    reader.error("state.backend must be local, found '\(text)'", at: backendNode)
                }
            }
        }
        var ssh = Project.SSH()
        if let node = fields["ssh"] { decodeSSH(node, into: &ssh, reader: reader) }
        guard let name else { return nil }
        return Project(name: name, description: description, stateBackend: backend, ssh: ssh, source: SourceMap(file: reader.file))
    }

    private static func decodeSSH(_ node: Node, into ssh: inout Project.SSH, reader: DocumentReader) {
        let path: ModelPath = "ssh"
        guard let fields = reader.mapping(node, at: path, what: "ssh", allowed: sshKeys) else { return }
        if let node = fields["user"], let user = reader.string(node, at: path / "user", what: "ssh.user") { ssh.user = user }
        if let node = fields["port"], let port = reader.integer(node, at: path / "port", what: "ssh.port", in: 1...65535) { ssh.port = port }
        if let node = fields["private_key"] { ssh.privateKey = reader.secretReference(node, at: path / "private_key", what: "ssh.private_key") }
        if let node = fields["public_key"] { ssh.publicKey = reader.string(node, at: path / "public_key", what: "ssh.public_key") }
        if let node = fields["passphrase"] { ssh.passphrase = reader.secretReference(node, at: path / "passphrase", what: "ssh.passphrase") }
        if let node = fields["host_key_policy"],
           let policy = reader.choice(node, at: path / "host_key_policy", what: "ssh.host_key_policy", as: Project.HostKeyPolicy.self) {
            ssh.hostKeyPolicy = policy
        }
        if let node = fields["known_hosts"], let file = reader.string(node, at: path / "known_hosts", what: "ssh.known_hosts") { ssh.knownHosts = file }
        if let node = fields["connect_timeout"], let timeout = reader.interval(node, at: path / "connect_timeout", what: "ssh.connect_timeout") {
            ssh.connectTimeout = timeout
        }
        if let node = fields["address"], let address = reader.choice(node, at: path / "address", what: "ssh.address", as: Project.NodeAddress.self) {
            ssh.address = address
        }
        if let node = fields["boot_timeout"], let timeout = reader.interval(node, at: path / "boot_timeout", what: "ssh.boot_timeout") {
            ssh.bootTimeout = timeout
        }
        if let node = fields["via"], let text = reader.string(node, at: path / "via", what: "ssh.via") {
            switch Project.Bastion.parse(text) {
            case .success(let bastion): ssh.via = bastion
            case .failure(let error):
                reader.error("ssh.via must be [user@]host[:port], found '\(text)': \(error.reason)", at: node,
                             fix: "e.g. via: ops@bastion.example.com:2222")
            }
        }
    }
}
