import Foundation
import Planner

/// Node configuration on the sandbox: records the swarm and each stack deployment in the
/// sandbox's world, checking what Docker would (the managers exist and are active; a stack
/// needs a swarm). Over SSH, the Remote module does the same for real nodes.
public struct SandboxConfigurator: ResourceDriver {
    public let store: SandboxStore
    public let faults: SandboxFaults

    public init(directory: URL, faults: SandboxFaults = SandboxFaults()) {
        self.store = SandboxStore(directory: directory)
        self.faults = faults
    }

    public func batchLimit(_ kind: ResourceKind) -> Int { 1 }

    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] {
        let now = Date()
        return try store.transaction(saving: false) { cloud in
            cloud.objects(tagged: scope.tags).filter { !$0.kind.isCloud }.compactMap { $0.observed(at: now) }
        }
    }

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        await faults.delay()
        return requests.map { request in
            Result {
                try store.transaction { cloud in
                    if faults.failsCreate(of: request.address, counting: &cloud) {
                        throw ProviderError(.failed, "sandbox: deploying \(request.address) failed (injected fault)", nothingWasDone: true)
                    }
                    try check(request, in: cloud)
                    let object = SandboxObject(id: "sbx-\(request.kind.rawValue)-\(cloud.nextID)", kind: request.kind, tags: request.tags,
                                               attributes: request.attributes, details: details(request), createdAt: Date(), readyAt: Date(), parentID: nil)
                    cloud.nextID += 1
                    cloud.append(object)
                    return ObservedResource(address: request.address, kind: request.kind, providerID: object.id, attributes: object.attributes, details: object.details)
                }
            }.mapError { $0 as? ProviderError ?? ProviderError(.failed, "sandbox: \($0)") }
        }
    }

    public func update(_ request: ResourceRequest) async throws -> ObservedResource {
        await faults.delay()
        guard let id = request.current?.providerID else { throw ProviderError(.invalidRequest, "sandbox: update of \(request.address) names nothing") }
        return try store.transaction { cloud in
            guard let index = cloud.index(of: id) else { throw ProviderError(.notFound, "sandbox: \(request.address) is not deployed") }
            try check(request, in: cloud)
            cloud.modify(at: index) {
                $0.attributes = request.attributes
                $0.details = details(request)
            }
            let object = cloud.objects[index]
            return ObservedResource(address: request.address, kind: request.kind, providerID: id, attributes: object.attributes, details: object.details)
        }
    }

    public func delete(_ resource: ObservedResource) async throws {
        await faults.delay()
        try store.transaction { cloud in
            guard let index = cloud.index(of: resource.providerID) else { throw ProviderError(.notFound, "sandbox: \(resource.address) is not deployed") }
            cloud.remove(at: index)
        }
    }

    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] {
        resources
    }

    private func details(_ request: ResourceRequest) -> [String: String] {
        request.kind == .stack ? ["deployed_at": ISO8601DateFormatter().string(from: Date())] : [:]
    }

    /// What Docker would refuse: a swarm whose members are not running nodes, a stack with no swarm.
    private func check(_ request: ResourceRequest, in cloud: SandboxCloud) throws {
        let scopeTags = request.tags.filter { !$0.hasPrefix(ResourceTags.addressPrefix) }
        let objects = cloud.objects(tagged: scopeTags)
        switch request.kind {
        case .swarm:
            let members = ["managers", "workers"].flatMap { (request.attributes[$0] ?? "").split(separator: ",").map(String.init) }
            let now = Date()
            for member in members {
                let tag = ResourceTags.addressTag(ResourceAddress(member))
                guard let node = objects.first(where: { $0.kind == .node && $0.tags.contains(tag) }), node.isReady(at: now) else {
                    throw ProviderError(.conflict, "sandbox: swarm member \(member) is not a running node", nothingWasDone: true)
                }
            }
        case .stack:
            guard objects.contains(where: { $0.kind == .swarm }) else {
                throw ProviderError(.conflict, "sandbox: no swarm to deploy \(request.address) on", nothingWasDone: true)
            }
        default:
            throw ProviderError(.invalidRequest, "sandbox: \(request.kind.rawValue) is a cloud resource, not node configuration", nothingWasDone: true)
        }
    }
}
