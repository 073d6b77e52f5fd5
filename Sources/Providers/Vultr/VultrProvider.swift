import Foundation
import Planner
import Synchronization

/// Vultr API v2 behind the engine's provider protocol.
///
/// How kryoform's resources map onto Vultr:
/// - `network` is a VPC whose description is `kf-<project>-<env> cidr=<the spec's CIDR>`
///   (`auto` when Vultr chose the range); VPCs have no name, so the description finds it.
/// - `firewall` is a firewall group described `kf-<project>-<env>`, with one inbound rule per
///   protocol, port and source; instances are made in the group.
/// - `ssh_key` is the project key registered as `<project>-<env>`; a key already in the account
///   with the same key material is used as it is and never deleted.
/// - `node`s are instances labelled `<project>-<env>-<cluster>-<n>` (the hostname too), one per
///   request, tagged with the project, environment, address, scope and cluster. Observation
///   lists them by the scope tag, 500 a page, following the cursor.
/// - `volume`s are block storage. Blocks take no tags, so the label carries the scope and the
///   address: `kf:<project>:<env>:volume.<cluster>.<n>.<name>`.
public struct VultrProvider: CloudProvider, HTTPCloudAdapter {
    static let providerName = "vultr"
    var pollCeiling: Double { settings.pollInterval }

    static func explain(_ failure: HTTPFailure, doing: String?) -> ProviderError {
        VultrErrors.explain(failure, doing: doing)
    }

    public struct Settings: Sendable {
        /// The longest pause between polls of instances being made; polls start at a quarter
        /// second and slow down to it.
        public var pollInterval: Double
        /// How long instances may take to become active.
        public var readyTimeout: Double
        /// How long a new instance may be missing from listings.
        public var listingLag: Double
        /// The client-side budget. Vultr answers 429 past about 30 requests a second per IP;
        /// 20 leaves room for arrival jitter and for another program on the same IP.
        public var requestsPerSecond: Int
        /// The region whose live availability (`/v2/regions/{id}/availability`) trims the
        /// catalog: plans listed for it but not deployable there now are not chosen.
        public var availabilityRegion: String?

        public init(pollInterval: Double = 2, readyTimeout: Double = 900, listingLag: Double = 10, requestsPerSecond: Int = 20,
                    availabilityRegion: String? = nil) {
            self.pollInterval = pollInterval
            self.readyTimeout = readyTimeout
            self.listingLag = listingLag
            self.requestsPerSecond = requestsPerSecond
            self.availabilityRegion = availabilityRegion
        }
    }

    /// Paths begin with `/v2/`; an environment's `endpoint:` replaces scheme, host and port.
    public static let publicEndpoint = URL(string: "https://api.vultr.com")
    /// Block storage, USD per GiB per month: the NVMe (`high_perf`) class a block gets when the
    /// create names no `block_type` (Vultr's list price is $0.10/GB; not served by the API).
    public static let volumePricePerGiB = 0.10
    public static let defaultImage = "debian-12"
    public static let defaultRegion = "ewr"

    let api: APIClient
    let settings: Settings
    let clock: TransportClock
    /// The project's public key: a key with the same key already in the account stands for it.
    let publicKey: String?
    private let catalogCache = CatalogCache()
    private let imageCache = VultrImageCache()

    public init(api: APIClient, settings: Settings = Settings(), clock: TransportClock = SystemClock(), publicKey: String? = nil) {
        self.api = api
        self.settings = settings
        self.clock = clock
        self.publicKey = publicKey
    }

    /// The adapter over the full transport stack: bearer authentication, the client-side budget
    /// of `settings.requestsPerSecond`, retries with backoff (429 and 5xx, honouring
    /// `Retry-After`), to `endpoint` or the public API.
    public static func make(apiKey: String, endpoint: URL, publicKey: String? = nil, settings: Settings = Settings(), clock: TransportClock = SystemClock(),
                            random: RandomSource = .system, retry: RetryPolicy = .standard,
                            onRetry: @escaping @Sendable (RetryEvent) -> Void = { _ in }) -> VultrProvider {
        let limiter = RateLimiter(windows: [.init(limit: max(1, settings.requestsPerSecond), seconds: 1)], clock: clock)
        let http = AsyncHTTPTransport(baseURL: endpoint, timeout: 60, userAgent: "kryoform (vultr adapter)")
        let stack = RetryingTransport(RateLimitedTransport(AuthenticatingTransport(http, bearerToken: apiKey), limiter: limiter),
                                      policy: retry, clock: clock, random: random, onRetry: onRetry)
        return VultrProvider(api: APIClient(provider: "vultr", transport: stack, errorBody: Self.errorBody), settings: settings, clock: clock,
                             publicKey: publicKey)
    }

    static func errorBody(_ data: Data) -> (id: String?, message: String?, requestID: String?) {
        guard let body = try? JSONDecoder().decode(Vultr.ErrorBody.self, from: data) else { return (nil, nil, nil) }
        return (nil, body.error, nil)
    }

    // MARK: Catalog

    public func catalog() async throws -> Catalog {
        if let cached = catalogCache.value { return cached }
        let catalog = try await explaining("reading the catalog") {
            async let plans = list(Vultr.PlanPage.self, "/v2/plans", query: [("type", "all")])
            async let regions = list(Vultr.RegionPage.self, "/v2/regions")
            async let systems = images()
            async let available = availability()
            return VultrCatalog.catalog(plans: try await plans, regions: try await regions, images: try await systems, availableIn: try await available)
        }
        catalogCache.value = catalog
        return catalog
    }

    /// The plans deployable now in `settings.availabilityRegion`; nil when none is set or the
    /// region is not Vultr's (the spec's check names the region then).
    private func availability() async throws -> (region: String, plans: Set<String>)? {
        guard let region = settings.availabilityRegion, !region.isEmpty,
              region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { return nil }
        do {
            let answer = try await api.get(Vultr.Availability.self, "/v2/regions/\(region)/availability")
            return (region, Set(answer.available_plans))
        } catch let failure as HTTPFailure where failure.status == 404 || failure.status == 400 {
            return nil
        }
    }

    /// The systems Vultr installs, read once per run (creates made together share one read).
    func images() async throws -> VultrImages {
        try await imageCache.value { [self] in VultrImages(try await list(Vultr.OSPage.self, "/v2/os")) }
    }

    public func batchLimit(_ kind: ResourceKind) -> Int { 1 }

    // MARK: Observation

    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] {
        try await explaining("listing \(scope.project)/\(scope.environment)") {
            async let instances = instances(in: scope)
            async let blocks = list(Vultr.BlockPage.self, "/v2/blocks")
            async let vpcs = list(Vultr.VPCPage.self, "/v2/vpcs")
            async let firewall = firewall(of: scope)
            async let keys = list(Vultr.SSHKeyPage.self, "/v2/ssh-keys")
            async let systems = images()
            return VultrObservation(scope: scope, instances: try await instances, blocks: try await blocks, vpcs: try await vpcs,
                                    firewall: try await firewall, keys: try await keys, images: try await systems, publicKey: publicKey).resources
        }
    }

    /// The scope's instances: one listing by tag, 500 a page.
    func instances(in scope: ResourceScope) async throws -> [Vultr.Instance] {
        try await list(Vultr.InstancePage.self, "/v2/instances", query: [("tag", VultrNaming.scopeTag(scope))])
    }

    /// The scope's firewall group and its rules, in the order Vultr lists them.
    func firewall(of scope: ResourceScope) async throws -> (group: Vultr.FirewallGroup, rules: [Vultr.FirewallRule])? {
        guard let group = try await list(Vultr.FirewallPage.self, "/v2/firewalls").first(where: { VultrNaming.describesScope($0.description, scope) }) else { return nil }
        return (group, try await rules(of: group.id))
    }

    func rules(of group: String) async throws -> [Vultr.FirewallRule] {
        try await list(Vultr.RulePage.self, "/v2/firewalls/\(group)/rules")
    }

    /// Every page of a list, 500 a page, passing each answer's `meta.links.next` back as `cursor`
    /// until it is empty. Cursors are opaque, so pages are read one after another.
    func list<Page: VultrListPage>(_ type: Page.Type, _ path: String, query: [(name: String, value: String)] = []) async throws -> [Page.Item] {
        var items: [Page.Item] = []
        var cursor: String?
        var seen: Set<String> = []
        while true {
            var pageQuery = query + [("per_page", "500")]
            if let cursor { pageQuery.append(("cursor", cursor)) }
            let page = try await api.get(type, path, query: pageQuery)
            items += page.items
            // A cursor seen before would loop forever: the listing ends there.
            guard let next = page.nextCursor, seen.insert(next).inserted else { return items }
            cursor = next
        }
    }

    // MARK: Create

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        var results: [Result<ObservedResource, ProviderError>] = []
        for request in requests {
            do {
                results.append(.success(try await explaining("creating \(request.address)") { try await createOne(request) }))
            } catch {
                results.append(.failure(Self.providerError(error)))
            }
        }
        return results
    }

    private func createOne(_ request: ResourceRequest) async throws -> ObservedResource {
        let scope = VultrNaming.scope(of: request)
        switch request.kind {
        case .network:
            let cidr = request.attributes["cidr"] ?? "auto"
            let range = cidr == "auto" ? nil : cidr.split(separator: "/")
            let body = Vultr.CreateVPC(region: request.attributes["region"] ?? "", description: VultrNaming.vpcDescription(scope, cidr: cidr),
                                       v4_subnet: range?.first.map(String.init), v4_subnet_mask: range.flatMap { $0.count > 1 ? Int($0[1]) : nil })
            let vpc = try await createOrFind(request) {
                try await api.send(Vultr.VPCAnswer.self, "POST", "/v2/vpcs", body: body).vpc
            } find: {
                try await list(Vultr.VPCPage.self, "/v2/vpcs").first { VultrNaming.describesScope($0.description, scope) }
            }
            return observed(request, id: vpc.id)
        case .firewall:
            let body = Vultr.CreateFirewall(description: VultrNaming.scopeName(scope))
            let group = try await createOrFind(request) {
                try await api.send(Vultr.FirewallAnswer.self, "POST", "/v2/firewalls", body: body).firewall_group
            } find: {
                try await list(Vultr.FirewallPage.self, "/v2/firewalls").first { VultrNaming.describesScope($0.description, scope) }
            }
            do {
                let wanted = try await wantedRules(request)
                let (delete, add) = VultrFirewallRules.changes(current: try await rules(of: group.id), wanted: wanted)
                try await changeRules(group.id, delete: delete, add: add)
            } catch {
                // The group exists: the next run adopts it by its description and sets its rules.
                throw Self.providerError(error, doing: "setting the rules of \(request.address)").afterSomethingMayHaveHappened
            }
            return observed(request, id: group.id)
        case .sshKey:
            return try await createKey(request, scope: scope)
        case .node:
            return try await createInstance(request, scope: scope)
        case .volume:
            return try await createBlock(request, scope: scope)
        case .swarm, .stack:
            throw ProviderError(.invalidRequest, "vultr: \(request.kind.rawValue) is node configuration, not a cloud resource", nothingWasDone: true)
        }
    }

    /// The project key: the account's key of that name, else one with the same key material
    /// (registered by hand: used, never renamed or deleted), else a new one.
    private func createKey(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let publicKey = request.inputs["public_key"] ?? ""
        let name = request.attributes["name"] ?? VultrNaming.scopeName(scope)
        func existing() async throws -> ObservedResource? {
            let keys = try await list(Vultr.SSHKeyPage.self, "/v2/ssh-keys")
            guard let key = keys.first(where: { $0.name == name }) ?? keys.first(where: { Naming.sameKey($0.ssh_key, publicKey) }) else { return nil }
            var resource = observed(request, id: key.id)
            if key.name != name { resource.details["shared"] = "true" }
            return resource
        }
        if let found = try await existing() { return found }
        return try await createOrFind(request) {
            let key = try await api.send(Vultr.SSHKeyAnswer.self, "POST", "/v2/ssh-keys", body: Vultr.CreateSSHKey(name: name, ssh_key: publicKey)).ssh_key
            return observed(request, id: key.id)
        } find: {
            try await existing()
        }
    }

    private func createInstance(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let image = request.attributes["image"] ?? Self.defaultImage
        let systems = try await images()
        guard let osID = systems.id(of: image) else {
            throw ProviderError(.invalidRequest, "vultr: \(request.address): Vultr installs no system named '\(image)'",
                                fix: "set provider.image to one of: \(systems.names.joined(separator: ", "))", nothingWasDone: true)
        }
        let label = VultrNaming.instanceLabel(request.address, scope: scope)
        let userData = VultrNaming.userData(scope, cluster: Naming.cluster(of: request.address), inputs: request.inputs)
        let body = Vultr.CreateInstance(
            region: request.attributes["region"] ?? "", plan: request.attributes["size"] ?? "", os_id: osID, label: label, hostname: label,
            tags: VultrNaming.instanceTags(request, scope: scope), sshkey_id: request.dependencies[.sshKey].map { [$0] } ?? [],
            attach_vpc: request.dependencies[.network].map { [$0] } ?? [], user_data: userData,
            firewall_group_id: request.dependencies[.firewall])
        let instance = try await createOrFind(request) {
            try await api.send(Vultr.InstanceAnswer.self, "POST", "/v2/instances", body: body).instance
        } find: {
            try await lookUp(label: label, scope: scope)
        }
        var resource = observed(request, id: instance.id)
        resource.status = instance.isReady ? .ready : .pending
        resource.details = VultrObservation.details(of: instance)
        return resource
    }

    /// The scope's instance labelled `label`, polled for as long as a new instance may be
    /// missing from listings.
    private func lookUp(label: String, scope: ResourceScope) async throws -> Vultr.Instance? {
        let deadline = clock.now().addingTimeInterval(settings.listingLag)
        var pauses = pauses()
        while true {
            if let found = try await instances(in: scope).first(where: { $0.label == label }) { return found }
            if clock.now() >= deadline { return nil }
            try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
        }
    }

    private func createBlock(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let region = request.attributes["region"] ?? ""
        let body = Vultr.CreateBlock(region: region, size_gb: request.attributes["size_gib"].flatMap { Int($0) } ?? 0,
                                     label: VultrNaming.blockLabel(request.address, scope: scope))
        let block = try await createOrFind(request) {
            try await api.send(Vultr.BlockAnswer.self, "POST", "/v2/blocks", body: body).block
        } find: {
            try await list(Vultr.BlockPage.self, "/v2/blocks").first { $0.label == body.label }
        }
        guard let node = request.attributes["node"], !node.isEmpty else { return observed(request, id: block.id) }
        let instanceID: String
        do {
            instanceID = try self.instanceID(for: node, in: request)
            try await attach(block.id, to: instanceID)
        } catch {
            // The block exists: the next run adopts it by its label and attaches it.
            throw Self.providerError(error, doing: "attaching \(request.address) to \(node)").afterSomethingMayHaveHappened
        }
        var resource = observed(request, id: block.id)
        resource.details["instance_id"] = instanceID
        return resource
    }

    func instanceID(for node: String, in request: ResourceRequest) throws -> String {
        guard let id = request.dependencies[ResourceAddress(node)], !id.isEmpty else {
            throw ProviderError(.invalidRequest, "vultr: \(request.address) attaches to \(node), which has no instance", nothingWasDone: true)
        }
        return id
    }

    /// Attaches a block without a restart. An attach whose answer was lost is checked on the
    /// block rather than sent again.
    func attach(_ block: String, to instance: String) async throws {
        do {
            try await api.send(HTTPRequest(method: "POST", path: "/v2/blocks/\(block)/attach",
                                           body: try APIClient.encoder.encode(Vultr.AttachBlock(instance_id: instance, live: true))))
        } catch let failure as HTTPFailure where Self.outcomeUnknown(failure) || failure.status == 400 || failure.status == 409 {
            let live = try await api.get(Vultr.BlockAnswer.self, "/v2/blocks/\(block)").block
            guard live.attachedInstance == instance else { throw failure }
        }
    }

    // MARK: Helpers

    /// The rules a firewall request asks for, the internal range read from its VPC when Vultr chose it.
    func wantedRules(_ request: ResourceRequest) async throws -> [Vultr.CreateRule] {
        var internalRange = FirewallRules.internalRange(request.attributes["internal"] ?? "")
        if internalRange == "auto", let vpcID = request.dependencies[.network] {
            internalRange = try await api.get(Vultr.VPCAnswer.self, "/v2/vpcs/\(vpcID)").vpc.range ?? "auto"
        }
        return VultrFirewallRules.inbound(request.attributes["inbound"] ?? "", internalRange: internalRange)
    }

    func changeRules(_ group: String, delete: [Int], add: [Vultr.CreateRule]) async throws {
        for rule in delete { try await deleteIgnoringAbsence("/v2/firewalls/\(group)/rules/\(rule)") }
        // One after another: Vultr lists rules in the order they were made.
        for rule in add { _ = try await api.send(Vultr.RuleAnswer.self, "POST", "/v2/firewalls/\(group)/rules", body: rule) }
    }

    func deleteIgnoringAbsence(_ path: String) async throws {
        do {
            try await api.send(HTTPRequest(method: "DELETE", path: path))
        } catch let failure as HTTPFailure where failure.status == 404 {
            // Already gone: what a delete wants.
        }
    }

}

/// The systems list, read once per run: callers that come while it is being read wait for that
/// read instead of sending their own; a failed read is forgotten, so the next caller tries again.
final class VultrImageCache: Sendable {
    private let stored = Mutex<Task<VultrImages, Error>?>(nil)

    func value(_ load: @escaping @Sendable () async throws -> VultrImages) async throws -> VultrImages {
        let task = stored.withLock { current -> Task<VultrImages, Error> in
            if let current { return current }
            let started = Task { try await load() }
            current = started
            return started
        }
        do {
            return try await task.value
        } catch {
            stored.withLock { current in if current == task { current = nil } }
            throw error
        }
    }
}
