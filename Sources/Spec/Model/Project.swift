/// The project (`kryoform.yaml`): its name, where state is kept, and how to reach nodes over SSH.
public struct Project: Hashable, Sendable {
    public enum StateBackend: String, Hashable, Sendable, Codable, CaseIterable {
        /// One JSON file per environment under `.kryoform/state/`.
        case local
        /// Tables in a PostgreSQL database, shared by every machine that reaches it.
        case postgres
        /// Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...), written with conditional requests.
        case s3
    }

    /// s3: the bucket and how to reach it.
    public struct S3Settings: Hashable, Sendable {
        public var bucket: String
        /// Keys start `<prefix>/<project>/<environment>/`; empty for none.
        public var prefix: String
        public var region: String
        /// The server, `https://minio.internal:9000`; nil for AWS S3 in `region`.
        public var endpoint: String?
        public var accessKeyID: SecretReference
        public var secretAccessKey: SecretReference

        public init(bucket: String, prefix: String = "", region: String, endpoint: String? = nil,
                    accessKeyID: SecretReference, secretAccessKey: SecretReference) {
            self.bucket = bucket
            self.prefix = prefix
            self.region = region
            self.endpoint = endpoint
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
        }
    }

    /// Encryption at rest (`state.encryption`): every write with `key`, reads with `key` or `fallbackKey`.
    public struct StateEncryption: Hashable, Sendable {
        public var key: SecretReference
        /// The key before a rotation: accepted on read, never written with.
        public var fallbackKey: SecretReference?

        public init(key: SecretReference, fallbackKey: SecretReference? = nil) {
            self.key = key
            self.fallbackKey = fallbackKey
        }
    }

    /// Where the environments' state is kept (`state:` in kryoform.yaml).
    public struct StateSettings: Hashable, Sendable {
        public var backend: StateBackend = .local
        /// postgres: the server, `postgres://user:password@host:port/database?sslmode=...`, as a reference.
        public var url: SecretReference?
        /// postgres: the schema the tables live in.
        public var schema: String = "kryoform"
        /// s3: the bucket.
        public var s3: S3Settings?
        /// Encryption at rest, on any backend; nil for none.
        public var encryption: StateEncryption?

        public init(backend: StateBackend = .local, url: SecretReference? = nil, schema: String = "kryoform",
                    s3: S3Settings? = nil, encryption: StateEncryption? = nil) {
            self.backend = backend
            self.url = url
            self.schema = schema
            self.s3 = s3
            self.encryption = encryption
        }
    }

    public enum HostKeyPolicy: String, Hashable, Sendable, Codable, CaseIterable {
        /// Record a host's key the first time, refuse a changed one.
        case acceptNew = "accept-new"
        /// Refuse any host whose key is not already in known_hosts.
        case strict
    }

    /// Which of a cloud node's addresses kryoform connects to.
    public enum NodeAddress: String, Hashable, Sendable, Codable, CaseIterable {
        /// The public IPv4 the provider reports.
        case `public`
        /// The address inside the environment's network (kryoform runs inside that network).
        case `private`
    }

    /// A host kryoform reaches the nodes through (`ssh.via: [user@]host[:port]`), as OpenSSH's
    /// ProxyJump does: for nodes whose SSH port admits only addresses inside their network.
    public struct Bastion: Hashable, Sendable {
        /// The login user on the bastion; nil: the nodes' `ssh.user`.
        public var user: String?
        public var host: String
        public var port: Int

        public init(user: String? = nil, host: String, port: Int = 22) {
            self.user = user
            self.host = host
            self.port = port
        }

        /// Reads `[user@]host[:port]` (an IPv6 address in brackets), or says what is wrong with it.
        public static func parse(_ text: String) -> Result<Bastion, BastionSyntaxError> {
            var rest = Substring(text.trimmingCharacters(in: .whitespaces))
            var user: String?
            if let at = rest.lastIndex(of: "@") {
                user = String(rest[..<at])
                rest = rest[rest.index(after: at)...]
                if user?.isEmpty == true { return .failure(BastionSyntaxError("the user before @ is empty")) }
            }
            var host = String(rest)
            var port = 22
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return .failure(BastionSyntaxError("an IPv6 address opened with [ is not closed with ]")) }
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else { return .failure(BastionSyntaxError("after ] only :PORT may follow")) }
                    port = number
                }
            } else if let colon = rest.lastIndex(of: ":") {
                guard rest.firstIndex(of: ":") == colon else {
                    return .failure(BastionSyntaxError("an IPv6 address must be written in brackets, [ADDRESS]:PORT"))
                }
                guard let number = Int(rest[rest.index(after: colon)...]) else { return .failure(BastionSyntaxError("the port after : is not a number")) }
                host = String(rest[..<colon])
                port = number
            }
            guard !host.isEmpty else { return .failure(BastionSyntaxError("no host is named")) }
            guard (1...65535).contains(port) else { return .failure(BastionSyntaxError("port \(port) is outside 1-65535")) }
            guard !host.contains(where: { $0.isWhitespace || $0 == "/" }) else { return .failure(BastionSyntaxError("'\(host)' is not a host name or address")) }
            return .success(Bastion(user: user, host: host, port: port))
        }
    }

    /// Why an `ssh.via` value could not be read.
    public struct BastionSyntaxError: Error, Hashable, Sendable {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    public struct SSH: Hashable, Sendable {
        public var user: String = "root"
        public var port: Int = 22
        public var privateKey: SecretReference?
        public var publicKey: String?
        public var passphrase: SecretReference?
        public var hostKeyPolicy: HostKeyPolicy = .acceptNew
        public var knownHosts: String = ".kryoform/known_hosts"
        public var connectTimeout: Interval = Interval(milliseconds: 10_000)
        /// Cloud nodes only: which address to connect to.
        public var address: NodeAddress = .public
        /// Cloud nodes only: how long a node made in this run may take to answer SSH after the
        /// provider reports it running.
        public var bootTimeout: Interval = Interval(milliseconds: 300_000)
        /// The bastion every node is reached through; nil: each node directly.
        public var via: Bastion?

        public init() {}
    }

    public var name: String
    public var description: String?
    public var state: StateSettings
    public var ssh: SSH
    public var source: SourceMap

    public var stateBackend: StateBackend { state.backend }

    public init(name: String, description: String? = nil, state: StateSettings = StateSettings(), ssh: SSH = SSH(), source: SourceMap) {
        self.name = name
        self.description = description
        self.state = state
        self.ssh = ssh
        self.source = source
    }
}
