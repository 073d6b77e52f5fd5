import Foundation
import Planner
import ProviderFakes
import Spec
import XCTest
@testable import Providers

/// The Vultr adapter against the fake Vultr server over loopback HTTP, every request checked
/// against the fake's schema of Vultr's request shapes.
final class VultrProviderTests: XCTestCase {
    var fake: FakeVultr!
    var provider: VultrProvider!
    let scope = ResourceScope(project: "acme", environment: "dev")
    static let settings = VultrProvider.Settings(pollInterval: 0.05, readyTimeout: 30, listingLag: 2, availabilityRegion: "ewr")

    override func setUp() async throws {
        fake = try await FakeVultr.start()
        provider = VultrProvider.make(apiKey: await fake.apiKey, endpoint: await fake.baseURL, settings: Self.settings)
    }

    override func tearDown() async throws {
        let violations = await fake.violations
        XCTAssertEqual(Array(violations.prefix(5)), [], "\(violations.count) requests outside the fake's Vultr schema")
        await fake.stop()
    }

    func request(_ address: ResourceAddress, _ kind: ResourceKind, _ attributes: Attributes, dependencies: [ResourceAddress: String] = [:],
                 inputs: [String: String] = [:]) -> ResourceRequest {
        ResourceRequest(address: address, kind: kind, attributes: attributes, tags: scope.tags(for: address), inputs: inputs, dependencies: dependencies)
    }

    static let firewallText = "tcp 22 from 203.0.113.0/24; tcp 80,443 from 0.0.0.0/0,::/0"

    /// Network, firewall and key, as the walk makes them first.
    func foundation(using provider: VultrProvider? = nil) async throws -> [ResourceAddress: String] {
        let provider = provider ?? self.provider!
        var ids: [ResourceAddress: String] = [:]
        let network = await provider.create([request(.network, .network, ["region": "ewr", "cidr": "10.30.0.0/16"])])
        ids[.network] = try network[0].get().providerID
        let firewall = await provider.create([request(.firewall, .firewall, ["inbound": Self.firewallText, "internal": "all from 10.30.0.0/16"], dependencies: ids)])
        ids[.firewall] = try firewall[0].get().providerID
        let key = await provider.create([request(.sshKey, .sshKey, ["name": "acme-dev", "public_key": "SHA256:x"],
                                                 inputs: ["public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx1 kryoform"])])
        ids[.sshKey] = try key[0].get().providerID
        return ids
    }

    func node(_ index: Int, cluster: String = "app", size: String = "vc2-2c-4gb", dependencies: [ResourceAddress: String]) -> ResourceRequest {
        request(.node(cluster: cluster, index: index), .node, ["size": size, "region": "ewr", "image": "debian-12", "network": "10.30.0.0/16",
                                                               "roles": "application"], dependencies: dependencies)
    }

    func testCatalogMapsPlansGPUsDecimalPricesAvailabilityAndSystems() async throws {
        let catalog = try await provider.catalog()
        XCTAssertEqual(catalog.provider, "vultr")
        XCTAssertEqual(catalog.defaultRegion, "ewr")
        XCTAssertEqual(catalog.regions.count, 13)
        XCTAssertEqual(catalog.region("sao")?.name, "São Paulo, BR")
        // Decimal prices and memory in MB.
        XCTAssertEqual(catalog.size("voc-c-16c-32gb-200s-amd")?.monthlyPrice, 287.5)
        XCTAssertEqual(catalog.size("vc2-1c-0.5gb")?.memory, .mebibytes(512))
        XCTAssertEqual(catalog.size("vc2-1c-0.5gb")?.monthlyPrice, 2.5)
        XCTAssertEqual(catalog.size("vc2-16c-64gb")?.disk, .gibibytes(1280))
        // GPUs: whole cards counted from the VRAM, a slice of a card left out.
        let a100 = try XCTUnwrap(catalog.size("vcg-a100-12c-120g-80vram"))
        XCTAssertEqual(a100.gpu, 1)
        XCTAssertEqual(a100.gpuModel, "A100 80 GB")
        XCTAssertEqual(catalog.size("vcg-a100-48c-480g-320vram")?.gpu, 4)
        XCTAssertEqual(catalog.size("vcg-l40s-16c-180g-48vram")?.gpuModel, "L40S 48 GB")
        XCTAssertNil(catalog.size("vcg-a100-1c-6g-4vram"))
        // Availability: listed for ewr but sold out there now, so not offered in ewr.
        XCTAssertEqual(catalog.size("vc2-24c-96gb")?.regions.contains("ewr"), false)
        XCTAssertEqual(catalog.size("vc2-24c-96gb")?.regions.contains("ams"), true)
        let big = NodeSize.neutral(cpu: 24, memory: .gibibytes(96), disk: nil, gpu: 0)
        XCTAssertEqual(try SizeResolver.resolve(big, region: "ams", in: catalog).get().offering.slug, "vc2-24c-96gb")
        XCTAssertNotEqual(try? SizeResolver.resolve(big, region: "ewr", in: catalog).get().offering.slug, "vc2-24c-96gb")
        let gpu = NodeSize.neutral(cpu: 8, memory: .gibibytes(32), disk: nil, gpu: 1)
        XCTAssertEqual(try SizeResolver.resolve(gpu, region: "ewr", in: catalog).get().offering.slug, "vcg-l40s-16c-180g-48vram")
        // Systems: x64 entries by family and version; the default is Debian 12.
        XCTAssertEqual(catalog.defaultImage, "debian-12")
        XCTAssertEqual(catalog.images, ["debian-11", "debian-12", "ubuntu-22.04", "ubuntu-24.04"], "no i386, no Custom, no versionless entry")
        // A second read in the same run costs no request; the availability was read once.
        _ = try await provider.catalog()
        let plans = await fake.count("GET /v2/plans")
        let availability = await fake.count("GET /v2/regions/{id}/availability")
        XCTAssertEqual([plans, availability], [1, 1])
    }

    func testObservingTwelveHundredInstancesFollowsTheCursorInThreeListings() async throws {
        await fake.seedInstances(count: 1_200, project: "acme", environment: "dev", cluster: "app")
        await fake.resetCounts()
        let observed = try await provider.observe(scope)
        let nodes = observed.filter { $0.kind == .node }
        XCTAssertEqual(nodes.count, 1_200)
        XCTAssertEqual(Set(nodes.map(\.address)).count, 1_200, "every instance once")
        XCTAssertEqual(nodes.first { $0.address == .node(cluster: "app", index: 1_111) }?.attributes,
                       ["size": "vc2-2c-4gb", "region": "ewr", "image": "debian-12", "network": "10.40.0.0/16"])
        let listings = await fake.count("GET /v2/instances")
        XCTAssertEqual(listings, 3, "1,200 instances at 500 a page")
    }

    func testThreeNodesAreMadeInTheVPCFirewallAndKeyAndObserveAsPlanned() async throws {
        let ids = try await foundation()
        var made: [ObservedResource] = []
        for index in 1...3 { made.append(try await provider.create([node(index, dependencies: ids)])[0].get()) }
        let ready = try await provider.waitUntilReady(made, scope: scope)
        XCTAssertTrue(ready.allSatisfy { $0.status == .ready })
        XCTAssertTrue(ready.allSatisfy { $0.details["private_ipv4"]?.hasPrefix("10.30.") ?? false })
        let instances = await fake.instanceSummaries()
        XCTAssertEqual(instances.map(\.label), ["acme-dev-app-1", "acme-dev-app-2", "acme-dev-app-3"])
        XCTAssertTrue(instances.allSatisfy { $0.firewallGroup == ids[.firewall] && $0.vpcs == [ids[.network] ?? ""] })
        XCTAssertTrue(instances.allSatisfy { $0.tags.contains("kf-scope:acme:dev") && $0.tags.contains("kf-cluster:app") && $0.tags.contains("kf-project:acme") })

        let observed = try await provider.observe(scope)
        let byAddress = Dictionary(grouping: observed, by: \.address)
        XCTAssertEqual(byAddress.count, 6)
        XCTAssertEqual(byAddress[.node(cluster: "app", index: 2)]?.first?.attributes,
                       ["size": "vc2-2c-4gb", "region": "ewr", "image": "debian-12", "network": "10.30.0.0/16"])
        XCTAssertEqual(byAddress[.firewall]?.first?.attributes, ["inbound": Self.firewallText, "internal": "all from 10.30.0.0/16"])
        XCTAssertEqual(byAddress[.network]?.first?.attributes, ["region": "ewr", "cidr": "10.30.0.0/16"])
        XCTAssertEqual(byAddress[.sshKey]?.first?.attributes["name"], "acme-dev")
        let rules = await fake.firewallRules()
        XCTAssertEqual(rules.count, 8, "one rule per port and source, and three for the VPC's range: \(rules)")
    }

    func testABurstOfCreatesKeepsUnderVultrsThirtyASecond() async throws {
        let ids = try await foundation()
        await fake.resetCounts()
        let results = await burst(40, ids: ids, provider: provider)
        XCTAssertEqual(results.filter { (try? $0.get()) != nil }.count, 40)
        let rateLimited = await fake.rateLimited
        let requests = await fake.totalRequests
        XCTAssertEqual(rateLimited, 0, "the client keeps to 20 a second")
        XCTAssertGreaterThan(requests, 30, "more than Vultr's one-second budget went through")
        let systemReads = await fake.count("GET /v2/os")
        XCTAssertEqual(systemReads, 1, "creates made together share one read of the systems")
        let labels = await fake.instanceSummaries().map(\.label)
        XCTAssertEqual(Set(labels).count, 40)
    }

    func testWithoutTheClientLimitTheSameBurstMeetsVultrs429s() async throws {
        let unlimited = VultrProvider.make(apiKey: await fake.apiKey, endpoint: await fake.baseURL,
                                           settings: .init(pollInterval: 0.05, readyTimeout: 30, listingLag: 2, requestsPerSecond: 10_000))
        let ids = try await foundation(using: unlimited)
        await fake.resetCounts()
        let results = await burst(40, ids: ids, provider: unlimited)
        let rateLimited = await fake.rateLimited
        XCTAssertGreaterThan(rateLimited, 0, "40 creates at once go past 30 a second")
        // The retry layer sends a create refused with 429 again, and nothing is made twice.
        XCTAssertEqual(results.filter { (try? $0.get()) != nil }.count, 40)
        let labels = await fake.instanceSummaries().map(\.label)
        XCTAssertEqual(labels.count, 40)
        XCTAssertEqual(Set(labels).count, 40)
    }

    func burst(_ count: Int, ids: [ResourceAddress: String], provider: VultrProvider) async -> [Result<ObservedResource, ProviderError>] {
        await withTaskGroup(of: Result<ObservedResource, ProviderError>.self) { group in
            for index in 1...count {
                let request = node(index, dependencies: ids)
                group.addTask { await provider.create([request])[0] }
            }
            var results: [Result<ObservedResource, ProviderError>] = []
            for await result in group { results.append(result) }
            return results
        }
    }

    func testACreateWhoseAnswerIsLostIsLookedUpNotRepeated() async throws {
        let ids = try await foundation()
        await fake.failNext("POST /v2/instances", .serverError(afterEffect: true))
        let result = await provider.create([node(1, dependencies: ids)])
        XCTAssertEqual(try result[0].get().address, .node(cluster: "app", index: 1))
        let instances = await fake.instanceSummaries()
        XCTAssertEqual(instances.count, 1, "no duplicate after a 500 that had made the instance")
        let creates = await fake.count("POST /v2/instances")
        XCTAssertEqual(creates, 1)
    }

    func testACreateDroppedBeforeTakingEffectIsNotSentAgainOnAGuess() async throws {
        let ids = try await foundation()
        await fake.failNext("POST /v2/instances", .drop(afterEffect: false))
        let result = await provider.create([node(1, dependencies: ids)])
        guard case .failure(let error) = result[0] else { return XCTFail("nothing was made, so nothing can be reported made") }
        XCTAssertFalse(error.nothingWasDone, "the walk must not send it again blindly")
        XCTAssertTrue(error.message.contains("the next run adopts"))
        let creates = await fake.count("POST /v2/instances")
        XCTAssertEqual(creates, 1)
        let instances = await fake.instanceSummaries()
        XCTAssertEqual(instances.count, 0)
    }

    func testFirewallRulesReadBackAsPlannedAndChangeByTheDifference() {
        let text = "tcp 22,80 from 203.0.113.0/24; udp 53 from 10.0.0.0/8; icmp  from 0.0.0.0/0; tcp 8000-9000 from 0.0.0.0/0,::/0"
        let wanted = VultrFirewallRules.inbound(text, internalRange: "10.30.0.0/16")
        XCTAssertEqual(wanted.count, 9)
        XCTAssertEqual(wanted.first { $0.port == "8000:9000" && $0.ip_type == "v6" }?.subnet, "::")
        XCTAssertEqual(VultrFirewallRules.attributes(wanted) { "all from " + $0 }, ["inbound": text, "internal": "all from 10.30.0.0/16"])

        func listed(_ rules: [Vultr.CreateRule]) -> [Vultr.FirewallRule] {
            rules.enumerated().map { Vultr.FirewallRule(id: $0.offset + 1, ip_type: $0.element.ip_type, protocol: $0.element.protocol.uppercased(),
                                                        subnet: $0.element.subnet, subnet_size: $0.element.subnet_size, port: $0.element.port ?? "") }
        }
        // One more clause at the end: only added.
        let grown = VultrFirewallRules.inbound(text + "; tcp 5432 from 10.9.0.0/16", internalRange: "10.30.0.0/16")
        var change = VultrFirewallRules.changes(current: listed(wanted), wanted: grown)
        XCTAssertEqual(change.delete, [7, 8, 9], "the VPC's rules come after the new one in the spec's order")
        XCTAssertEqual(change.add.count, 4, "the new rule, and the VPC rules made again after it")
        // The same rules: nothing to do.
        change = VultrFirewallRules.changes(current: listed(wanted), wanted: wanted)
        XCTAssertTrue(change.delete.isEmpty && change.add.isEmpty)
        // One clause less: only deleted.
        let shrunk = VultrFirewallRules.inbound("tcp 22,80 from 203.0.113.0/24; icmp  from 0.0.0.0/0; tcp 8000-9000 from 0.0.0.0/0,::/0", internalRange: "10.30.0.0/16")
        change = VultrFirewallRules.changes(current: listed(wanted), wanted: shrunk)
        XCTAssertEqual(change.delete, [3])
        XCTAssertEqual(change.add, [])
    }

    func testAFirewallUpdateLeavesTheGroupHoldingExactlyTheSpecsRules() async throws {
        let ids = try await foundation()
        let observed = try await provider.observe(scope)
        var update = request(.firewall, .firewall, ["inbound": "tcp 22 from 198.51.100.0/24; tcp 80,443 from 0.0.0.0/0,::/0", "internal": "all from 10.30.0.0/16"],
                             dependencies: ids)
        update.current = observed.first { $0.kind == .firewall }
        _ = try await provider.update(update)
        let after = try await provider.observe(scope).first { $0.kind == .firewall }
        XCTAssertEqual(after?.attributes, update.attributes)
        XCTAssertEqual(after?.providerID, ids[.firewall], "changed in place")
    }

    func testResizeChangesThePlanInPlace() async throws {
        let ids = try await foundation()
        let made = try await provider.create([node(1, dependencies: ids)]).map { try $0.get() }
        _ = try await provider.waitUntilReady(made, scope: scope)
        let listed = try await provider.observe(scope)
        let current = try XCTUnwrap(listed.first { $0.kind == .node })
        var resize = node(1, size: "vc2-4c-8gb", dependencies: ids)
        resize.current = current
        let updated = try await provider.update(resize)
        let ready = try await provider.waitUntilReady([updated], scope: scope)
        XCTAssertEqual(ready.first?.attributes["size"], "vc2-4c-8gb")
        XCTAssertEqual(ready.first?.status, .ready)
        let instance = await fake.instanceSummaries().first
        XCTAssertEqual(instance?.plan, "vc2-4c-8gb")
        XCTAssertEqual(instance?.id, current.providerID)
        let patches = await fake.count("PATCH /v2/instances/{id}")
        XCTAssertEqual(patches, 1)
    }

    func testVolumesAttachGrowDetachAndGo() async throws {
        var ids = try await foundation()
        let node = try await provider.create([node(1, dependencies: ids)]).map { try $0.get() }
        _ = try await provider.waitUntilReady(node, scope: scope)
        ids[.node(cluster: "app", index: 1)] = node[0].providerID
        let address = ResourceAddress.volume(cluster: "app", index: 1, name: "pgdata")
        let volume = try await provider.create([request(address, .volume, ["size_gib": "100", "region": "ewr", "node": "node.app.1"], dependencies: ids)])[0].get()
        XCTAssertEqual(volume.address, address)
        let labels = await fake.blockAttachments()
        XCTAssertEqual(labels, ["kf:acme:dev:volume.app.1.pgdata": node[0].providerID])
        var observed = try await provider.observe(scope).first { $0.kind == .volume }
        XCTAssertEqual(observed?.attributes, ["size_gib": "100", "region": "ewr", "node": "node.app.1"])
        var grow = request(address, .volume, ["size_gib": "150", "region": "ewr", "node": "node.app.1"], dependencies: ids)
        grow.current = observed
        _ = try await provider.update(grow)
        observed = try await provider.observe(scope).first { $0.kind == .volume }
        XCTAssertEqual(observed?.attributes["size_gib"], "150")
        let toDelete = try XCTUnwrap(observed)
        try await provider.delete(toDelete)
        let counts = await fake.objectCounts()
        XCTAssertEqual(counts["blocks"], 0)
        let detaches = await fake.count("POST /v2/blocks/{id}/detach")
        XCTAssertEqual(detaches, 1, "detached before the delete")
    }

    func testDeletingEverythingLeavesNothing() async throws {
        let ids = try await foundation()
        let made = try await provider.create([node(1, dependencies: ids)]).map { try $0.get() } + provider.create([node(2, dependencies: ids)]).map { try $0.get() }
        _ = try await provider.waitUntilReady(made, scope: scope)
        let observed = try await provider.observe(scope)
        for resource in observed.sorted(by: { $0.kind > $1.kind }) { try await provider.delete(resource) }
        let counts = await fake.objectCounts()
        XCTAssertEqual(counts, ["instances": 0, "blocks": 0, "vpcs": 0, "firewalls": 0, "keys": 0])
        // Deleting what is already gone is not an error.
        let gone = try XCTUnwrap(observed.first { $0.kind == .node })
        try await provider.delete(gone)
    }

    func testAKeyAlreadyInTheAccountIsUsedAndKept() async throws {
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx2 someone@laptop"
        let byHand = await fake.addKey(name: "my-laptop", publicKey: line)
        let ours = try await provider.create([request(.sshKey, .sshKey, ["name": "acme-dev"], inputs: ["public_key": line])])[0].get()
        XCTAssertEqual(ours.providerID, byHand)
        XCTAssertEqual(ours.details["shared"], "true")
        let creates = await fake.count("POST /v2/ssh-keys")
        XCTAssertEqual(creates, 0)
        try await provider.delete(ours)
        let keys = await fake.objectCounts()["keys"]
        XCTAssertEqual(keys, 1, "a key kryoform did not register is not deleted")
    }

    func testABadKeySaysWhatToDoAndIsNeverShown() async throws {
        let wrong = VultrProvider.make(apiKey: "WRONGVULTRKEY123", endpoint: await fake.baseURL)
        do {
            _ = try await wrong.catalog()
            XCTFail("a bad key must fail")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .unauthorized)
            XCTAssertTrue(error.message.contains("401"))
            XCTAssertTrue(error.fix?.contains("VULTR_API_KEY") ?? false)
            XCTAssertTrue(error.fix?.contains("IP") ?? false, "the key's IP access control is the other usual cause")
            XCTAssertFalse(error.description.contains("WRONGVULTRKEY123"))
            XCTAssertFalse(String(describing: wrong).contains("WRONGVULTRKEY123"))
        }
    }

    func testAPlanSoldOutInTheRegionSaysWhatToDo() async throws {
        let ids = try await foundation()
        let results = await provider.create([node(1, size: "vc2-24c-96gb", dependencies: ids)])
        guard case .failure(let error) = results[0] else { return XCTFail("vc2-24c-96gb is sold out in ewr") }
        XCTAssertEqual(error.kind, .invalidRequest)
        XCTAssertTrue(error.nothingWasDone)
        XCTAssertTrue(error.message.contains("not available"))
        XCTAssertNotNil(error.fix)
    }

    func testAnImageVultrDoesNotInstallIsAClearError() async throws {
        let ids = try await foundation()
        var bad = node(1, dependencies: ids)
        bad.attributes["image"] = "plan9-4"
        guard case .failure(let error) = await provider.create([bad])[0] else { return XCTFail("no such system") }
        XCTAssertTrue(error.message.contains("node.app.1") && error.message.contains("plan9-4"), error.message)
        XCTAssertTrue(error.fix?.contains("debian-12") ?? false)
    }

    func testTheFakesSchemaRefusesUnknownMissingAndMistypedKeys() async throws {
        let strict = try await FakeVultr.start()
        let transport = AuthenticatingTransport(AsyncHTTPTransport(baseURL: await strict.baseURL), bearerToken: await strict.apiKey)
        func post(_ path: String, _ json: String) async throws -> HTTPResponse {
            try await transport.send(HTTPRequest(method: "POST", path: path, body: Data(json.utf8)))
        }
        let unknown = try await post("/v2/instances", #"{"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2136, "name": "x"}"#)
        XCTAssertEqual(unknown.status, 400)
        XCTAssertTrue(String(decoding: unknown.body, as: UTF8.self).contains("unknown key 'name'"))
        let missing = try await post("/v2/ssh-keys", #"{"name": "x"}"#)
        XCTAssertEqual(missing.status, 400)
        let mistyped = try await post("/v2/blocks", #"{"region": "ewr", "size_gb": "100"}"#)
        XCTAssertEqual(mistyped.status, 400)
        let fine = try await post("/v2/vpcs", #"{"region": "ewr", "description": "x"}"#)
        XCTAssertEqual(fine.status, 201)
        let violations = await strict.violations
        XCTAssertEqual(violations.count, 3, "\(violations)")
        XCTAssertTrue(violations.contains { $0.contains("missing required key 'ssh_key'") })
        XCTAssertTrue(violations.contains { $0.contains("'size_gb' must be integer, not string") })
        let objects = await strict.objectCounts()
        XCTAssertEqual(objects["blocks"], 0, "a refused request makes nothing")
        await strict.stop()
    }
}
