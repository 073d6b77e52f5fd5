import Foundation
import Planner
import ProviderFakes
import XCTest
@testable import Providers

/// The DigitalOcean adapter against the fake DigitalOcean server over loopback HTTP, every
/// request and answer checked against DigitalOcean's official API description.
final class DigitalOceanProviderTests: XCTestCase {
    var fake: FakeDigitalOcean!
    var provider: DigitalOceanProvider!
    let scope = ResourceScope(project: "acme", environment: "dev")

    override func setUp() async throws {
        fake = try await FakeDigitalOcean.start(contract: try ProviderDescriptions.digitalOcean())
        provider = await DigitalOceanProvider.make(token: fake.token, endpoint: fake.baseURL,
                                                   settings: .init(pollInterval: 0.05, readyTimeout: 30, listingLag: 2))
    }

    override func tearDown() async throws {
        let violations = await fake.violations
        XCTAssertEqual(Array(violations.prefix(5)), [], "\(violations.count) requests or answers outside DigitalOcean's API description")
        await fake.stop()
    }

    func request(_ address: ResourceAddress, _ kind: ResourceKind, _ attributes: Attributes, dependencies: [ResourceAddress: String] = [:],
                 inputs: [String: String] = [:]) -> ResourceRequest {
        ResourceRequest(address: address, kind: kind, attributes: attributes, tags: scope.tags(for: address), inputs: inputs, dependencies: dependencies)
    }

    /// Network, firewall and key, as the walk makes them first.
    func foundation() async throws -> [ResourceAddress: String] {
        var ids: [ResourceAddress: String] = [:]
        let network = await provider.create([request(.network, .network, ["region": "nyc3", "cidr": "10.30.0.0/16"])])
        ids[.network] = try network[0].get().providerID
        let firewall = await provider.create([request(.firewall, .firewall, ["inbound": "tcp 22 from 203.0.113.0/24; tcp 80,443 from 0.0.0.0/0,::/0",
                                                                             "internal": "all from 10.30.0.0/16"], dependencies: ids)])
        ids[.firewall] = try firewall[0].get().providerID
        let key = await provider.create([request(.sshKey, .sshKey, ["name": "acme-dev", "public_key": "SHA256:x"],
                                                 inputs: ["public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx1 kryoform"])])
        ids[.sshKey] = try key[0].get().providerID
        return ids
    }

    func nodes(_ count: Int, cluster: String = "app", size: String = "s-2vcpu-4gb", dependencies: [ResourceAddress: String]) -> [ResourceRequest] {
        (1...count).map {
            request(.node(cluster: cluster, index: $0), .node, ["size": size, "region": "nyc3", "image": "debian-12-x64", "network": "10.30.0.0/16",
                                                                 "roles": "application"], dependencies: dependencies)
        }
    }

    func testCatalogComesFromSizesAndRegions() async throws {
        let catalog = try await provider.catalog()
        XCTAssertEqual(catalog.provider, "digitalocean")
        let gpu = try XCTUnwrap(catalog.size("gpu-h100x1-80gb"))
        XCTAssertEqual(gpu.gpu, 1)
        XCTAssertEqual(gpu.regions, ["atl1", "nyc2", "tor1"])
        XCTAssertEqual(catalog.size("c-16")?.cpu, 16)
        XCTAssertEqual(catalog.size("c-16")?.memory, .gibibytes(32))
        XCTAssertEqual(catalog.size("c-16")?.monthlyPrice, 336)
        XCTAssertEqual(catalog.regions.count, 12)
        // A second read in the same run costs no request.
        _ = try await provider.catalog()
        let sizeRequests = await fake.count("GET /v2/sizes")
        XCTAssertEqual(sizeRequests, 1)
    }

    func testThirtyNodesTakeThreeCreateRequestsAndObserveAsPlanned() async throws {
        let ids = try await foundation()
        let batches = stride(from: 0, to: 30, by: 10).map { Array(nodes(30, dependencies: ids)[$0..<$0 + 10]) }
        var made: [ObservedResource] = []
        for batch in batches {
            for result in await provider.create(batch) { made.append(try result.get()) }
        }
        let creates = await fake.count("POST /v2/droplets")
        XCTAssertEqual(creates, 3)
        let ready = try await provider.waitUntilReady(made, scope: scope)
        XCTAssertTrue(ready.allSatisfy { $0.status == .ready })
        XCTAssertTrue(ready.allSatisfy { $0.details["private_ipv4"]?.hasPrefix("10.30.") ?? false })

        let observed = try await provider.observe(scope)
        let byAddress = Dictionary(grouping: observed, by: \.address)
        XCTAssertEqual(byAddress.count, 33)
        XCTAssertEqual(byAddress[.node(cluster: "app", index: 17)]?.first?.attributes,
                       ["size": "s-2vcpu-4gb", "region": "nyc3", "image": "debian-12-x64", "network": "10.30.0.0/16"])
        XCTAssertEqual(byAddress[.firewall]?.first?.attributes,
                       ["inbound": "tcp 22 from 203.0.113.0/24; tcp 80,443 from 0.0.0.0/0,::/0", "internal": "all from 10.30.0.0/16"])
        XCTAssertEqual(byAddress[.network]?.first?.attributes, ["region": "nyc3", "cidr": "10.30.0.0/16"])
        XCTAssertEqual(byAddress[.sshKey]?.first?.attributes["name"], "acme-dev")
    }

    func testADropletMissingFromListingsIsWaitedForUntilActive() async throws {
        // Listings lag 1 s behind creates, droplets boot in 0.6 s, and the adapter allows 0.2 s of lag.
        await fake.setFaults(.init(listingLag: 1, bootTime: 0.6))
        let patient = DigitalOceanProvider.make(token: await fake.token, endpoint: await fake.baseURL,
                                                settings: .init(pollInterval: 0.05, readyTimeout: 30, listingLag: 0.2))
        let ids = try await foundation()
        let made = try await patient.create(nodes(2, dependencies: ids)).map { try $0.get() }
        let ready = try await patient.waitUntilReady(made, scope: scope)
        XCTAssertEqual(ready.map(\.status), [.ready, .ready], "a droplet found by id but still booting is waited for")
        let statuses = await fake.dropletSummaries().map(\.status)
        XCTAssertEqual(statuses, ["active", "active"])
    }

    func testObservingManyDropletsPagesBy200() async throws {
        await fake.seedDroplets(count: 450, project: "acme", environment: "dev", cluster: "app")
        await fake.resetCounts()
        let observed = try await provider.observe(scope)
        XCTAssertEqual(observed.filter { $0.kind == .node }.count, 450)
        let listings = await fake.count("GET /v2/droplets")
        XCTAssertEqual(listings, 3, "450 droplets at 200 a page")
    }

    func testACreateWhoseAnswerIsLostIsLookedUpNotRepeated() async throws {
        let ids = try await foundation()
        await fake.failNext("POST /v2/droplets", .serverError(afterEffect: true))
        let results = await provider.create(nodes(3, dependencies: ids))
        XCTAssertEqual(try results.map { try $0.get().address }, (1...3).map { .node(cluster: "app", index: $0) })
        let droplets = await fake.dropletSummaries()
        XCTAssertEqual(droplets.count, 3, "no duplicate after a 500 that had made the droplets")
        let creates = await fake.count("POST /v2/droplets")
        XCTAssertEqual(creates, 1)
    }

    func testACreateDroppedBeforeTakingEffectIsNotSentAgainOnAGuess() async throws {
        let ids = try await foundation()
        await fake.failNext("POST /v2/droplets", .drop(afterEffect: false))
        let results = await provider.create(nodes(2, dependencies: ids))
        for result in results {
            guard case .failure(let error) = result else { return XCTFail("nothing was made, so nothing can be reported made") }
            XCTAssertFalse(error.nothingWasDone, "the walk must not send it again blindly")
            XCTAssertTrue(error.message.contains("the next run adopts"))
        }
        let creates = await fake.count("POST /v2/droplets")
        XCTAssertEqual(creates, 1)
        let droplets = await fake.dropletSummaries()
        XCTAssertEqual(droplets.count, 0)
    }

    func testFirewallRulesReadBackAsPlanned() {
        let text = "tcp 22,80 from 203.0.113.0/24; udp 53 from 10.0.0.0/8; icmp  from 0.0.0.0/0; tcp 8000-9000 from 0.0.0.0/0,::/0"
        let rules = FirewallRules.inbound(text, internalRange: "10.30.0.0/16")
        XCTAssertEqual(rules.count, 8)
        XCTAssertEqual(FirewallRules.attributes(rules) { "all from " + $0 }, ["inbound": text, "internal": "all from 10.30.0.0/16"])
    }

    func testResizePowersOffResizesAndPowersOn() async throws {
        let ids = try await foundation()
        let made = try await provider.create(nodes(1, dependencies: ids)).map { try $0.get() }
        _ = try await provider.waitUntilReady(made, scope: scope)
        let listed = try await provider.observe(scope)
        let current = try XCTUnwrap(listed.first { $0.kind == .node })
        var resize = nodes(1, size: "s-4vcpu-8gb", dependencies: ids)[0]
        resize.current = current
        let updated = try await provider.update(resize)
        let ready = try await provider.waitUntilReady([updated], scope: scope)
        XCTAssertEqual(ready.first?.attributes["size"], "s-4vcpu-8gb")
        let droplet = await fake.dropletSummaries().first
        XCTAssertEqual(droplet?.size, "s-4vcpu-8gb")
        XCTAssertEqual(droplet?.status, "active")
        let actions = await fake.count("POST /v2/droplets/{droplet_id}/actions")
        XCTAssertEqual(actions, 3)
    }

    func testVolumesAttachGrowAndGo() async throws {
        var ids = try await foundation()
        let node = try await provider.create(nodes(1, dependencies: ids)).map { try $0.get() }
        _ = try await provider.waitUntilReady(node, scope: scope)
        ids[.node(cluster: "app", index: 1)] = node[0].providerID
        let address = ResourceAddress.volume(cluster: "app", index: 1, name: "pgdata")
        let volume = try await provider.create([request(address, .volume, ["size_gib": "100", "region": "nyc3", "node": "node.app.1"], dependencies: ids)])[0].get()
        var observed = try await provider.observe(scope).first { $0.kind == .volume }
        XCTAssertEqual(observed?.attributes, ["size_gib": "100", "region": "nyc3", "node": "node.app.1"])
        var grow = request(address, .volume, ["size_gib": "150", "region": "nyc3", "node": "node.app.1"], dependencies: ids)
        grow.current = observed
        _ = try await provider.update(grow)
        observed = try await provider.observe(scope).first { $0.kind == .volume }
        XCTAssertEqual(observed?.attributes["size_gib"], "150")
        let toDelete = try XCTUnwrap(observed)
        try await provider.delete(toDelete)
        let counts = await fake.objectCounts()
        XCTAssertEqual(counts["volumes"], 0)
        XCTAssertEqual(volume.address, address)
    }

    func testDeletingEverythingLeavesNothing() async throws {
        let ids = try await foundation()
        let made = try await provider.create(nodes(2, dependencies: ids)).map { try $0.get() }
        _ = try await provider.waitUntilReady(made, scope: scope)
        let observed = try await provider.observe(scope)
        for resource in observed.sorted(by: { $0.kind > $1.kind }) { try await provider.delete(resource) }
        let counts = await fake.objectCounts()
        XCTAssertEqual(counts, ["droplets": 0, "volumes": 0, "vpcs": 0, "firewalls": 0, "keys": 0])
        // Deleting what is already gone is not an error.
        let gone = try XCTUnwrap(observed.first { $0.kind == .node })
        try await provider.delete(gone)
    }

    func testAKeyAlreadyInTheAccountIsUsedAndKept() async throws {
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx2 someone@laptop"
        let other = DigitalOceanProvider.make(token: await fake.token, endpoint: await fake.baseURL)
        let byHand = await other.create([ResourceRequest(address: .sshKey, kind: .sshKey, attributes: ["name": "my-laptop"],
                                                         tags: ResourceScope(project: "x", environment: "y").tags(for: .sshKey), inputs: ["public_key": line])])
        XCTAssertNotNil(try? byHand[0].get())
        let ours = try await provider.create([request(.sshKey, .sshKey, ["name": "acme-dev"], inputs: ["public_key": line])])[0].get()
        XCTAssertEqual(ours.details["shared"], "true")
        try await provider.delete(ours)
        let keys = await fake.objectCounts()["keys"]
        XCTAssertEqual(keys, 1, "a key kryoform did not register is not deleted")
    }

    func testABadTokenSaysWhatToDo() async throws {
        let wrong = DigitalOceanProvider.make(token: "dop_v1_wrong", endpoint: await fake.baseURL)
        do {
            _ = try await wrong.catalog()
            XCTFail("a bad token must fail")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .unauthorized)
            XCTAssertTrue(error.message.contains("401"))
            XCTAssertTrue(error.fix?.contains("DIGITALOCEAN_TOKEN") ?? false)
            XCTAssertFalse(error.description.contains("dop_v1_wrong"))
        }
    }

    func testASizeNotInTheRegionSaysWhatToDo() async throws {
        let ids = try await foundation()
        let results = await provider.create(nodes(1, size: "gpu-h100x1-80gb", dependencies: ids))
        guard case .failure(let error) = results[0] else { return XCTFail("a GPU size is not in nyc3") }
        XCTAssertEqual(error.kind, .invalidRequest)
        XCTAssertTrue(error.nothingWasDone)
        XCTAssertTrue(error.message.contains("Size is not available in this region"))
        XCTAssertNotNil(error.fix)
    }
}

/// The cloud-init every cloud node is made with (DigitalOcean's, Vultr's and EC2's user data).
final class NodeUserDataTests: XCTestCase {
    func testUserData_trustsEveryKeyOfTheProject() {
        let scope = ResourceScope(project: "shop", environment: "prod")
        let text = Naming.userData(scope, cluster: "app", inputs: [ResourceRequest.authorizedKeysInput: "ssh-ed25519 AAAA1 alice\n\nssh-ed25519 AAAA2 pipeline\n"])
        XCTAssertTrue(text.hasPrefix("#cloud-config\n"))
        XCTAssertTrue(text.contains("ssh_authorized_keys:\n  - ssh-ed25519 AAAA1 alice\n  - ssh-ed25519 AAAA2 pipeline\nwrite_files:"), text)
        XCTAssertFalse(Naming.userData(scope, cluster: "app").contains("ssh_authorized_keys"))
    }

    func testUserData_carriesTheHostKeyAndMakesTheLoginUser() {
        let scope = ResourceScope(project: "shop", environment: "prod")
        let privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
        let text = Naming.userData(scope, cluster: "app", inputs: [
            ResourceRequest.authorizedKeysInput: "ssh-ed25519 AAAA1 alice",
            ResourceRequest.hostKeyInput: privateKey, ResourceRequest.hostPublicKeyInput: "ssh-ed25519 AAAAH kryoform-host",
            ResourceRequest.loginUserInput: "deploy",
        ])
        XCTAssertTrue(text.contains("""
        ssh_deletekeys: true
        ssh_genkeytypes: []
        ssh_keys:
          ed25519_private: |
            -----BEGIN OPENSSH PRIVATE KEY-----
            b3BlbnNzaC1rZXktdjEAAAAA
            -----END OPENSSH PRIVATE KEY-----
          ed25519_public: ssh-ed25519 AAAAH kryoform-host
        users:
          - default
          - name: "deploy"
        """), text)
        XCTAssertTrue(text.contains("    ssh_authorized_keys:\n      - ssh-ed25519 AAAA1 alice\n"), text)
        let root = Naming.userData(scope, cluster: "app", inputs: [ResourceRequest.loginUserInput: "root"])
        XCTAssertTrue(root.contains("disable_root: false\n"))
        XCTAssertFalse(root.contains("users:"))
    }
}
