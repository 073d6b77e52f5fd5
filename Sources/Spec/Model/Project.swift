/// The project (`kryoform.yaml`): its name, where state is kept, and how to reach nodes over SSH.
public struct Project: Hashable, Sendable {
    public enum StateBackend: String, Hashable, Sendable, Codable, CaseIterable {
        /// One JSON file per environment under `.kryoform/state/`.
        case local
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

        public init() {}
    }

    public var name: String
    public var description: String?
    public var stateBackend: StateBackend
    public var ssh: SSH
    public var source: SourceMap

    public init(name: String, description: String? = nil, stateBackend: StateBackend = .local, ssh: SSH = SSH(), source: SourceMap) {
        self.name = name
        self.description = description
        self.stateBackend = stateBackend
        self.ssh = ssh
        self.source = source
    }
}
