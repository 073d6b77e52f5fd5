import Foundation
import Planner
import Synchronization
import TestSupport
import XCTest
@testable import Providers

/// Counts the EC2 actions that pass, for the pagination checks.
final class ActionCounter: HTTPTransport {
    let inner: HTTPTransport
    private let counts = Mutex<[String: Int]>([:])
    init(_ inner: HTTPTransport) { self.inner = inner }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let action = EC2Query.decode(request.body ?? Data())["Action"] ?? "?"
        counts.withLock { $0[action, default: 0] += 1 }
        return try await inner.send(request)
    }
    func count(_ action: String) -> Int { counts.withLock { $0[action] ?? 0 } }
}

/// The EC2 adapter against a real `moto_server` (moto 5.2.1) started on a loopback port.
final class EC2ProviderTests: XCTestCase {
    nonisolated(unsafe) static var moto: MotoServer?
    let scope = ResourceScope(project: "acme", environment: "dev")
    static let publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL0u0NuSSHwAja7kHGf5zRRNXahDDda3PGlFTpk/a1xK kryoform"
    /// An AMI among moto's built-in ones (moto has no Debian image).
    static let image = "ami-04681a1dbd79675a5"
    var counter: ActionCounter!
    var provider: EC2Provider!

    override class func setUp() {
        super.setUp()
        moto = try? MotoServer.start()
    }

    override class func tearDown() {
        moto?.stop()
        moto = nil
        super.tearDown()
    }

    override func setUp() async throws {
        let moto = try XCTUnwrap(Self.moto, "moto_server did not start: run scripts/install-deps --tests")
        try moto.reset()
        provider = makeProvider(pageSize: 1_000)
    }

    func makeProvider(pageSize: Int, region: String = "us-east-1") -> EC2Provider {
        let base = Self.moto?.baseURL ?? URL(fileURLWithPath: "/")
        let clock = SystemClock()
        let signer = SigV4Signer(accessKeyID: "testing", secretAccessKey: "testing-secret", region: region, service: "ec2")
        let signing = SigV4SigningTransport(inner: AsyncHTTPTransport(baseURL: base), signer: signer, endpoint: base, clock: clock)
        counter = ActionCounter(RetryingTransport(signing, policy: RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2), clock: clock,
                                                  isThrottled: EC2Refusal.isThrottling))
        return EC2Provider(client: EC2Client(transport: counter), region: region,
                           settings: .init(pollInterval: 0.05, readyTimeout: 30, listingLag: 1, pageSize: pageSize, dependencyTimeout: 10),
                           clock: clock, publicKey: Self.publicKey)
    }

    func request(_ address: ResourceAddress, _ kind: ResourceKind, _ attributes: Attributes, dependencies: [ResourceAddress: String] = [:],
                 inputs: [String: String] = [:], current: ObservedResource? = nil) -> ResourceRequest {
        var inputs = inputs
        inputs[ResourceRequest.idempotencyTokenInput] = String(ContentHash.sha256("test/\(address)").prefix(32))
        return ResourceRequest(address: address, kind: kind, attributes: attributes, tags: scope.tags(for: address), inputs: inputs,
                               dependencies: dependencies, current: current)
    }

    static let inbound = "tcp 22 from 203.0.113.0/24; tcp 80,443 from 0.0.0.0/0,::/0"

    /// Network, firewall and key, as the walk makes them first.
    func foundation(cidr: String = "10.30.0.0/16") async throws -> [ResourceAddress: String] {
        var ids: [ResourceAddress: String] = [:]
        ids[.network] = try await provider.create([request(.network, .network, ["region": "us-east-1", "cidr": cidr])])[0].get().providerID
        ids[.firewall] = try await provider.create([request(.firewall, .firewall, ["inbound": Self.inbound, "internal": "all from \(cidr)"],
                                                            dependencies: ids)])[0].get().providerID
        ids[.sshKey] = try await provider.create([request(.sshKey, .sshKey, ["name": "acme-dev", "public_key": DesiredStateBuilder.fingerprint(ofPublicKey: Self.publicKey)],
                                                          inputs: ["public_key": Self.publicKey])])[0].get().providerID
        return ids
    }

    func node(_ index: Int, size: String = "t3.small", disk: Int = 30, dependencies: [ResourceAddress: String]) -> ResourceRequest {
        request(.node(cluster: "app", index: index), .node, ["size": size, "region": "us-east-1", "image": Self.image, "network": "10.30.0.0/16",
                                                             "roles": "application", "disk_gib": String(disk)], dependencies: dependencies)
    }

    func testCatalogComesFromDescribeInstanceTypesJoinedWithPrices() async throws {
        let catalog = try await provider.catalog()
        XCTAssertEqual(catalog.provider, "aws")
        XCTAssertEqual(catalog.defaultRegion, "us-east-1")
        XCTAssertEqual(catalog.regions.map(\.slug), ["us-east-1", "sa-east-1"])
        XCTAssertEqual(catalog.size("t3.micro")?.cpu, 2)
        XCTAssertEqual(catalog.size("t3.micro")?.monthlyPrice, 7.59)
        XCTAssertEqual(catalog.size("c6i.4xlarge")?.cpu, 16)
        XCTAssertEqual(catalog.size("c6i.4xlarge")?.memory, .gibibytes(32))
        XCTAssertEqual(catalog.size("r7i.large")?.memory, .gibibytes(16))
        let gpu = try XCTUnwrap(catalog.size("g4dn.xlarge"))
        XCTAssertEqual(gpu.gpu, 1)
        XCTAssertTrue(gpu.gpuModel?.contains("T4") ?? false, "\(gpu.gpuModel ?? "none")")
        XCTAssertTrue(catalog.sizes.allSatisfy { EC2Prices.hourly["us-east-1"]?[$0.slug] != nil }, "every size has a price")
        XCTAssertNil(catalog.size("m5.large"), "types without a price are left out")
        XCTAssertGreaterThan(catalog.sizes.count, 80)
        XCTAssertEqual(catalog.nodeDiskPricePerGiB, 0.08)
        XCTAssertTrue(catalog.sizes.allSatisfy { $0.disk == .gibibytes(0) })
        // A second read in the same run costs no request.
        _ = try await provider.catalog()
        XCTAssertEqual(counter.count("DescribeInstanceTypes"), 1)
    }

    func testARegionWithoutPricesIsRefusedWithWhatToDo() async throws {
        let elsewhere = makeProvider(pageSize: 1_000, region: "eu-west-1")
        do {
            _ = try await elsewhere.catalog()
            XCTFail("a region with no prices gave a catalog")
        } catch let error as ProviderError {
            XCTAssertTrue(error.message.contains("eu-west-1"), error.message)
            XCTAssertTrue(error.fix?.contains("sa-east-1") ?? false)
        }
    }

    func testObservationPagesWithNextToken() async throws {
        provider = makeProvider(pageSize: 5)
        let ids = try await foundation()
        for index in 1...12 { _ = try await provider.create([node(index, dependencies: ids)])[0].get() }
        let before = counter.count("DescribeInstances")
        let observed = try await provider.observe(scope)
        XCTAssertEqual(Set(observed.filter { $0.kind == .node }.map(\.address)), Set((1...12).map { ResourceAddress.node(cluster: "app", index: $0) }))
        XCTAssertEqual(counter.count("DescribeInstances") - before, 3, "12 instances at 5 a page")
    }

    func testFoundationNodesAndVolumesCreateObserveUpdateDelete() async throws {
        var ids = try await foundation()
        let made = try await provider.create([node(1, dependencies: ids)]).map { try $0.get() } + provider.create([node(2, dependencies: ids)]).map { try $0.get() }
        let ready = try await provider.waitUntilReady(made, scope: scope)
        XCTAssertEqual(ready.map(\.status), [.ready, .ready])
        XCTAssertTrue(ready.allSatisfy { $0.details["public_ipv4"] != nil })
        ids[.node(cluster: "app", index: 1)] = made[0].providerID
        let volumeAddress = ResourceAddress.volume(cluster: "app", index: 1, name: "pgdata")
        let volume = try await provider.create([request(volumeAddress, .volume, ["size_gib": "50", "region": "us-east-1", "node": "node.app.1"],
                                                        dependencies: ids)])[0].get()

        var observed = Dictionary(grouping: try await provider.observe(scope), by: \.address).compactMapValues(\.first)
        XCTAssertEqual(observed.count, 6)
        XCTAssertEqual(observed[.network]?.attributes, ["region": "us-east-1", "cidr": "10.30.0.0/16"])
        XCTAssertEqual(observed[.firewall]?.attributes, ["inbound": Self.inbound, "internal": "all from 10.30.0.0/16"])
        XCTAssertEqual(observed[.sshKey]?.attributes["name"], "acme-dev")
        XCTAssertEqual(observed[.sshKey]?.attributes["public_key"], DesiredStateBuilder.fingerprint(ofPublicKey: Self.publicKey))
        XCTAssertEqual(observed[.node(cluster: "app", index: 1)]?.attributes,
                       ["size": "t3.small", "region": "us-east-1", "image": Self.image, "network": "10.30.0.0/16", "disk_gib": "30"])
        XCTAssertEqual(observed[volumeAddress]?.attributes, ["size_gib": "50", "region": "us-east-1", "node": "node.app.1"])
        XCTAssertEqual(observed[volumeAddress]?.providerID, volume.providerID)

        // A bigger size: stop, change the type, start. A bigger disk grows in place.
        let current = try XCTUnwrap(observed[.node(cluster: "app", index: 1)])
        var bigger = node(1, size: "t3.large", disk: 40, dependencies: ids)
        bigger.current = current
        let updated = try await provider.update(bigger)
        _ = try await provider.waitUntilReady([updated], scope: scope)
        // The firewall loses the web clause and gains another in place.
        let firewall = request(.firewall, .firewall, ["inbound": "tcp 22 from 198.51.100.0/24", "internal": "all from 10.30.0.0/16"], dependencies: ids,
                               current: observed[.firewall])
        _ = try await provider.update(firewall)
        observed = Dictionary(grouping: try await provider.observe(scope), by: \.address).compactMapValues(\.first)
        XCTAssertEqual(observed[.node(cluster: "app", index: 1)]?.attributes["size"], "t3.large")
        XCTAssertEqual(observed[.node(cluster: "app", index: 1)]?.attributes["disk_gib"], "40")
        XCTAssertEqual(observed[.node(cluster: "app", index: 1)]?.status, .ready)
        XCTAssertEqual(observed[.firewall]?.attributes["inbound"], "tcp 22 from 198.51.100.0/24")

        // Delete in the walk's order: volume, nodes, key, firewall, network.
        for address in [volumeAddress, .node(cluster: "app", index: 1), .node(cluster: "app", index: 2), .sshKey, .firewall, .network] {
            try await provider.delete(try XCTUnwrap(observed[address], "\(address)"))
        }
        let left = try await provider.observe(scope)
        XCTAssertEqual(left.map(\.address), [])
        // A second delete of what is gone is no error.
        try await provider.delete(try XCTUnwrap(observed[volumeAddress]))
        try await provider.delete(try XCTUnwrap(observed[.network]))
    }

    func testAnAutomaticNetworkReadsBackAsAuto() async throws {
        _ = try await foundation(cidr: "auto")
        let observed = Dictionary(grouping: try await provider.observe(scope), by: \.address).compactMapValues(\.first)
        XCTAssertEqual(observed[.network]?.attributes, ["region": "us-east-1", "cidr": "auto"])
        XCTAssertEqual(observed[.firewall]?.attributes["internal"], "all from auto")
    }

    func testAKeyImportedByHandUnderAnotherNameIsUsedAndNeverDeleted() async throws {
        var query = EC2Query("ImportKeyPair")
        query["KeyName"] = "laptop"
        query["PublicKeyMaterial"] = Data(Self.publicKey.utf8).base64EncodedString()
        try await provider.client.sendIgnoringAnswer(query)
        let ids = try await foundation()
        XCTAssertEqual(ids[.sshKey], "laptop")
        let listed = try await provider.observe(scope)
        let key = try XCTUnwrap(listed.first { $0.kind == .sshKey })
        XCTAssertEqual(key.details["shared"], "true")
        XCTAssertEqual(key.attributes["name"], "acme-dev")
        try await provider.delete(key)
        let names = try await provider.keyPairs().map(\.keyName)
        XCTAssertEqual(names, ["laptop"])
    }
}
