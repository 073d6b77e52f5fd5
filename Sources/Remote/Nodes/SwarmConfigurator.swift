import Foundation
import Synchronization
import Planner
import Spec

/// Node configuration over SSH: the `swarm` and `stack.*` resources of an environment, observed
/// from the nodes' facts and made real with Docker and Swarm commands (the Remote module).
public struct SwarmConfigurator: ResourceDriver {
    /// Where the environment's nodes are, by address; for a cloud, read from what it reports.
    public typealias Locator = @Sendable () async throws -> [NodeEndpoint]

    public let operations: SwarmOperations
    public let locate: Locator
    public let stacks: [String: Stack]
    public let domain: String?
    /// A secret's value by its name in the stack specs.
    public let secretValue: @Sendable (String) throws -> Data
    public var deployWait: Duration = .seconds(180)
    /// Each stack's cluster volumes and where they place it (`VolumeBinding.of`), by stack name.
    public var bindings: [String: VolumeBinding] = [:]
    private let notes = NoteBoard()

    public init(operations: SwarmOperations, locate: @escaping Locator, stacks: [Stack], domain: String?,
                secretValue: @escaping @Sendable (String) throws -> Data) {
        self.operations = operations
        self.locate = locate
        self.stacks = Dictionary(stacks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.domain = domain
        self.secretValue = secretValue
    }

    public func batchLimit(_ kind: ResourceKind) -> Int { 1 }

    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] {
        let nodes = try await locate()
        try await refuseChangedHostKeys(nodes)
        var facts: [String: NodeFacts] = [:]
        var failures: [RemoteError] = []
        for (address, result) in await operations.facts(of: nodes) {
            switch result {
            case .success(let nodeFacts): facts[address] = nodeFacts
            case .failure(let error): failures.append(error)
            }
        }
        failures.sort { $0.host < $1.host }
        let managerAnswered = facts.values.contains { $0.cluster != nil }
        let anyInSwarm = facts.values.contains { $0.swarm?.isActive == true }
        // A host that does not answer is left out of the plan, with a note, where what the
        // others say is enough: a manager answered, or no host is in a swarm yet. Otherwise the
        // stacks could not be seen and the plan would be wrong.
        let refusals = failures.contains(where: \.isHostKeyRefusal)
        guard failures.isEmpty || (!refusals && (managerAnswered || (!facts.isEmpty && !anyInSwarm))) else {
            throw ProviderError(.unavailable, "cannot read the nodes' facts: " + failures.map(\.description).joined(separator: "; "),
                                fix: failures.count == 1 ? failures[0].fix : nil)
        }
        notes.set(failures.map { "\($0.description): this plan leaves that host out; apply fails for it until it answers" })
        var observed: [ObservedResource] = []
        guard let swarm = SwarmOperations.observe(facts) else { return observed }
        observed.append(Self.observed(swarm))
        let cluster = facts.values.compactMap(\.cluster).first
        for (name, services) in (cluster?.stacks ?? [:]).sorted(by: { $0.key < $1.key }) {
            let stack = DeployedStack.from(name: name, services: services)
            var attributes = stack.attributes
            if let secrets = attributes["secrets"], secretsChanged(stack: name, services: services) {
                // The plan holds no secret material, hashed or not: only that a value changed.
                attributes["secrets"] = secrets + " (a value changed)"
            }
            var details = ["tasks": stack.tasks]
            if let hash = stack.composeHash { details["compose_hash"] = String(hash.prefix(12)) }
            observed.append(ObservedResource(address: .stack(name), kind: .stack, providerID: name, attributes: attributes, details: details))
        }
        return observed
    }

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        var results: [Result<ObservedResource, ProviderError>] = []
        for request in requests {
            do { results.append(.success(try await configure(request))) } catch {
                results.append(.failure(Self.providerError(error)))
            }
        }
        return results
    }

    public func update(_ request: ResourceRequest) async throws -> ObservedResource {
        do { return try await configure(request) } catch { throw Self.providerError(error) }
    }

    public func delete(_ resource: ObservedResource) async throws {
        do {
            let nodes = try await locate()
            try await refuseChangedHostKeys(nodes)
            switch resource.kind {
            case .swarm:
                let members = Self.list(resource.attributes["managers"]) + Self.list(resource.attributes["workers"])
                let known = nodes.filter { members.contains($0.address) }
                try await operations.leave(known, managers: Set(Self.list(resource.attributes["managers"])))
            case .stack:
                let (manager, _) = try await operations.manager(among: Self.managersFirst(nodes))
                try await operations.remove(stack: resource.providerID, on: manager)
            default:
                throw ProviderError(.invalidRequest, "\(resource.address) is not node configuration", nothingWasDone: true)
            }
        } catch { throw Self.providerError(error) }
    }

    public func observationNotes() -> [String] { notes.read() }

    /// Takes the node at `address` out of the swarm before it is deleted, without stopping the
    /// environment's services: demoted where it manages (refused for the last manager while
    /// other nodes stay), drained until its tasks run elsewhere (within `deployWait`), made to
    /// leave where it still answers, then removed on another manager. A node the swarm does
    /// not list is already out, and nothing is done.
    public func retire(_ address: String, among nodes: [NodeEndpoint]) async throws {
        do {
            try await refuseChangedHostKeys(nodes)
            let leaving = nodes.first { $0.address == address }
            let others = Self.managersFirst(nodes.filter { $0.address != address })
            let found: Result<(NodeEndpoint, NodeFacts), Error>
            do { found = .success(try await operations.manager(among: others)) } catch { found = .failure(error) }
            if case .success(let (manager, facts)) = found, let cluster = facts.cluster {
                let listed = cluster.nodes.filter { $0.labels[NodeLabel.address] == address }
                guard let node = listed.first(where: { $0.state != "down" }) ?? listed.first else { return }
                try await operations.retire(node, endpoint: leaving, manager: manager, cluster: cluster, waitLimit: deployWait)
                return
            }
            // No other node manages: the leaving one may be the swarm's only manager.
            if let leaving, let facts = try? await operations.facts(of: leaving), let cluster = facts.cluster, facts.swarm?.isManager == true {
                let staying = cluster.nodes.filter { $0.labels[NodeLabel.address] != address && $0.state != "down" }
                guard staying.isEmpty else { throw RemoteError.lastManager(leaving.target.name, staying: staying.count) }
                try await operations.shell.run("docker swarm leave --force", on: leaving, mutating: true, what: "docker swarm leave (the last node)")
                return
            }
            if case .failure(let error) = found, !others.isEmpty { throw error }
        } catch { throw Self.providerError(error) }
    }

    public func finish() async { await operations.shell.connections.closeAll() }

    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] {
        resources
    }

    private func configure(_ request: ResourceRequest) async throws -> ObservedResource {
        let nodes = try await locate()
        try await refuseChangedHostKeys(nodes)
        switch request.kind {
        case .swarm:
            let byAddress = Dictionary(nodes.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
            func endpoints(_ key: String) throws -> [NodeEndpoint] {
                try Self.list(request.attributes[key]).map { address in
                    guard let node = byAddress[address] else {
                        throw ProviderError(.invalidRequest, "swarm member \(address) has no address to reach it on", nothingWasDone: true)
                    }
                    return node
                }
            }
            do {
                let swarm = try await operations.converge(DesiredSwarm(managers: try endpoints("managers"), workers: try endpoints("workers")))
                return Self.observed(swarm)
            } catch let short as SwarmShortOfNodes {
                // The nodes that failed fail the swarm; the stacks whose roles have nodes deploy.
                let error = Self.providerError(short.failure)
                throw ProviderError(error.kind, error.message, fix: error.fix, madeDespite: Self.observed(short.swarm))
            }
        case .stack:
            let name = request.address.segments.dropFirst().joined(separator: ".")
            guard let stack = stacks[name] else {
                throw ProviderError(.invalidRequest, "\(request.address): no stack \(name) in the inventory", nothingWasDone: true)
            }
            var values: [String: Data] = [:]
            var names: [String: String] = [:]
            for secret in stack.secrets {
                let value = try secretValue(secret)
                values[secret] = value
                names[secret] = StackDeployment.secretName(stack: name, secret: secret, value: value)
            }
            let deployment = StackDeployment(stack: stack, project: operations.project, environment: operations.environment,
                                             network: operations.network, domain: domain, secretNames: names, attributes: request.attributes,
                                             binding: bindings[name])
            let (manager, facts) = try await operations.manager(among: Self.managersFirst(nodes))
            guard SwarmOperations.hasNode(ofRole: stack.role, in: facts.cluster) else {
                throw ProviderError(.failed, "\(request.address): no \(stack.role) node is in the swarm, so the stack has nowhere to run",
                                    fix: "make the environment's \(stack.role) nodes answer over SSH (see why the swarm failed), then apply again",
                                    nothingWasDone: true)
            }
            let deployed = try await operations.deploy(deployment, secrets: values, on: manager, waitLimit: deployWait)
            var details = ["tasks": deployed.tasks]
            if let hash = deployed.composeHash { details["compose_hash"] = String(hash.prefix(12)) }
            return ObservedResource(address: request.address, kind: .stack, providerID: name, attributes: deployed.attributes, details: details)
        default:
            throw ProviderError(.invalidRequest, "\(request.address) is a cloud resource, not node configuration", nothingWasDone: true)
        }
    }

    /// Reaches every node before any command runs (once per run; later calls find the sessions
    /// open) and stops at a refused host key: nothing is read from or done on the other hosts
    /// of an environment one of whose hosts may be impersonated. Hosts that do not answer are
    /// left to the step that needs them, which fails for them by name.
    func refuseChangedHostKeys(_ nodes: [NodeEndpoint]) async throws {
        let refused = await operations.reach(nodes).filter(\.isHostKeyRefusal)
        guard refused.isEmpty else {
            throw ProviderError(.unavailable, "stopped before running anything on the nodes: " + refused.map(\.description).joined(separator: "; "),
                                fix: refused.count == 1 ? refused[0].fix : nil, nothingWasDone: true)
        }
    }

    /// Whether the stack's services use other Docker secrets than today's values make: a secret
    /// was rotated since the last deploy. Secrets whose value cannot be read now are not compared.
    func secretsChanged(stack name: String, services: [DeployedService]) -> Bool {
        guard let stack = stacks[name], !stack.secrets.isEmpty,
              let service = services.first(where: { $0.name == "\(name)_\(name)" }) ?? services.first else { return false }
        var expected: [String] = []
        for secret in stack.secrets {
            guard let value = try? secretValue(secret) else { return false }
            expected.append(StackDeployment.secretName(stack: name, secret: secret, value: value))
        }
        return expected.sorted() != service.secretNames
    }

    /// Management nodes first: where a manager is most likely found.
    static func managersFirst(_ nodes: [NodeEndpoint]) -> [NodeEndpoint] {
        nodes.filter { $0.roles.contains("management") } + nodes.filter { !$0.roles.contains("management") }
    }

    /// The swarm resource as read back: members in address order, every attribute present
    /// (an empty list too), so a member gone outside kryoform shows as a change.
    static func observed(_ swarm: ObservedSwarm) -> ObservedResource {
        func sorted(_ addresses: [String]) -> [String] { addresses.sorted { ResourceAddress($0) < ResourceAddress($1) } }
        let roles = sorted(Array(swarm.roles.keys)).map { "\($0)=\((swarm.roles[$0] ?? []).joined(separator: ","))" }
        return ObservedResource(address: .swarm, kind: .swarm, providerID: swarm.clusterID, attributes: [
            "managers": sorted(swarm.managers).joined(separator: ","),
            "workers": sorted(swarm.workers).joined(separator: ","),
            "roles": roles.joined(separator: " "),
        ], details: ["nodes": String(swarm.nodeIDs.count)])
    }

    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
    }

    static func providerError(_ error: Error) -> ProviderError {
        switch error {
        case let error as ProviderError: return error
        case let error as RemoteError: return ProviderError(.failed, error.host.isEmpty ? error.message : "\(error.host): \(error.message)", fix: error.fix)
        default: return ProviderError(.failed, String(describing: error))
        }
    }
}

/// Notes an observation leaves for the plan.
final class NoteBoard: Sendable {
    private let notes = Mutex<[String]>([])

    func set(_ list: [String]) { notes.withLock { $0 = list } }
    func read() -> [String] { notes.withLock { $0 } }
}
