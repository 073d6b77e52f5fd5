import Foundation
import Planner
@testable import Providers
import Testing

@Suite("The sandbox provider")
struct SandboxProviderTests {
    let scope = ResourceScope(project: "p", environment: "e")
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kf-sandbox-\(UUID().uuidString)")

    func provider(_ faults: String = "provision=50ms") throws -> SandboxProvider {
        SandboxProvider(directory: directory, faults: try SandboxFaults.parse(faults))
    }

    func request(_ address: ResourceAddress, _ kind: ResourceKind, _ attributes: Attributes, dependencies: [ResourceAddress: String] = [:]) -> ResourceRequest {
        ResourceRequest(address: address, kind: kind, attributes: attributes, tags: scope.tags(for: address), dependencies: dependencies)
    }

    func network(_ sandbox: SandboxProvider, region: String = "nyc3") async throws -> ObservedResource {
        try await sandbox.create([request(.network, .network, ["region": region, "cidr": "10.5.0.0/16"])])[0].get()
    }

    func nodeAttributes(size: String = "s-1vcpu-1gb", region: String = "nyc3") -> Attributes {
        ["size": size, "region": region, "image": "debian-12-x64", "network": "10.5.0.0/16", "roles": "app"]
    }

    @Test("a node is new, then active; observation finds it by tags with its addresses")
    func testSandbox_nodeProvisionsAsynchronously() async throws {
        let sandbox = try provider()
        let network = try await network(sandbox)
        let node = try await sandbox.create([request("node.a.1", .node, nodeAttributes(), dependencies: [.network: network.providerID])])[0].get()
        #expect(node.status == .pending)
        #expect(node.details["private_ipv4"]?.hasPrefix("10.5.0.") == true)
        let ready = try await sandbox.waitUntilReady([node], scope: scope)
        #expect(ready.first?.status == .ready)
        let listed = try await sandbox.observe(scope)
        #expect(Set(listed.map(\.address)) == [.network, "node.a.1"])
        #expect(try await sandbox.observe(ResourceScope(project: "p", environment: "other")).isEmpty)
    }

    @Test("a region must offer the size; a volume attaches only in its region; a network in use cannot be deleted")
    func testSandbox_enforcesCloudRules() async throws {
        let sandbox = try provider("provision=0ms")
        let network = try await network(sandbox)
        let gpu = await sandbox.create([request("node.ai.1", .node, nodeAttributes(size: "gpu-h100x1-80gb"), dependencies: [.network: network.providerID])])
        guard case .failure(let refused) = gpu[0] else { Issue.record("an H100 in nyc3"); return }
        #expect(refused.message == "sandbox: size gpu-h100x1-80gb is not available in region nyc3")
        #expect(refused.fix == "it is offered in nyc2, tor1, atl1")
        let node = try await sandbox.create([request("node.a.1", .node, nodeAttributes(), dependencies: [.network: network.providerID])])[0].get()
        let elsewhere = await sandbox.create([request("volume.a.1.data", .volume, ["size_gib": "10", "region": "ams3", "node": "node.a.1"],
                                                      dependencies: ["node.a.1": node.providerID])])
        guard case .failure(let wrongRegion) = elsewhere[0] else { Issue.record("a volume attached across regions"); return }
        #expect(wrongRegion.fix == "a volume attaches only to a node in its own region")
        await #expect(throws: ProviderError.self) { try await sandbox.delete(network) }
        try await sandbox.delete(node)
        try await sandbox.delete(network)
        #expect(try await sandbox.observe(scope).isEmpty)
    }

    @Test("faults: the Nth create fails, every Nth call is throttled, unknown faults are refused by name")
    func testSandbox_faults() async throws {
        let sandbox = try provider("fail-create=2,throttle=3,provision=0ms")
        let first = await sandbox.create([request(.network, .network, ["region": "nyc3", "cidr": "10.5.0.0/16"])])
        #expect((try? first[0].get()) != nil)
        let second = await sandbox.create([request(.firewall, .firewall, ["inbound": "tcp 22 from 10.0.0.0/8"])])
        guard case .failure(let injected) = second[0] else { Issue.record("the second create succeeded"); return }
        #expect(injected.message.contains("injected fault"))
        let third = await sandbox.create([request(.firewall, .firewall, ["inbound": "tcp 22 from 10.0.0.0/8"])])
        guard case .failure(let throttled) = third[0] else { Issue.record("the third call was not throttled"); return }
        #expect(throttled.kind == .throttled)
        #expect(throttled.nothingWasDone)
        #expect(throws: SandboxFaultsError.self) { try SandboxFaults.parse("explode=1") }
        #expect(throws: SandboxFaultsError.self) { try SandboxFaults.parse("latency=soon") }
    }
}
