import Foundation
import Planner
import Remote
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

    /// The hosts as the configurator reaches them: `node.<name>`, the host's own user and port
    /// or the project's.
    public static func endpoints(_ hosts: [StaticHost], ssh: Project.SSH) -> [NodeEndpoint] {
        hosts.map { host in
            NodeEndpoint(address: ResourceAddress.node(host: host.name).rawValue,
                         target: SSHTarget(name: host.name, host: host.address, port: host.port ?? ssh.port, user: host.user ?? ssh.user),
                         roles: host.roles)
        }
    }
}
