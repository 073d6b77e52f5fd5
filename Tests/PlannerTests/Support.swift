import Foundation
@testable import Planner
import Spec

/// A small catalog for planner tests: three sizes, two regions, a GPU size in one.
let testCatalog = Catalog(
    provider: "test", regions: [CatalogRegion(slug: "nyc3", name: "New York"), CatalogRegion(slug: "ams3", name: "Amsterdam")],
    sizes: [
        SizeOffering(slug: "small", cpu: 2, memory: .gibibytes(4), disk: .gibibytes(80), monthlyPrice: 24, regions: ["nyc3", "ams3"]),
        SizeOffering(slug: "large", cpu: 8, memory: .gibibytes(16), disk: .gibibytes(320), monthlyPrice: 96, regions: ["nyc3", "ams3"]),
        SizeOffering(slug: "gpu", cpu: 8, memory: .gibibytes(64), disk: .gibibytes(500), gpu: 1, monthlyPrice: 1146, regions: ["nyc3"]),
    ],
    defaultImage: "debian-12", images: ["debian-12"], volumePricePerGiB: 0.1, defaultRegion: "nyc3")

/// Builds desired states and observations by hand.
enum World {
    static func node(_ cluster: String, _ index: Int, size: String = "small", region: String = "nyc3") -> DesiredResource {
        DesiredResource(address: .node(cluster: cluster, index: index), kind: .node,
                        attributes: ["size": size, "region": region, "image": "debian-12", "network": "10.0.0.0/16", "roles": cluster],
                        dependsOn: [.network, .sshKey])
    }

    static func volume(_ cluster: String, _ index: Int, gib: Int) -> DesiredResource {
        DesiredResource(address: .volume(cluster: cluster, index: index, name: "data"), kind: .volume,
                        attributes: ["size_gib": String(gib), "region": "nyc3", "node": ResourceAddress.node(cluster: cluster, index: index).rawValue],
                        dependsOn: [.node(cluster: cluster, index: index)])
    }

    static let network = DesiredResource(address: .network, kind: .network, attributes: ["cidr": "10.0.0.0/16", "region": "nyc3"])
    static let key = DesiredResource(address: .sshKey, kind: .sshKey, attributes: ["name": "p-e", "public_key": "SHA256:one"])

    static func desired(_ resources: [DesiredResource]) -> DesiredState {
        DesiredState(project: "p", environment: "e", provider: "test", region: "nyc3",
                     resources: resources.sorted { $0.address < $1.address }, inputs: [:])
    }

    /// The resource as the provider would report it once made as desired.
    static func observed(_ resource: DesiredResource, id: String? = nil) -> ObservedResource {
        ObservedResource(address: resource.address, kind: resource.kind, providerID: id ?? "id-\(resource.address)", attributes: resource.attributes)
    }

    /// A state recording `observed` as kryoform's.
    static func state(_ observed: [ObservedResource], dependsOn: [ResourceAddress: [ResourceAddress]] = [:]) -> State {
        var state = State(project: "p", environment: "e", lineage: "lineage-1")
        for resource in observed {
            state.record(StateResource(address: resource.address, kind: resource.kind, providerID: resource.providerID, status: .ready,
                                       attributes: resource.attributes, dependsOn: dependsOn[resource.address] ?? []))
        }
        state.serial = 3
        return state
    }

    static func plan(_ desired: [DesiredResource], observed: [ObservedResource], state: State?, mode: Plan.Mode = .normal,
                     protect: Bool = false, allowDestroy: Bool = false, targets: [ResourceAddress] = []) -> Plan {
        Planner.plan(Planner.Input(desired: World.desired(desired), observed: observed, state: state, catalog: testCatalog, mode: mode,
                                   protect: protect, allowDestroy: allowDestroy, targets: targets, specsDigest: "digest",
                                   now: Date(timeIntervalSince1970: 0)))
    }
}

extension Plan {
    func change(_ address: ResourceAddress) -> PlanChange? {
        changes.first { $0.address == address }
    }

    /// Address → action of every change that does something.
    var actions: [String: String] {
        Dictionary(changes.filter(\.doesSomething).map {
            ($0.address.rawValue + ($0.action == .delete && $0.reasons.first?.hasPrefix("duplicate") == true ? "#\($0.providerID ?? "")" : ""),
             $0.action.rawValue + ($0.stateOnly.map { "+\($0.rawValue)" } ?? ""))
        }, uniquingKeysWith: { first, _ in first })
    }
}
