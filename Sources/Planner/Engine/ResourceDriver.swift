/// Which resources observation lists: one environment of one project, found by its tags.
public struct ResourceScope: Hashable, Sendable, Codable {
    public var project: String
    public var environment: String

    public init(project: String, environment: String) {
        self.project = project
        self.environment = environment
    }

    public var tags: [String] { ResourceTags.scope(project: project, environment: environment) }

    public func tags(for address: ResourceAddress) -> [String] {
        ResourceTags.all(project: project, environment: environment, address: address)
    }
}

/// What a driver is asked to create or change.
public struct ResourceRequest: Hashable, Sendable {
    public var address: ResourceAddress
    public var kind: ResourceKind
    public var attributes: Attributes
    /// The tags the resource must carry (project, environment, address).
    public var tags: [String]
    /// Values needed but not compared (a public key's text).
    public var inputs: [String: String]
    /// The provider ids of the resources this one depends on, by address (the network a node
    /// joins, the node a volume attaches to).
    public var dependencies: [ResourceAddress: String]
    /// For an update: the resource as it is now.
    public var current: ObservedResource?

    /// The input under which a create carries its idempotency token: the same for every try of
    /// one planned create (retries, and an apply run again after a crash before anything was
    /// recorded), different for the next plan. Providers that take a client token (EC2's
    /// `ClientToken`) send it, so a create whose answer was lost cannot make a second resource.
    public static let idempotencyTokenInput = "idempotency_token"

    /// The input under which a node's create carries the public keys it is to trust, one a line.
    public static let authorizedKeysInput = "authorized_keys"

    /// The inputs under which a node's create carries the SSH host key kryoform made for it
    /// (the private half in OpenSSH format, and the public line): its user data installs it, so
    /// the first connection is checked against a key kryoform already knows. Never recorded.
    public static let hostKeyInput = "host_key"
    public static let hostPublicKeyInput = "host_key_public"

    /// The input under which a node's create carries the user kryoform logs in as (`ssh.user`),
    /// which its user data makes where it is not the image's own.
    public static let loginUserInput = "login_user"

    /// A token of 32 hex digits from the state the plan was made on and the address.
    public static func idempotencyToken(basis: PlanBasis, scope: ResourceScope, address: ResourceAddress) -> String {
        String(ContentHash.sha256("\(scope.project)/\(scope.environment)/\(basis.stateLineage ?? "-")/\(basis.stateSerial)/\(address.rawValue)").prefix(32))
    }

    public init(address: ResourceAddress, kind: ResourceKind, attributes: Attributes, tags: [String], inputs: [String: String] = [:],
                dependencies: [ResourceAddress: String] = [:], current: ObservedResource? = nil) {
        self.address = address
        self.kind = kind
        self.attributes = attributes
        self.tags = tags
        self.inputs = inputs
        self.dependencies = dependencies
        self.current = current
    }
}

/// The one seam between the engine and whatever makes resources real: a cloud provider's API,
/// the sandbox, or (for `swarm` and `stack`) the node configuration over SSH.
public protocol ResourceDriver: Sendable {
    /// Every resource of the scope, found by its tags.
    func observe(_ scope: ResourceScope) async throws -> [ObservedResource]
    /// Creates resources of one kind; a batch has at most `batchLimit(kind)` requests. Each
    /// request succeeds or fails on its own.
    func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>]
    /// Changes a resource in place.
    func update(_ request: ResourceRequest) async throws -> ObservedResource
    func delete(_ resource: ObservedResource) async throws
    /// Waits until every resource is ready, and returns them as they are then.
    func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource]
    /// How many creates of `kind` one request can carry (DigitalOcean: ten droplets).
    func batchLimit(_ kind: ResourceKind) -> Int
    /// What the last observation could not see, for the plan's notes (a host that did not answer).
    func observationNotes() -> [String]
    /// Closes what the driver keeps open (SSH sessions) at the end of a command.
    func finish() async
}

extension ResourceDriver {
    /// What the last observation could not see, for the plan's notes (a host that did not answer).
    public func observationNotes() -> [String] { [] }

    public func finish() async {}
}

/// A cloud provider: a driver for the cloud kinds, with the catalog that sizes and prices them.
public protocol CloudProvider: ResourceDriver {
    func catalog() async throws -> Catalog
}

/// A failure reported by a provider, in words a user can act on. Never carries a credential.
public struct ProviderError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case throttled, invalidRequest, notFound, conflict, quota, unauthorized, unavailable, failed
    }

    public var kind: Kind
    public var message: String
    public var fix: String?
    /// Seconds the provider asked to wait before trying again.
    public var retryAfter: Double?
    /// True when the provider refused before doing anything, so the same request may be sent again.
    public var nothingWasDone: Bool
    /// What the change made although part of it failed (a swarm formed without a node that never
    /// answered): the apply records it and lets the change's dependents go on, and the change
    /// still counts as failed, so the run exits non-zero and the next plan shows what is left.
    public var madeDespite: ObservedResource?

    public init(_ kind: Kind, _ message: String, fix: String? = nil, retryAfter: Double? = nil, nothingWasDone: Bool = false,
                madeDespite: ObservedResource? = nil) {
        self.kind = kind
        self.message = message
        self.fix = fix
        self.retryAfter = retryAfter
        self.nothingWasDone = nothingWasDone
        self.madeDespite = madeDespite
    }

    public var description: String { message + (fix.map { " (\($0))" } ?? "") }
}
