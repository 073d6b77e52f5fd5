import Yams

/// Decodes `kryoform.yaml` into a `Project`.
enum ProjectDecoder {
    static let keys = ["project", "description", "state", "ssh"]
    static let sshKeys = ["user", "port", "private_key", "public_key", "passphrase", "host_key_policy", "known_hosts", "connect_timeout", "address", "boot_timeout", "via"]

    static func decode(_ node: Node, reader: DocumentReader) -> Project? {
        guard let fields = reader.mapping(node, at: .root, what: "project", allowed: keys, required: ["project"]) else { return nil }
        let name = fields["project"].flatMap { reader.name($0, at: "project", what: "project name") }
        let description = fields["description"].flatMap { reader.optionalString($0, at: "description", what: "description") }
        var state = Project.StateSettings()
        if let node = fields["state"] { decodeState(node, into: &state, reader: reader) }
        var ssh = Project.SSH()
        if let node = fields["ssh"] { decodeSSH(node, into: &ssh, reader: reader) }
        guard let name else { return nil }
        return Project(name: name, description: description, state: state, ssh: ssh, source: SourceMap(file: reader.file))
    }

    static let stateKeys = ["backend", "url", "schema"]

    private static func decodeState(_ node: Node, into state: inout Project.StateSettings, reader: DocumentReader) {
        let path: ModelPath = "state"
        guard let fields = reader.mapping(node, at: path, what: "state", allowed: stateKeys, required: ["backend"]),
              let backendNode = fields["backend"], let text = reader.string(backendNode, at: path / "backend", what: "state.backend") else { return }
        guard let backend = Project.StateBackend(rawValue: text) else {
            if text == "s3" {
                reader.error("state backend 's3' is not built yet", at: backendNode, fix: "use backend: postgres for shared state, or backend: local")
            } else {
                reader.error("state.backend must be local or postgres, found '\(text)'", at: backendNode,
                             fix: Suggestion.didYouMean(text, in: Project.StateBackend.allCases.map(\.rawValue)))
            }
            return
        }
        state.backend = backend
        if backend == .local {
            for key in ["url", "schema"] where fields[key] != nil {
                reader.error("'\(key)' is a setting of the postgres backend; the local backend keeps state in .kryoform/state/", at: fields.keyNode(key) ?? node)
            }
            return
        }
        if let urlNode = fields["url"] {
            state.url = reader.secretReference(urlNode, at: path / "url", what: "state.url")
        } else {
            reader.error("the postgres backend needs 'url', a reference to the server's URL", at: node,
                         fix: "add url: env:KRYOFORM_STATE_URL (postgres://USER:PASSWORD@HOST:5432/DATABASE)")
        }
        if let schemaNode = fields["schema"], let schema = reader.string(schemaNode, at: path / "schema", what: "state.schema") {
            if schema.wholeMatch(of: /[a-z_][a-z0-9_]{0,62}/) != nil {
                state.schema = schema
            } else {
                reader.error("state.schema must be a lower-case SQL name (letters, digits and _, at most 63), found '\(schema)'", at: schemaNode,
                             fix: "e.g. schema: kryoform")
            }
        }
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
