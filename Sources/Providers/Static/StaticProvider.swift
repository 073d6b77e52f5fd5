import Foundation
import Planner
import Spec

/// Existing machines (bare metal, VPSs bought elsewhere) given by address: kryoform makes
/// nothing at a provider and configures the hosts over SSH. Its "cloud" is empty and free.
public struct StaticProvider: CloudProvider {
    public static let region = "static"

    public init() {}

    public func catalog() async throws -> Catalog {
        Catalog(provider: "static", regions: [CatalogRegion(slug: Self.region, name: "existing hosts")], sizes: [],
                defaultImage: "", images: [], volumePricePerGiB: 0, defaultRegion: Self.region)
    }

    public func batchLimit(_ kind: ResourceKind) -> Int { 1 }

    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] { [] }

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        requests.map { .failure(Self.refusal($0.address)) }
    }

    public func update(_ request: ResourceRequest) async throws -> ObservedResource { throw Self.refusal(request.address) }

    public func delete(_ resource: ObservedResource) async throws { throw Self.refusal(resource.address) }

    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] { resources }

    static func refusal(_ address: ResourceAddress) -> ProviderError {
        ProviderError(.invalidRequest, "\(address): the static provider makes no cloud resources; its hosts exist already", nothingWasDone: true)
    }
}
