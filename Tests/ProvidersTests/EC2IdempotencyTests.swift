import Foundation
import Planner
import ProviderFakes
import Synchronization
import XCTest
@testable import Providers

/// The EC2 adapter against the project's own fake EC2, for what moto does not do: `ClientToken`
/// idempotency, throttling, 500s and answers lost after the request took effect.
final class EC2IdempotencyTests: XCTestCase {
    var fake: FakeEC2!
    let scope = ResourceScope(project: "acme", environment: "dev")
    let ids: [ResourceAddress: String] = [.network: "vpc-0fake", .firewall: "sg-0fake", .sshKey: "acme-dev"]

    override func setUp() async throws {
        fake = try await FakeEC2.start()
    }

    override func tearDown() async throws {
        let failures = await fake.signatureFailures
        XCTAssertEqual(failures, 0, "requests whose SigV4 signature the fake could not verify")
        await fake.stop()
    }

    func provider(retries: Int = 6, onRetry: @escaping @Sendable (RetryEvent) -> Void = { _ in }) async -> EC2Provider {
        let endpoint = await fake.baseURL
        return EC2Provider.make(accessKeyID: fake.accessKeyID, secretAccessKey: fake.secretAccessKey, region: "us-east-1", endpoint: endpoint,
                         settings: .init(pollInterval: 0.02, readyTimeout: 20, listingLag: 0.5, dependencyTimeout: 5),
                         random: RandomSource(seed: 11), retry: RetryPolicy(maxAttempts: retries, baseDelay: 0.01, maxDelay: 0.05), onRetry: onRetry)
    }

    func node(_ index: Int, token: String) -> ResourceRequest {
        let address = ResourceAddress.node(cluster: "app", index: index)
        return ResourceRequest(address: address, kind: .node,
                               attributes: ["size": "t3.small", "region": "us-east-1", "image": "ami-0fake0debian12", "network": "10.40.0.0/16", "disk_gib": "20"],
                               tags: scope.tags(for: address), inputs: [ResourceRequest.idempotencyTokenInput: token], dependencies: ids)
    }

    static func token(_ text: String) -> String { String(ContentHash.sha256(text).prefix(32)) }

    func runInstances(_ client: EC2Client, token: String, type: String = "t3.small") async throws -> String {
        var query = EC2Query("RunInstances", idempotent: true)
        query["ImageId"] = "ami-0fake0debian12"
        query["InstanceType"] = type
        query["MinCount"] = "1"
        query["MaxCount"] = "1"
        query["ClientToken"] = token
        return try await client.send(EC2.RunInstancesResponse.self, query).instancesSet?.items.first?.instanceId ?? "none"
    }

    func testTheFakeKeepsClientTokensAsEC2Does() async throws {
        let client = await provider().client
        let first = try await runInstances(client, token: "kf-a")
        let again = try await runInstances(client, token: "kf-a")
        XCTAssertEqual(first, again, "the same token and parameters give back the same instance")
        let other = try await runInstances(client, token: "kf-b")
        XCTAssertNotEqual(first, other, "another token makes another instance")
        do {
            _ = try await runInstances(client, token: "kf-a", type: "t3.large")
            XCTFail("the same token with other parameters was accepted")
        } catch let failure as HTTPFailure {
            XCTAssertEqual(failure.ec2Code, "IdempotentParameterMismatch")
            XCTAssertEqual(EC2Errors.explain(failure, doing: nil).kind, .conflict)
        }
        let live = await fake.liveInstances()
        XCTAssertEqual(live.count, 2)
    }

    func testARunInstancesWhoseAnswerIsLostMakesExactlyOneInstance() async throws {
        // Both tries take effect and lose their answer: a dropped connection, then a 500.
        await fake.failNext("RunInstances", .drop(afterEffect: true))
        await fake.failNext("RunInstances", .serverError(afterEffect: true))
        let made = try await provider().create([node(1, token: Self.token("plan-1/node.app.1"))])[0].get()
        let runs = await fake.count("RunInstances")
        XCTAssertEqual(runs, 3, "sent three times with one client token")
        let live = await fake.liveInstances()
        XCTAssertEqual(live.map(\.id), [made.providerID], "exactly one instance")
        XCTAssertEqual(live.first?.clientToken, "kf-" + Self.token("plan-1/node.app.1"))
        XCTAssertEqual(live.first?.tags["kf-addr"], "node:app:1")
        XCTAssertEqual(live.first?.tags["Name"], "acme-dev-app-1")
    }

    func testThrottledRequestsAreRetriedWithBackoffAndSucceed() async throws {
        await fake.seedInstances(count: 3, project: "acme", environment: "dev", cluster: "app")
        for _ in 0..<3 { await fake.failNext("DescribeInstances", .throttle) }
        let retries = Mutex<[RetryEvent]>([])
        let observed = try await provider { event in retries.withLock { $0.append(event) } }.observe(scope)
        XCTAssertEqual(observed.filter { $0.kind == .node }.count, 3)
        let listings = await fake.count("DescribeInstances")
        XCTAssertEqual(listings, 4)
        let events = retries.withLock { $0 }
        XCTAssertEqual(events.map(\.status), [503, 503, 503])
        XCTAssertTrue(events.allSatisfy { $0.delay > 0 })
    }

    func testApplyRunsUnderThrottlingAndDropsConvergeWithNoDuplicateAndNoOrphan() async throws {
        await fake.setFaults(.init(throttleRate: 0.15, errorRate: 0.1, dropRate: 0.1, bootTime: 0.05, seed: 20261121))
        let provider = await provider(retries: 3)
        let wanted = (1...6).map { ResourceAddress.node(cluster: "app", index: $0) }
        // What an apply records: address → instance id.
        var recorded: [ResourceAddress: String] = [:]
        var converged = false
        for run in 1...12 {
            // A plan: what exists (adopted into the record), and a create for each node missing.
            guard let observed = try? await provider.observe(scope) else { continue }
            for resource in observed where resource.kind == .node { recorded[resource.address] = resource.providerID }
            let missing = wanted.filter { recorded[$0] == nil }
            if missing.isEmpty {
                converged = true
                break
            }
            // The apply: each create carries its plan's token, the same for every try in this run.
            var made: [ObservedResource] = []
            for address in missing {
                let index = Int(address.segments[2]) ?? 0
                if case .success(let resource) = await provider.create([node(index, token: Self.token("plan-\(run)/\(address)"))])[0] {
                    recorded[address] = resource.providerID
                    made.append(resource)
                }
            }
            _ = try? await provider.waitUntilReady(made, scope: scope)
        }
        XCTAssertTrue(converged, "did not converge in 12 runs")
        let injected = await fake.faultsInjected
        XCTAssertGreaterThan(injected, 0, "no fault was injected")
        let live = await fake.liveInstances()
        let addresses = live.compactMap { $0.tags["kf-addr"] }
        XCTAssertEqual(addresses.count, Set(addresses).count, "duplicate instances: \(addresses.sorted())")
        XCTAssertEqual(live.count, 6)
        XCTAssertEqual(Set(recorded.values), Set(live.map(\.id)), "recorded and existing instances differ (orphans)")
    }
}
