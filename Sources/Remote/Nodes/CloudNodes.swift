import Foundation
import Planner
import Spec

/// A cloud provider whose nodes kryoform goes on to configure over SSH. It passes every call
/// to the provider and adds what configuring the nodes needs:
///
/// - each new node gets an SSH host key made here, in its user data, and the public half is
///   pinned before the create is sent; once the node's address is known the pin goes to
///   known_hosts, so even the first connection is checked (never trust on first use);
/// - it remembers the nodes the provider reported and the changes made since, so the
///   configurator finds every node's address without asking the provider again;
/// - a node is taken out of the swarm (`retire`) before the provider deletes it, and its
///   address leaves known_hosts after.
public struct CloudNodes: CloudProvider {
    public let base: CloudProvider
    public let scope: ResourceScope
    public let ssh: Project.SSH
    public let knownHosts: KnownHosts
    public let pins: HostKeyPins
    /// Each cluster's roles, GPUs and volume names per node, from the environment.
    public let clusters: [String: (roles: [String], gpus: Int, volumes: [String])]
    /// The SSH sessions of this run: a deleted node's are closed.
    public let connections: NodeConnections?
    /// Drains a node and takes it out of the swarm, called before the provider deletes it;
    /// says whether it was a manager.
    public var retire: (@Sendable (_ address: String, _ nodes: [NodeEndpoint]) async throws -> Bool)?
    /// Joins a node that replaces a retired one to the swarm, as soon as it is ready.
    public var enroll: (@Sendable (_ node: NodeEndpoint, _ asManager: Bool, _ nodes: [NodeEndpoint]) async throws -> Void)?
    /// Mounts a volume on its node once the provider has made, grown or re-attached it
    /// (`SwarmOperations.mount`).
    public var mountVolume: (@Sendable (_ name: String, _ devices: [String], _ node: NodeEndpoint, _ nodes: [NodeEndpoint]) async throws -> Void)?
    /// Unmounts a volume on its node before the provider deletes it.
    public var unmountVolume: (@Sendable (_ name: String, _ node: NodeEndpoint, _ nodes: [NodeEndpoint]) async throws -> Void)?
    /// The cluster volumes mounted on each node, by node address (a node that does not answer is left out).
    public var readMounts: (@Sendable (_ nodes: [NodeEndpoint]) async -> [String: [String]])?
    private let directory = CloudNodeDirectory()

    public init(base: CloudProvider, environment: Environment, project: String, ssh: Project.SSH, knownHosts: KnownHosts, pins: HostKeyPins,
                connections: NodeConnections? = nil) {
        self.base = base
        self.connections = connections
        self.scope = ResourceScope(project: project, environment: environment.name)
        self.ssh = ssh
        self.knownHosts = knownHosts
        self.pins = pins
        var clusters: [String: (roles: [String], gpus: Int, volumes: [String])] = [:]
        for cluster in environment.clusters {
            var gpus = 0
            if case .neutral(_, _, _, let count) = cluster.size { gpus = count }
            clusters[cluster.name] = (cluster.roles, gpus, cluster.volumes.map(\.name))
        }
        self.clusters = clusters
    }

    public func catalog() async throws -> Catalog { try await base.catalog() }

    /// One node a request: DigitalOcean's ten-at-once create takes one user data for all ten,
    /// and each node must have a host key of its own.
    public func batchLimit(_ kind: ResourceKind) -> Int { kind == .node ? 1 : base.batchLimit(kind) }

    /// What the provider reports; each attached volume says where it is mounted on its node,
    /// as the node says (nothing where it is not mounted, or the node does not answer).
    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] {
        let base = self.base
        var resources = try await directory.refresh { try await base.observe(scope) }
        guard let readMounts, resources.contains(where: { $0.kind == .volume }) else { return resources }
        let nodes = try await endpoints()
        let holders = Set(resources.filter { $0.kind == .volume }.compactMap { $0.attributes["node"] })
        let mounts = await readMounts(nodes.filter { holders.contains($0.address) })
        for index in resources.indices where resources[index].kind == .volume {
            let name = VolumeMount.name(of: resources[index].address)
            if let node = resources[index].attributes["node"], mounts[node]?.contains(name) == true {
                resources[index].attributes[VolumeMount.attribute] = VolumeMount.mountPoint(name)
            }
        }
        return resources
    }

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        var prepared: [ResourceRequest] = []
        var refused: [ResourceAddress: ProviderError] = [:]
        for var request in requests {
            if request.kind == .node {
                let pair = HostKeyPair.generate(comment: "kryoform-host \(scope.project)/\(scope.environment) \(request.address)")
                do { try pins.add(pair.publicKeyLine, for: request.address.rawValue) } catch {
                    refused[request.address] = ProviderError(.failed, "\(request.address): cannot record the host key made for it in \(pins.path): \(error.localizedDescription)",
                                                             fix: "check that the project's .kryoform folder is writable", nothingWasDone: true)
                    continue
                }
                request.inputs[ResourceRequest.hostKeyInput] = pair.privateKeyText
                request.inputs[ResourceRequest.hostPublicKeyInput] = pair.publicKeyLine
                request.inputs[ResourceRequest.loginUserInput] = ssh.user
            }
            prepared.append(request)
        }
        var made = await base.create(prepared).makeIterator()
        var results: [Result<ObservedResource, ProviderError>] = []
        for request in requests {
            if let refusal = refused[request.address] { results.append(.failure(refusal)); continue }
            var result = made.next() ?? .failure(ProviderError(.failed, "\(request.address) was not sent"))
            if case .success(let resource) = result {
                if resource.kind == .node { await directory.record(resource, made: true) }
                if resource.kind == .volume {
                    do { result = .success(try await mounted(resource, wanted: request)) } catch {
                        result = .failure(Self.unmounted(resource, error))
                    }
                }
            }
            results.append(result)
        }
        return results
    }

    public func update(_ request: ResourceRequest) async throws -> ObservedResource {
        let resource = try await base.update(request)
        if resource.kind == .node { await directory.record(resource, made: false) }
        guard resource.kind == .volume else { return resource }
        do { return try await mounted(resource, wanted: request) } catch { throw Self.unmounted(resource, error) }
    }

    /// A volume the provider made or changed, mounted on its node where the plan asks for it
    /// (grown, when the disk grew). The provider's answer may not list the device yet: the
    /// volume is then read again.
    func mounted(_ volume: ObservedResource, wanted request: ResourceRequest) async throws -> ObservedResource {
        guard let mountVolume, request.attributes[VolumeMount.attribute] != nil, let holder = request.attributes["node"], !holder.isEmpty else { return volume }
        var volume = volume
        if VolumeMount.devices(of: volume).isEmpty {
            let base = self.base, scope = self.scope
            if let listed = try await base.observe(scope).first(where: { $0.kind == .volume && $0.providerID == volume.providerID }) {
                volume.details = volume.details.merging(listed.details) { _, listed in listed }
            }
        }
        let nodes = try await endpoints()
        guard let node = nodes.first(where: { $0.address == holder }) else {
            throw ProviderError(.failed, "\(holder) has no address to reach it on", fix: "apply again once the provider reports one")
        }
        let name = VolumeMount.name(of: volume.address)
        try await mountVolume(name, VolumeMount.devices(of: volume), node, nodes)
        volume.attributes[VolumeMount.attribute] = VolumeMount.mountPoint(name)
        return volume
    }

    /// A volume the provider holds that could not be mounted: the next plan shows it unmounted.
    static func unmounted(_ volume: ObservedResource, _ error: Error) -> ProviderError {
        let cause = SwarmConfigurator.providerError(error)
        return ProviderError(cause.kind, "\(volume.address) is made and attached, but not mounted: \(cause.message)",
                             fix: cause.fix ?? "apply again to mount it")
    }

    public func delete(_ resource: ObservedResource) async throws {
        if resource.kind == .volume, let unmountVolume, resource.attributes[VolumeMount.attribute] != nil, let holder = resource.attributes["node"] {
            let nodes = try await endpoints()
            // Unmounted first, so no filesystem is cut from under the node.
            if let node = nodes.first(where: { $0.address == holder }) {
                do { try await unmountVolume(VolumeMount.name(of: resource.address), node, nodes) } catch {
                    let cause = SwarmConfigurator.providerError(error)
                    throw ProviderError(cause.kind, "\(resource.address): cannot unmount it before it is deleted: \(cause.message)", fix: cause.fix)
                }
            }
        }
        guard resource.kind == .node else { return try await base.delete(resource) }
        if let retire {
            let wasManager = try await retire(resource.address.rawValue, try await endpoints())
            await directory.retired(resource.address, wasManager: wasManager)
        }
        try await base.delete(resource)
        await directory.forget(resource.address)
        try? pins.remove(resource.address.rawValue)
        // The address may go to someone else's machine next: what was recorded for it is not ours.
        for host in Set([resource.details["public_ipv4"], resource.details["private_ipv4"]].compactMap { $0 }) {
            try? knownHosts.replace(host: host, port: ssh.port, with: [])
            await connections?.forget(host: host, port: ssh.port)
        }
    }

    /// Waits as the provider does; a node that replaces a retired one then joins the swarm in
    /// its place (configured as soon as it is ready, not when the swarm resource's turn comes).
    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] {
        let ready = try await base.waitUntilReady(resources, scope: scope)
        for resource in ready where resource.kind == .node { await directory.record(resource, made: false) }
        guard let enroll else { return ready }
        for resource in ready where resource.kind == .node {
            guard let asManager = await directory.replacing(resource.address) else { continue }
            let nodes = try await endpoints()
            guard let node = nodes.first(where: { $0.address == resource.address.rawValue }) else {
                throw ProviderError(.failed, "\(resource.address): the provider reports no address to reach it on", fix: "apply again once it has one")
            }
            do { try await enroll(node, asManager, nodes) } catch { throw SwarmConfigurator.providerError(error) }
            await directory.enrolled(resource.address)
        }
        return ready
    }

    public func observationNotes() -> [String] { base.observationNotes() }

    public func finish() async { await base.finish() }

    /// A node's GPUs: its cluster's neutral size says how many; a size given by slug, the
    /// catalog's offering of that slug (read once a run).
    func gpus(of node: ObservedResource, cluster: String, sizes: [String: Int]) -> Int {
        if let count = clusters[cluster]?.gpus, count > 0 { return count }
        return node.attributes["size"].flatMap { sizes[$0] } ?? 0
    }

    /// The nodes as the configurator reaches them, in address order: at the address the
    /// provider reports (public IPv4, or the private one with `ssh.address: private`), as
    /// `ssh.user` on `ssh.port`. A node with no address yet is left out. A node made in this
    /// run is given `ssh.boot_timeout` to answer; its pinned host key goes to known_hosts first.
    public func endpoints() async throws -> [NodeEndpoint] {
        let base = self.base, scope = self.scope
        let (nodes, made) = try await directory.current { try await base.observe(scope) }
        let sizes = nodes.isEmpty ? [:] : try await directory.gpusBySize { try await base.catalog() }
        var endpoints: [NodeEndpoint] = []
        for node in nodes.sorted(by: { $0.address < $1.address }) {
            let publicAddress = node.details["public_ipv4"], privateAddress = node.details["private_ipv4"]
            guard let host = ssh.address == .private ? privateAddress : publicAddress, !host.isEmpty else { continue }
            let pinned = pins.keys(for: node.address.rawValue)
            if !pinned.isEmpty {
                try knownHosts.replace(host: host, port: ssh.port, with: pinned)
                try pins.remove(node.address.rawValue)
            }
            let cluster = node.address.segments.count > 1 ? String(node.address.segments[1]) : ""
            let patience: Duration = made.contains(node.address) ? .milliseconds(ssh.bootTimeout.milliseconds) : .zero
            endpoints.append(NodeEndpoint(address: node.address.rawValue,
                                          target: SSHTarget(name: node.address.rawValue, host: host, port: ssh.port, user: ssh.user),
                                          roles: clusters[cluster]?.roles ?? [], advertiseAddress: privateAddress ?? host,
                                          firstBoot: FirstBoot(sshPatience: patience), gpus: gpus(of: node, cluster: cluster, sizes: sizes),
                                          volumes: clusters[cluster]?.volumes ?? []))
        }
        return endpoints
    }
}

/// The node resources the provider last reported, kept current by the changes of this run.
actor CloudNodeDirectory {
    private var nodes: [ResourceAddress: ObservedResource] = [:]
    private var made: Set<ResourceAddress> = []
    private var reading: Task<[ObservedResource], Error>?
    private var read = false
    /// Nodes retired in this run whose replacement is to take their place, and whether as a manager.
    private var retiredRoles: [ResourceAddress: Bool] = [:]

    /// GPUs per size slug, from the catalog, read once.
    private var sizes: [String: Int]?

    func gpusBySize(_ catalog: @Sendable () async throws -> Catalog) async throws -> [String: Int] {
        if let sizes { return sizes }
        let read = Dictionary(try await catalog().sizes.map { ($0.slug, $0.gpu) }, uniquingKeysWith: { first, _ in first })
        sizes = read
        return read
    }

    func retired(_ address: ResourceAddress, wasManager: Bool) { retiredRoles[address] = wasManager }

    func replacing(_ address: ResourceAddress) -> Bool? { retiredRoles[address] }

    func enrolled(_ address: ResourceAddress) { retiredRoles[address] = nil }

    /// A new observation, or the one under way (the plan's listing and the configurator's
    /// lookup of addresses, asked for at once, share one).
    func refresh(_ list: @escaping @Sendable () async throws -> [ObservedResource]) async throws -> [ObservedResource] {
        if let reading { return try await reading.value }
        // The nodes are stored before the task ends, so every caller awaiting it finds them.
        let task = Task {
            let resources = try await list()
            self.store(resources)
            return resources
        }
        reading = task
        defer { reading = nil }
        return try await task.value
    }

    private func store(_ resources: [ObservedResource]) {
        nodes = Dictionary(resources.filter { $0.kind == .node }.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        read = true
    }

    /// The nodes known now (listing them first if nothing was listed yet), and which were made in this run.
    func current(_ list: @escaping @Sendable () async throws -> [ObservedResource]) async throws -> (nodes: [ObservedResource], made: Set<ResourceAddress>) {
        if !read || reading != nil { _ = try await refresh(list) }
        return (Array(nodes.values), made)
    }

    func record(_ node: ObservedResource, made madeNow: Bool) {
        var node = node
        // A create's answer may not carry the addresses yet; a later answer that does wins.
        if let known = nodes[node.address], known.providerID == node.providerID {
            node.details = known.details.merging(node.details) { _, new in new }
        }
        nodes[node.address] = node
        if madeNow { made.insert(node.address) }
    }

    func forget(_ address: ResourceAddress) {
        nodes[address] = nil
        made.remove(address)
    }
}
