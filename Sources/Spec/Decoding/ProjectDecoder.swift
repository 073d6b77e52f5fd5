import Foundation
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

    static let stateKeys = ["backend", "url", "schema", "bucket", "prefix", "region", "endpoint", "access_key_id", "secret_access_key", "encryption"]
    /// The settings each backend takes, besides `backend` and `encryption`.
    static let backendKeys: [Project.StateBackend: [String]] = [
        .local: [],
        .postgres: ["url", "schema"],
        .s3: ["bucket", "prefix", "region", "endpoint", "access_key_id", "secret_access_key"],
    ]

    static func decodeState(_ node: Node, into state: inout Project.StateSettings, reader: DocumentReader) {
        let path: ModelPath = "state"
        guard let fields = reader.mapping(node, at: path, what: "state", allowed: stateKeys, required: ["backend"]),
              let backendNode = fields["backend"], let text = reader.string(backendNode, at: path / "backend", what: "state.backend") else { return }
        guard let backend = Project.StateBackend(rawValue: text) else {
            reader.error("state.backend must be local, postgres or s3, found '\(text)'", at: backendNode,
                         fix: Suggestion.didYouMean(text, in: Project.StateBackend.allCases.map(\.rawValue)))
            return
        }
        state.backend = backend
        for (other, keys) in backendKeys where other != backend {
            for key in keys where fields[key] != nil && !(backendKeys[backend] ?? []).contains(key) {
                let home = backend == .local ? "; the local backend keeps state in .kryoform/state/" : ""
                reader.error("'\(key)' is a setting of the \(other.rawValue) backend, not of \(backend.rawValue)\(home)", at: fields.keyNode(key) ?? node)
            }
        }
        if let encryptionNode = fields["encryption"] { state.encryption = decodeEncryption(encryptionNode, reader: reader) }
        switch backend {
        case .local: return
        case .postgres: decodePostgres(fields, node: node, into: &state, reader: reader)
        case .s3: state.s3 = decodeS3(fields, node: node, reader: reader)
        }
    }

    private static func decodePostgres(_ fields: DocumentReader.Fields, node: Node, into state: inout Project.StateSettings, reader: DocumentReader) {
        let path: ModelPath = "state"
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

    private static func decodeS3(_ fields: DocumentReader.Fields, node: Node, reader: DocumentReader) -> Project.S3Settings? {
        let path: ModelPath = "state"
        for (key, fix) in [("bucket", "add bucket: NAME (the bucket must exist)"), ("region", "add region: us-east-1 (for MinIO and most other servers, the region they are set up with)"),
                           ("access_key_id", "add access_key_id: env:AWS_ACCESS_KEY_ID"), ("secret_access_key", "add secret_access_key: env:AWS_SECRET_ACCESS_KEY")]
        where fields[key] == nil {
            reader.error("the s3 backend needs '\(key)'", at: node, fix: fix)
        }
        var bucket: String?
        if let bucketNode = fields["bucket"], let text = reader.string(bucketNode, at: path / "bucket", what: "state.bucket") {
            // S3's rule for new buckets: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.
            if text.wholeMatch(of: /[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/) != nil {
                bucket = text
            } else {
                reader.error("state.bucket must be a bucket name (3 to 63 lower-case letters, digits, dots and hyphens), found '\(text)'", at: bucketNode)
            }
        }
        var prefix = ""
        if let prefixNode = fields["prefix"], let text = reader.string(prefixNode, at: path / "prefix", what: "state.prefix") {
            let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if trimmed.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({ $0.wholeMatch(of: /[A-Za-z0-9._\-]+/) != nil }) || trimmed.isEmpty {
                prefix = trimmed
            } else {
                reader.error("state.prefix must be folder names of letters, digits, '.', '_' and '-' joined by '/', found '\(text)'", at: prefixNode, fix: "e.g. prefix: kryoform")
            }
        }
        var region: String?
        if let regionNode = fields["region"], let text = reader.string(regionNode, at: path / "region", what: "state.region") {
            if text.wholeMatch(of: /[a-z0-9\-]{2,40}/) != nil { region = text } else {
                reader.error("state.region must be a region name such as us-east-1, found '\(text)'", at: regionNode)
            }
        }
        var endpoint: String?
        if let endpointNode = fields["endpoint"], let text = reader.string(endpointNode, at: path / "endpoint", what: "state.endpoint") {
            if let url = URLComponents(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false,
               url.user == nil, url.password == nil, url.query == nil, url.path.isEmpty || url.path == "/" {
                endpoint = text.hasSuffix("/") ? String(text.dropLast()) : text
            } else {
                reader.error("state.endpoint must be the server's address, http(s)://HOST[:PORT] with no path, user or query", at: endpointNode,
                             fix: "e.g. endpoint: https://minio.internal:9000; leave it out for AWS S3")
            }
        }
        let accessKey = fields["access_key_id"].flatMap { reader.secretReference($0, at: path / "access_key_id", what: "state.access_key_id") }
        let secretKey = fields["secret_access_key"].flatMap { reader.secretReference($0, at: path / "secret_access_key", what: "state.secret_access_key") }
        guard let bucket, let region, let accessKey, let secretKey else { return nil }
        return Project.S3Settings(bucket: bucket, prefix: prefix, region: region, endpoint: endpoint, accessKeyID: accessKey, secretAccessKey: secretKey)
    }

    private static func decodeEncryption(_ node: Node, reader: DocumentReader) -> Project.StateEncryption? {
        let state: ModelPath = "state"
        let path = state / "encryption"
        guard let fields = reader.mapping(node, at: path, what: "state.encryption", allowed: ["key", "fallback_key"], required: ["key"]) else { return nil }
        let key = fields["key"].flatMap { reader.secretReference($0, at: path / "key", what: "state.encryption.key") }
        let fallback = fields["fallback_key"].flatMap { reader.secretReference($0, at: path / "fallback_key", what: "state.encryption.fallback_key") }
        guard let key else { return nil }
        if let fallback, fallback == key {
            reader.error("state.encryption.fallback_key names the same secret as key", at: fields.keyNode("fallback_key") ?? node,
                         fix: "fallback_key is the key before a rotation: name the old key there, or leave it out")
        }
        return Project.StateEncryption(key: key, fallbackKey: fallback)
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
