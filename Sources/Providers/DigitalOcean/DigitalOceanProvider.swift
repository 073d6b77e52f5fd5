import Foundation
import Planner
import Synchronization

/// DigitalOcean API v2 behind the engine's provider protocol.
///
/// How kryoform's resources map onto DigitalOcean:
/// - `network` is a VPC named `kf-<project>-<env>`; its description records the CIDR the spec
///   asked for (`auto` when DigitalOcean chose it).
/// - `firewall` is a cloud firewall of the same name that follows the droplet tag
///   `kf-scope:<project>:<env>`.
/// - `ssh_key` is the project key registered as `<project>-<env>`; a key already in the account
///   (registered by hand) is used as it is and never deleted.
/// - `node`s are droplets named `<project>-<env>-<cluster>-<n>`, created up to ten per request
///   with `names[]`. One `tags[]` applies to every droplet of such a request, so droplets carry
///   the project, environment, scope and cluster tags, and their address is read back from the
///   name. Observation lists them by the scope tag, 200 a page.
/// - `volume`s carry all three tags, address included, and are attached through volume actions.
public struct DigitalOceanProvider: CloudProvider, HTTPCloudAdapter {
    static let providerName = "digitalocean"
    var pollCeiling: Double { settings.pollInterval }

    static func explain(_ failure: HTTPFailure, doing: String?) -> ProviderError {
        DigitalOceanErrors.explain(failure, doing: doing)
    }

    public struct Settings: Sendable {
        /// The longest pause between polls of droplets being made and actions in progress; polls
        /// start at a quarter second and slow down to it.
        public var pollInterval: Double
        /// How long droplets may take to become active.
        public var readyTimeout: Double
        /// How long a new droplet may be missing from listings (DigitalOcean's lists lag creates).
        public var listingLag: Double

        public init(pollInterval: Double = 2, readyTimeout: Double = 900, listingLag: Double = 10) {
            self.pollInterval = pollInterval
            self.readyTimeout = readyTimeout
            self.listingLag = listingLag
        }
    }

    public static let publicEndpoint = URL(string: "https://api.digitalocean.com")
    /// Block storage list price, USD per GiB per month (not served by the API).
    public static let volumePricePerGiB = 0.10
    public static let defaultImage = "debian-12-x64"

    let api: APIClient
    let settings: Settings
    let clock: TransportClock
    /// The project's public key: a key with the same key already in the account stands for it.
    let publicKey: String?
    private let catalogCache = CatalogCache()

    public init(api: APIClient, settings: Settings = Settings(), clock: TransportClock = SystemClock(), publicKey: String? = nil) {
        self.api = api
        self.settings = settings
        self.clock = clock
        self.publicKey = publicKey
    }

    /// The adapter over the full transport stack: authentication, DigitalOcean's rate limits
    /// (250 a minute, 5,000 an hour), retries with backoff, to `endpoint` or the public API.
    public static func make(token: String, endpoint: URL, publicKey: String? = nil, settings: Settings = Settings(), clock: TransportClock = SystemClock(),
                            random: RandomSource = .system, retry: RetryPolicy = .standard,
                            onRetry: @escaping @Sendable (RetryEvent) -> Void = { _ in }) -> DigitalOceanProvider {
        let limiter = RateLimiter(windows: [.init(limit: 250, seconds: 60), .init(limit: 5_000, seconds: 3_600)], clock: clock)
        let http = AsyncHTTPTransport(baseURL: endpoint, timeout: 60, userAgent: "kryoform (digitalocean adapter)")
        let stack = RetryingTransport(RateLimitedTransport(AuthenticatingTransport(http, bearerToken: token), limiter: limiter),
                                      policy: retry, clock: clock, random: random, onRetry: onRetry)
        return DigitalOceanProvider(api: APIClient(provider: "digitalocean", transport: stack, errorBody: Self.errorBody), settings: settings, clock: clock,
                                    publicKey: publicKey)
    }

    static func errorBody(_ data: Data) -> (id: String?, message: String?, requestID: String?) {
        guard let body = try? JSONDecoder().decode(DO.ErrorBody.self, from: data) else { return (nil, nil, nil) }
        return (body.id, body.message, body.request_id)
    }

    // MARK: Catalog

    public func catalog() async throws -> Catalog {
        if let cached = catalogCache.value { return cached }
        let catalog = try await explaining("reading the catalog") {
            async let sizes = list(DO.SizePage.self, "/v2/sizes")
            async let regions = list(DO.RegionPage.self, "/v2/regions")
            return Self.catalog(sizes: try await sizes, regions: try await regions)
        }
        catalogCache.value = catalog
        return catalog
    }

    static func catalog(sizes: [DO.Size], regions: [DO.Region]) -> Catalog {
        let offerings = sizes.filter { $0.available && !$0.regions.isEmpty }.map { size in
            let gpu = size.gpu_info?.count ?? 0
            let model = size.gpu_info.flatMap { info -> String? in
                guard let name = info.model else { return nil }
                guard let amount = info.vram?.amount else { return name }
                let unit = info.vram?.unit.map { $0.lowercased() == "gib" ? "GiB" : $0.uppercased() } ?? "GB"
                return "\(name) \(amount) \(unit)"
            }
            return SizeOffering(slug: size.slug, cpu: size.vcpus, memory: .mebibytes(Int64(size.memory)), disk: .gibibytes(Int64(size.disk)),
                                gpu: gpu, gpuModel: gpu > 0 ? model : nil, monthlyPrice: size.price_monthly, regions: size.regions.sorted())
        }
        return Catalog(provider: "digitalocean", currency: "USD",
                       regions: regions.map { CatalogRegion(slug: $0.slug, name: $0.name, available: $0.available) },
                       sizes: offerings, defaultImage: defaultImage, images: [defaultImage],
                       volumePricePerGiB: volumePricePerGiB, defaultRegion: "nyc3")
    }

    public func batchLimit(_ kind: ResourceKind) -> Int { kind == .node ? 10 : 1 }

    // MARK: Observation

    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] {
        try await explaining("listing \(scope.project)/\(scope.environment)") {
            async let droplets = droplets(in: scope)
            async let volumes = list(DO.VolumePage.self, "/v2/volumes")
            async let vpcs = list(DO.VPCPage.self, "/v2/vpcs")
            async let firewalls = list(DO.FirewallPage.self, "/v2/firewalls")
            async let keys = list(DO.SSHKeyPage.self, "/v2/account/keys")
            return Observation(scope: scope, droplets: try await droplets, volumes: try await volumes, vpcs: try await vpcs,
                               firewalls: try await firewalls, keys: try await keys, publicKey: publicKey).resources
        }
    }

    /// The scope's droplets: one listing by tag, 200 a page.
    func droplets(in scope: ResourceScope) async throws -> [DO.Droplet] {
        try await list(DO.DropletPage.self, "/v2/droplets", query: [("tag_name", Naming.scopeTag(scope))])
    }

    /// Every page of a list, 200 a page. The first answer's `meta.total` says how many pages
    /// there are, so the others are asked for together; without it, `links.pages.next` is followed.
    func list<Page: DOListPage>(_ type: Page.Type, _ path: String, query: [(name: String, value: String)] = []) async throws -> [Page.Item] {
        let perPage = 200
        func fetch(_ page: Int) async throws -> Page {
            var pageQuery = query + [("per_page", String(perPage))]
            if page > 1 { pageQuery.append(("page", String(page))) }
            return try await api.get(type, path, query: pageQuery)
        }
        let first = try await fetch(1)
        guard let next = first.nextPage, next > 1 else { return first.items }
        if let total = first.meta?.total, total > perPage {
            let pages = (total + perPage - 1) / perPage
            let rest = try await withThrowingTaskGroup(of: (Int, [Page.Item]).self) { group in
                for page in 2...pages { group.addTask { (page, try await fetch(page).items) } }
                var collected: [Int: [Page.Item]] = [:]
                for try await (page, items) in group { collected[page] = items }
                return collected
            }
            return first.items + (2...pages).flatMap { rest[$0] ?? [] }
        }
        var items = first.items
        var page = next
        while true {
            let answer = try await fetch(page)
            items += answer.items
            guard let following = answer.nextPage, following > page else { return items }
            page = following
        }
    }

    // MARK: Create

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        guard let kind = requests.first?.kind else { return [] }
        if kind == .node { return await createDroplets(requests) }
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
        let scope = Naming.scope(of: request)
        switch request.kind {
        case .network:
            let cidr = request.attributes["cidr"] ?? "auto"
            let body = DO.CreateVPC(name: Naming.scopeName(scope), region: request.attributes["region"] ?? "",
                                    description: Naming.vpcDescription(scope, cidr: cidr), ip_range: cidr == "auto" ? nil : cidr)
            let vpc = try await createOrFind(request) {
                try await api.send(DO.VPCAnswer.self, "POST", "/v2/vpcs", body: body).vpc
            } find: {
                try await list(DO.VPCPage.self, "/v2/vpcs").first { $0.name == body.name }
            }
            return observed(request, id: vpc.id)
        case .firewall:
            let body = try await firewallBody(request, scope: scope)
            // A firewall may only name tags that exist.
            do {
                try await api.send(HTTPRequest(method: "POST", path: "/v2/tags", body: try APIClient.encoder.encode(DO.Tag(name: Naming.scopeTag(scope))),
                                               retry: .idempotent))
            } catch let failure as HTTPFailure where failure.status == 422 {
                // It exists already.
            }
            let firewall = try await createOrFind(request) {
                try await api.send(DO.FirewallAnswer.self, "POST", "/v2/firewalls", body: body).firewall
            } find: {
                try await list(DO.FirewallPage.self, "/v2/firewalls").first { $0.name == body.name }
            }
            return observed(request, id: firewall.id)
        case .sshKey:
            let publicKey = request.inputs["public_key"] ?? ""
            let name = request.attributes["name"] ?? Naming.scopeName(scope)
            do {
                let key = try await api.send(DO.SSHKeyAnswer.self, "POST", "/v2/account/keys",
                                             body: DO.CreateSSHKey(name: name, public_key: publicKey)).ssh_key
                return observed(request, id: String(key.id))
            } catch let failure as HTTPFailure where failure.status == 422 || failure.status == nil || (failure.status ?? 0) >= 500 {
                // The key is already in the account (registered by hand, or by the request that just failed).
                let keys = try await list(DO.SSHKeyPage.self, "/v2/account/keys")
                guard let key = keys.first(where: { $0.name == name }) ?? keys.first(where: { Naming.sameKey($0.public_key, publicKey) }) else { throw failure }
                var resource = observed(request, id: String(key.id))
                if key.name != name { resource.details["shared"] = "true" }
                return resource
            }
        case .volume:
            return try await createVolume(request, scope: scope)
        case .node, .swarm, .stack:
            throw ProviderError(.invalidRequest, "digitalocean: \(request.kind.rawValue) is not created one at a time", nothingWasDone: true)
        }
    }

    private func createVolume(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let region = request.attributes["region"] ?? ""
        let body = DO.CreateVolume(name: Naming.volumeName(request.address, scope: scope),
                                   size_gigabytes: request.attributes["size_gib"].flatMap { Int($0) } ?? 0, region: region,
                                   description: "kryoform \(request.address.rawValue)", tags: request.tags + [Naming.scopeTag(scope)])
        let volume = try await createOrFind(request) {
            try await api.send(DO.VolumeAnswer.self, "POST", "/v2/volumes", body: body).volume
        } find: {
            try await list(DO.VolumePage.self, "/v2/volumes").first { $0.name == body.name && $0.region?.slug == region }
        }
        guard let node = request.attributes["node"], !node.isEmpty else { return observed(request, id: volume.id) }
        let dropletID: Int
        do {
            dropletID = try self.dropletID(for: node, in: request)
            try await volumeAction(volume.id, DO.VolumeAction(type: "attach", droplet_id: dropletID, region: region))
        } catch {
            // The volume exists: the next run adopts it by tag and attaches it.
            throw Self.providerError(error, doing: "attaching \(request.address) to \(node)").afterSomethingMayHaveHappened
        }
        var resource = observed(request, id: volume.id)
        resource.details["droplet_id"] = String(dropletID)
        return resource
    }

    private func dropletID(for node: String, in request: ResourceRequest) throws -> Int {
        guard let text = request.dependencies[ResourceAddress(node)], let id = Int(text) else {
            throw ProviderError(.invalidRequest, "digitalocean: \(request.address) attaches to \(node), which has no droplet", nothingWasDone: true)
        }
        return id
    }

    /// Creates droplets, up to ten a request: one request per group of nodes that share
    /// region, size, image, network and key (a cluster), since `names[]` shares every other field.
    private func createDroplets(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        var order: [String] = []
        var groups: [String: [ResourceRequest]] = [:]
        for request in requests {
            let attributes = request.attributes
            let key = [Naming.cluster(of: request.address), attributes["size"], attributes["region"], attributes["image"],
                       request.dependencies[.network], request.dependencies[.sshKey]].map { $0 ?? "" }.joined(separator: "\u{1}")
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(request)
        }
        var results: [ResourceAddress: Result<ObservedResource, ProviderError>] = [:]
        await withTaskGroup(of: [(ResourceAddress, Result<ObservedResource, ProviderError>)].self) { tasks in
            for key in order {
                guard let group = groups[key] else { continue }
                for chunk in stride(from: 0, to: group.count, by: 10).map({ Array(group[$0..<min($0 + 10, group.count)]) }) {
                    tasks.addTask { await createDropletBatch(chunk) }
                }
            }
            for await batch in tasks {
                for (address, result) in batch { results[address] = result }
            }
        }
        return requests.map { results[$0.address] ?? .failure(ProviderError(.failed, "digitalocean: \($0.address) was not sent")) }
    }

    private func createDropletBatch(_ requests: [ResourceRequest]) async -> [(ResourceAddress, Result<ObservedResource, ProviderError>)] {
        guard let first = requests.first else { return [] }
        let scope = Naming.scope(of: first)
        let names = requests.map { Naming.dropletName($0.address, scope: scope) }
        let byName = Dictionary(uniqueKeysWithValues: zip(names, requests))
        let cluster = Naming.cluster(of: first.address)
        let body = DO.CreateDroplets(
            names: names, region: first.attributes["region"] ?? "", size: first.attributes["size"] ?? "", image: first.attributes["image"] ?? "",
            ssh_keys: first.dependencies[.sshKey].map { [$0] } ?? [], tags: Naming.dropletTags(scope, cluster: cluster),
            user_data: Naming.userData(scope, cluster: cluster, inputs: first.inputs), vpc_uuid: first.dependencies[.network], monitoring: false)
        var made: [String: DO.Droplet] = [:]
        var failure: ProviderError?
        do {
            let answer = try await api.send(DO.DropletsCreated.self, "POST", "/v2/droplets", body: body)
            for droplet in (answer.droplets ?? []) + (answer.droplet.map { [$0] } ?? []) { made[droplet.name] = droplet }
        } catch let error as HTTPFailure where Self.outcomeUnknown(error) {
            // The request may or may not have made droplets: look them up by tag. Those not
            // found are not sent again on a guess (a listing can lag): the next run plans them
            // from what exists then, and adopts any that appear.
            failure = Self.providerError(error, doing: "creating droplets \(names.joined(separator: ", "))").afterSomethingMayHaveHappened
            do {
                made = try await lookUp(names: Set(names), scope: scope)
            } catch {
                failure = Self.providerError(error, doing: "looking up droplets \(names.joined(separator: ", ")) after their create failed").afterSomethingMayHaveHappened
            }
        } catch {
            failure = Self.providerError(error, doing: "creating droplets \(names.joined(separator: ", "))")
        }
        return names.map { name in
            let request = byName[name] ?? first
            if let droplet = made[name] {
                var resource = observed(request, id: String(droplet.id))
                resource.status = droplet.status == "active" ? .ready : .pending
                resource.details = Observation.details(of: droplet)
                return (request.address, .success(resource))
            }
            return (request.address, .failure(failure ?? ProviderError(.unavailable, "digitalocean: droplet \(name) was not in the answer to its create; the next run adopts it if it exists")))
        }
    }

    /// The droplets named `names` in the scope's listing, polled for as long as a new droplet may
    /// be missing from it.
    private func lookUp(names: Set<String>, scope: ResourceScope) async throws -> [String: DO.Droplet] {
        let deadline = clock.now().addingTimeInterval(settings.listingLag)
        var pauses = pauses()
        while true {
            let found = try await droplets(in: scope).filter { names.contains($0.name) }
            let byName = Dictionary(found.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            if byName.count == names.count || clock.now() >= deadline { return byName }
            try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
        }
    }

    // MARK: Update

    public func update(_ request: ResourceRequest) async throws -> ObservedResource {
        guard let current = request.current else {
            throw ProviderError(.invalidRequest, "digitalocean: update of \(request.address) names no resource")
        }
        return try await explaining("updating \(request.address)") {
            let id = current.providerID
            switch request.kind {
            case .node:
                var resource = observed(request, id: id)
                guard let dropletID = Int(id) else { throw ProviderError(.invalidRequest, "digitalocean: \(request.address) has no droplet id") }
                let live = try await api.get(DO.DropletAnswer.self, "/v2/droplets/\(dropletID)").droplet
                resource.details = Observation.details(of: live)
                if let size = request.attributes["size"], size != live.size_slug {
                    // DigitalOcean resizes a powered-off droplet; the disk is kept so the resize can be undone.
                    if live.status != "off" { try await dropletAction(dropletID, DO.DropletAction(type: "power_off")) }
                    do {
                        try await dropletAction(dropletID, DO.DropletAction(type: "resize", size: size, disk: false))
                    } catch {
                        try? await dropletAction(dropletID, DO.DropletAction(type: "power_on"))
                        throw error
                    }
                    try await dropletAction(dropletID, DO.DropletAction(type: "power_on"))
                    resource.status = .pending
                }
                return resource
            case .volume:
                let region = request.attributes["region"] ?? ""
                if let size = request.attributes["size_gib"].flatMap({ Int($0) }), size > (current.attributes["size_gib"].flatMap { Int($0) } ?? 0) {
                    try await volumeAction(id, DO.VolumeAction(type: "resize", size_gigabytes: size, region: region))
                }
                var resource = observed(request, id: id)
                let wanted = request.attributes["node"] ?? ""
                let attached = try await api.get(DO.VolumeAnswer.self, "/v2/volumes/\(id)").volume.droplet_ids?.first
                let wantedDroplet = wanted.isEmpty ? nil : try dropletID(for: wanted, in: request)
                if attached != wantedDroplet {
                    if let attached {
                        try await volumeAction(id, DO.VolumeAction(type: "detach", droplet_id: attached, region: region))
                    }
                    if let wantedDroplet {
                        try await volumeAction(id, DO.VolumeAction(type: "attach", droplet_id: wantedDroplet, region: region))
                        resource.details["droplet_id"] = String(wantedDroplet)
                    }
                } else if let attached {
                    resource.details["droplet_id"] = String(attached)
                }
                return resource
            case .firewall:
                let body = try await firewallBody(request, scope: Naming.scope(of: request))
                _ = try await api.send(DO.FirewallAnswer.self, "PUT", "/v2/firewalls/\(id)", body: body)
                return observed(request, id: id)
            case .sshKey:
                // Names only change on kryoform's own key; a key registered by hand keeps its name.
                let live = try await api.get(DO.SSHKeyAnswer.self, "/v2/account/keys/\(id)").ssh_key
                var resource = observed(request, id: id)
                if let name = request.attributes["name"], live.name != name {
                    if live.name.hasPrefix(Naming.scope(of: request).project + "-") {
                        _ = try await api.send(DO.SSHKeyAnswer.self, "PUT", "/v2/account/keys/\(id)", body: DO.RenameSSHKey(name: name))
                    } else {
                        resource.details["shared"] = "true"
                    }
                }
                return resource
            case .network, .swarm, .stack:
                throw ProviderError(.invalidRequest, "digitalocean: \(request.address) cannot change in place; it is replaced")
            }
        }
    }

    // MARK: Delete

    public func delete(_ resource: ObservedResource) async throws {
        try await explaining("deleting \(resource.address)") {
            let id = resource.providerID
            switch resource.kind {
            case .node:
                try await deleteIgnoringAbsence("/v2/droplets/\(id)")
            case .volume:
                // DigitalOcean deletes only a detached volume: detach it from whatever it is attached to now.
                let volume: DO.Volume
                do {
                    volume = try await api.get(DO.VolumeAnswer.self, "/v2/volumes/\(id)").volume
                } catch let failure as HTTPFailure where failure.status == 404 {
                    return
                }
                for droplet in volume.droplet_ids ?? [] {
                    do {
                        try await volumeAction(id, DO.VolumeAction(type: "detach", droplet_id: droplet, region: volume.region?.slug ?? resource.attributes["region"] ?? ""))
                    } catch let failure as HTTPFailure where failure.status == 404 || failure.status == 422 {
                        // Already detached, or its droplet is gone.
                    }
                }
                try await deleteIgnoringAbsence("/v2/volumes/\(id)")
            case .firewall:
                try await deleteIgnoringAbsence("/v2/firewalls/\(id)")
            case .network:
                // Deleted droplets leave their VPC a little after the delete answers: try again for a while.
                let deadline = clock.now().addingTimeInterval(max(60, settings.pollInterval * 10))
                while true {
                    do {
                        try await deleteIgnoringAbsence("/v2/vpcs/\(id)")
                        return
                    } catch let failure as HTTPFailure where [403, 409, 422].contains(failure.status ?? 0) && clock.now() < deadline {
                        try await clock.sleep(seconds: min(1, settings.pollInterval))
                    }
                }
            case .sshKey:
                // A key that was in the account before kryoform (registered under another name) is left there.
                do {
                    let live = try await api.get(DO.SSHKeyAnswer.self, "/v2/account/keys/\(id)").ssh_key
                    if let name = resource.attributes["name"], live.name != name { return }
                } catch let failure as HTTPFailure where failure.status == 404 {
                    return
                }
                try await deleteIgnoringAbsence("/v2/account/keys/\(id)")
            case .swarm, .stack:
                throw ProviderError(.invalidRequest, "digitalocean: \(resource.kind.rawValue) is node configuration, not a cloud resource")
            }
        }
    }

    private func deleteIgnoringAbsence(_ path: String) async throws {
        do {
            try await api.send(HTTPRequest(method: "DELETE", path: path))
        } catch let failure as HTTPFailure where failure.status == 404 {
            // Already gone: what a delete wants.
        }
    }

    // MARK: Waiting

    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] {
        let nodes = resources.filter { $0.kind == .node && $0.status != .ready }
        guard !nodes.isEmpty else { return resources }
        let started = clock.now()
        var current = Dictionary(resources.map { ($0.providerID, $0) }, uniquingKeysWith: { first, _ in first })
        var pauses = pauses()
        try await explaining("waiting for \(nodes.count) droplet\(nodes.count == 1 ? "" : "s") to be active") {
            while true {
                // One listing of the scope per poll, not one request per droplet.
                var listed = Dictionary(try await droplets(in: scope).map { (String($0.id), $0) }, uniquingKeysWith: { first, _ in first })
                let elapsed = clock.now().timeIntervalSince(started)
                if elapsed > settings.listingLag {
                    // A listing may lag: past that, a droplet missing from it is asked for itself,
                    // and only a 404 means it is gone.
                    var gone: [String] = []
                    for node in nodes where listed[node.providerID] == nil {
                        do {
                            listed[node.providerID] = try await api.get(DO.DropletAnswer.self, "/v2/droplets/\(node.providerID)").droplet
                        } catch let failure as HTTPFailure where failure.status == 404 {
                            gone.append(node.providerID)
                        }
                    }
                    if !gone.isEmpty {
                        throw ProviderError(.notFound, "digitalocean: droplet\(gone.count == 1 ? "" : "s") \(gone.joined(separator: ", ")) disappeared while waiting for \(gone.count == 1 ? "it" : "them") to be active",
                                            fix: "run kryoform plan to see what exists now")
                    }
                }
                var waiting: [String] = []
                var missing: [String] = []
                for node in nodes {
                    guard let droplet = listed[node.providerID] else { missing.append(node.providerID); continue }
                    var resource = current[node.providerID] ?? node
                    resource.details = Observation.details(of: droplet)
                    resource.status = droplet.status == "active" ? .ready : .pending
                    if let size = droplet.size_slug { resource.attributes["size"] = size }
                    current[node.providerID] = resource
                    if resource.status != .ready { waiting.append(node.providerID) }
                }
                if waiting.isEmpty && missing.isEmpty { return }
                guard elapsed < settings.readyTimeout else {
                    throw ProviderError(.unavailable, "digitalocean: droplets \((waiting + missing).joined(separator: ", ")) were not active after \(Int(settings.readyTimeout)) s",
                                        fix: "look at them in the DigitalOcean console; run apply again to go on")
                }
                try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
            }
        }
        return resources.map { current[$0.providerID] ?? $0 }
    }

    // MARK: Actions

    private func dropletAction(_ id: Int, _ action: DO.DropletAction) async throws {
        let answer = try await api.send(DO.ActionAnswer.self, "POST", "/v2/droplets/\(id)/actions", body: action, retry: .idempotent)
        try await waitFor(answer.action, what: "droplet \(id) \(action.type)")
    }

    private func volumeAction(_ id: String, _ action: DO.VolumeAction) async throws {
        let answer = try await api.send(DO.ActionAnswer.self, "POST", "/v2/volumes/\(id)/actions", body: action, retry: .idempotent)
        try await waitFor(answer.action, what: "volume \(id) \(action.type)")
    }

    private func waitFor(_ action: DO.Action, what: String) async throws {
        var action = action
        let deadline = clock.now().addingTimeInterval(settings.readyTimeout)
        var pauses = pauses()
        while action.status == "in-progress" {
            guard clock.now() < deadline else {
                throw ProviderError(.unavailable, "digitalocean: \(what) (action \(action.id)) still in progress after \(Int(settings.readyTimeout)) s")
            }
            try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
            action = try await api.get(DO.ActionAnswer.self, "/v2/actions/\(action.id)").action
        }
        guard action.status == "completed" else {
            throw ProviderError(.failed, "digitalocean: \(what) (action \(action.id)) \(action.status)", fix: "see the droplet's history in the DigitalOcean console")
        }
    }

    // MARK: Firewall

    private func firewallBody(_ request: ResourceRequest, scope: ResourceScope) async throws -> DO.FirewallBody {
        var internalRange = FirewallRules.internalRange(request.attributes["internal"] ?? "")
        if internalRange == "auto", let vpcID = request.dependencies[.network] {
            internalRange = try await api.get(DO.VPCAnswer.self, "/v2/vpcs/\(vpcID)").vpc.ip_range ?? "auto"
        }
        return DO.FirewallBody(name: Naming.scopeName(scope),
                               inbound_rules: FirewallRules.inbound(request.attributes["inbound"] ?? "", internalRange: internalRange),
                               outbound_rules: FirewallRules.outbound, tags: [Naming.scopeTag(scope)])
    }
}

/// The catalog read once per run.
final class CatalogCache: Sendable {
    private let stored = Mutex<Catalog?>(nil)
    var value: Catalog? {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}
