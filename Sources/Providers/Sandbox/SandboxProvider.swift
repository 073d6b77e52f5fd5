import Foundation
import Planner

/// The embedded default provider: an emulated cloud kept under `.kryoform/sandbox/`, behind the
/// same protocol as the real ones. Nodes boot asynchronously (`new`, then `active`), get
/// addresses, carry tags; the rules real clouds enforce apply (a region must offer the size, a
/// volume attaches only in its region, a network in use cannot be deleted).
public struct SandboxProvider: CloudProvider {
    public let store: SandboxStore
    public let faults: SandboxFaults
    public let catalogValue: Catalog

    public init(directory: URL, faults: SandboxFaults = SandboxFaults(), catalog: Catalog = SandboxCatalog.catalog) {
        self.store = SandboxStore(directory: directory)
        self.faults = faults
        self.catalogValue = catalog
    }

    public func catalog() async throws -> Catalog {
        try await call()
        return catalogValue
    }

    public func batchLimit(_ kind: ResourceKind) -> Int { kind == .node ? 10 : 1 }

    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] {
        try await call()
        let now = Date()
        return try store.transaction(saving: false) { cloud in
            cloud.objects(tagged: scope.tags).filter(\.kind.isCloud).compactMap { $0.observed(at: now) }
        }
    }

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        do { try await call() } catch {
            let failure = error as? ProviderError ?? ProviderError(.unavailable, "sandbox: \(error)")
            return requests.map { _ in .failure(failure) }
        }
        do {
            let results: [Result<ObservedResource, ProviderError>] = try store.transaction { cloud in
                requests.map { request in
                    if faults.failsCreate(of: request.address, counting: &cloud) {
                        return .failure(ProviderError(.failed, "sandbox: create of \(request.address) failed (injected fault)", nothingWasDone: true))
                    }
                    return Result { try make(request, in: &cloud) }.mapError {
                        $0 as? ProviderError ?? ProviderError(.failed, "sandbox: \($0)")
                    }
                }
            }
            for (request, result) in zip(requests, results) where (try? result.get()) != nil {
                await faults.hangIfAsked(after: "create", of: request.address, in: store.directory)
                await faults.pauseIfAsked(afterCreateOf: request.address, in: store.directory)
            }
            return results
        } catch {
            let failure = error as? ProviderError ?? ProviderError(.unavailable, "sandbox: \(error)")
            return requests.map { _ in .failure(failure) }
        }
    }

    private func make(_ request: ResourceRequest, in cloud: inout SandboxCloud) throws -> ObservedResource {
        let now = Date()
        var object = SandboxObject(id: "", kind: request.kind, tags: request.tags, attributes: request.attributes, details: [:],
                                   createdAt: now, readyAt: now, parentID: nil)
        switch request.kind {
        case .network:
            try checkRegion(request.attributes["region"])
        case .firewall, .sshKey:
            break
        case .node:
            try checkNode(request.attributes)
            guard let networkID = request.dependencies[.network], let network = cloud.index(of: networkID).map({ cloud.objects[$0] }) else {
                throw ProviderError(.invalidRequest, "sandbox: \(request.address) names no existing network", nothingWasDone: true)
            }
            guard network.attributes["region"] == request.attributes["region"] else {
                throw ProviderError(.invalidRequest, "sandbox: \(request.address) is in \(request.attributes["region"] ?? "?") but its network is in \(network.attributes["region"] ?? "?")", nothingWasDone: true)
            }
            object.parentID = networkID
            object.readyAt = now.addingTimeInterval(faults.provisioning)
            let number = cloud.nextID
            object.details = ["public_ipv4": "198.18.\(number / 250 % 256).\(number % 250 + 2)",
                              "private_ipv4": Self.privateAddress(in: network.attributes["cidr"], number: number)]
        case .volume:
            try checkRegion(request.attributes["region"])
            guard let sizeText = request.attributes["size_gib"], let size = Int(sizeText), (1...16_384).contains(size) else {
                throw ProviderError(.invalidRequest, "sandbox: a volume is 1 to 16384 GiB", nothingWasDone: true)
            }
            object.parentID = try attachment(for: request, in: cloud)
        case .swarm, .stack:
            throw ProviderError(.invalidRequest, "sandbox: \(request.kind.rawValue) is node configuration, not a cloud resource", nothingWasDone: true)
        }
        object.id = "sbx-\(request.kind.rawValue.replacingOccurrences(of: "_", with: "-"))-\(cloud.nextID)"
        cloud.nextID += 1
        cloud.append(object)
        return object.observed(at: now) ?? ObservedResource(address: request.address, kind: request.kind, providerID: object.id, attributes: object.attributes)
    }

    public func update(_ request: ResourceRequest) async throws -> ObservedResource {
        try await call()
        guard let id = request.current?.providerID else { throw ProviderError(.invalidRequest, "sandbox: update of \(request.address) names no resource") }
        return try store.transaction { cloud in
            guard let index = cloud.index(of: id) else { throw ProviderError(.notFound, "sandbox: \(request.address) (\(id)) does not exist") }
            var object = cloud.objects[index]
            let now = Date()
            for key in Set(request.attributes.keys).union(object.attributes.keys) where request.attributes[key] != object.attributes[key] {
                switch (object.kind, key) {
                case (.node, "size"):
                    try checkNode(request.attributes)
                    object.readyAt = now.addingTimeInterval(faults.provisioning)
                case (.node, "region"), (.node, "image"), (.node, "network"), (.network, _), (.volume, "region"):
                    throw ProviderError(.invalidRequest, "sandbox: \(key) of \(request.address) cannot change in place")
                case (.volume, "size_gib"):
                    if let old = object.attributes[key].flatMap(Int.init), let new = request.attributes[key].flatMap(Int.init), new < old {
                        throw ProviderError(.invalidRequest, "sandbox: volume \(request.address) cannot shrink from \(old) to \(new) GiB")
                    }
                case (.volume, "node"):
                    object.parentID = try attachment(for: request, in: cloud)
                default:
                    break
                }
            }
            if object.kind == .volume, let parent = object.parentID, cloud.index(of: parent) == nil {
                object.parentID = try attachment(for: request, in: cloud)
            }
            object.attributes = request.attributes
            object.tags = Array(Set(object.tags).union(request.tags)).sorted()
            cloud.modify(at: index) { $0 = object }
            return object.observed(at: now) ?? ObservedResource(address: request.address, kind: object.kind, providerID: id, attributes: object.attributes)
        }
    }

    public func delete(_ resource: ObservedResource) async throws {
        try await call()
        try store.transaction { cloud in
            guard let index = cloud.index(of: resource.providerID) else {
                throw ProviderError(.notFound, "sandbox: \(resource.address) (\(resource.providerID)) does not exist")
            }
            let object = cloud.objects[index]
            switch object.kind {
            case .network:
                let members = cloud.objects.filter { $0.kind == .node && $0.parentID == object.id }
                guard members.isEmpty else {
                    throw ProviderError(.conflict, "sandbox: network \(resource.address) is in use by \(members.count) node\(members.count == 1 ? "" : "s")",
                                        fix: "delete its nodes first")
                }
            case .node:
                // Volumes attached to a deleted node are detached, as real clouds do.
                for volume in cloud.objects.indices where cloud.objects[volume].parentID == object.id {
                    cloud.modify(at: volume) { $0.parentID = nil }
                }
            default: break
            }
            cloud.remove(at: index)
        }
        await faults.hangIfAsked(after: "delete", of: resource.address, in: store.directory)
    }

    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] {
        let wanted = Set(resources.map(\.providerID))
        let deadline = Date().addingTimeInterval(600)
        while true {
            // One listing of the scope per poll, not one call per resource.
            let listed = try await observe(scope).filter { wanted.contains($0.providerID) }
            if listed.count < wanted.count {
                let missing = wanted.subtracting(listed.map(\.providerID)).sorted()
                throw ProviderError(.notFound, "sandbox: \(missing.joined(separator: ", ")) disappeared while waiting for it to be ready")
            }
            if listed.allSatisfy({ $0.status == .ready }) { return listed }
            guard Date() < deadline else { throw ProviderError(.unavailable, "sandbox: timed out after 10 minutes waiting for nodes to be ready") }
            try await Task.sleep(nanoseconds: UInt64(max(0.02, min(faults.provisioning / 4, 1)) * 1e9))
        }
    }

    /// Latency and throttling, as every call meets them.
    private func call() async throws {
        await faults.delay()
        guard faults.throttleEvery > 0 else { return }
        let count = try store.transaction { cloud in
            cloud.requestCount += 1
            return cloud.requestCount
        }
        if count % faults.throttleEvery == 0 {
            throw ProviderError(.throttled, "sandbox: 429 Too Many Requests (injected fault)", retryAfter: 0.05, nothingWasDone: true)
        }
    }

    private func checkRegion(_ region: String?) throws {
        guard let region, catalogValue.region(region) != nil else {
            throw ProviderError(.invalidRequest, "sandbox: no region '\(region ?? "")'", nothingWasDone: true)
        }
    }

    private func checkNode(_ attributes: Attributes) throws {
        try checkRegion(attributes["region"])
        guard let slug = attributes["size"], let size = catalogValue.size(slug) else {
            throw ProviderError(.invalidRequest, "sandbox: no size '\(attributes["size"] ?? "")'", nothingWasDone: true)
        }
        guard let region = attributes["region"], size.regions.contains(region) else {
            throw ProviderError(.invalidRequest, "sandbox: size \(slug) is not available in region \(attributes["region"] ?? "")",
                                fix: "it is offered in \(size.regions.joined(separator: ", "))", nothingWasDone: true)
        }
        guard let image = attributes["image"], catalogValue.images.contains(image) else {
            throw ProviderError(.invalidRequest, "sandbox: no image '\(attributes["image"] ?? "")'",
                                fix: "images: \(catalogValue.images.joined(separator: ", "))", nothingWasDone: true)
        }
    }

    /// The node a volume attaches to: it must exist, be active, and be in the volume's region.
    private func attachment(for request: ResourceRequest, in cloud: SandboxCloud) throws -> String {
        guard let nodeAddress = request.attributes["node"], let nodeID = request.dependencies[ResourceAddress(nodeAddress)],
              let node = cloud.index(of: nodeID).map({ cloud.objects[$0] }) else {
            throw ProviderError(.invalidRequest, "sandbox: volume \(request.address) names no existing node to attach to", nothingWasDone: true)
        }
        guard node.attributes["region"] == request.attributes["region"] else {
            throw ProviderError(.invalidRequest, "sandbox: volume \(request.address) is in \(request.attributes["region"] ?? "?") and cannot attach to \(nodeAddress) in \(node.attributes["region"] ?? "?")",
                                fix: "a volume attaches only to a node in its own region", nothingWasDone: true)
        }
        guard node.isReady(at: Date()) else {
            throw ProviderError(.conflict, "sandbox: \(nodeAddress) is not active yet; a volume attaches to an active node", nothingWasDone: true)
        }
        return nodeID
    }

    static func privateAddress(in cidr: String?, number: Int) -> String {
        let base = cidr?.split(separator: "/").first.map(String.init) ?? "10.244.0.0"
        let octets = base.split(separator: ".").compactMap { Int($0) }
        guard octets.count == 4 else { return "10.244.\(number / 250 % 256).\(number % 250 + 2)" }
        let value = (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]) + 2 + number
        return "\(value >> 24 & 255).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }
}
