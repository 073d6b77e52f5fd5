import Foundation
import Planner
import ProviderFakes
import Providers

/// The Vultr adapter against the fake Vultr server with `latency` added to every answer:
/// request counts and wall time of reading the catalog, of observing an environment of 1,000
/// instances (cursor pagination, 500 a page), and of a burst of 40 instance creates through
/// the client-side limit of 20 requests a second (the fake answers 429 past 30).
enum VultrBench {
    static func run(latency: Double) async {
        do {
            try await catalogAndObservation(latency: latency)
            try await burst(latency: latency)
        } catch {
            FileHandle.standardError.write(Data("kryoform-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func catalogAndObservation(latency: Double) async throws {
        let fake = try await FakeVultr.start(faults: .init(latency: latency))
        await fake.seedInstances(count: 1_000, project: "bench", environment: "big", cluster: "app")
        let provider = VultrProvider.make(apiKey: await fake.apiKey, endpoint: await fake.baseURL, settings: .init(availabilityRegion: "ewr"))
        let clock = ContinuousClock()
        print("## Vultr: catalog and observing 1,000 instances (latency \(Int(latency * 1000)) ms)")
        print("")
        print("| what | requests | instance-list requests | wall |")
        print("|---|---|---|---|")
        var started = clock.now
        let catalog = try await provider.catalog()
        print("| catalog (plans, regions, systems, ewr availability) | \(await fake.totalRequests) | 0 | \(seconds(clock.now - started)) |")
        await fake.resetCounts()
        started = clock.now
        let observed = try await provider.observe(ResourceScope(project: "bench", environment: "big"))
        let elapsed = clock.now - started
        print("| observe (instances, blocks, VPCs, firewall groups, keys) | \(await fake.totalRequests) | \(await fake.count("GET /v2/instances")) | \(seconds(elapsed)) |")
        print("")
        print("catalog: \(catalog.sizes.count) sizes, \(catalog.regions.count) regions; observed \(observed.filter { $0.kind == .node }.count) instances")
        print("")
        await fake.stop()
    }

    static func burst(latency: Double) async throws {
        let fake = try await FakeVultr.start(faults: .init(latency: latency))
        let scope = ResourceScope(project: "bench", environment: "burst")
        print("## Vultr: 40 instance creates at once (latency \(Int(latency * 1000)) ms; the fake answers 429 past 30 requests a second)")
        print("")
        print("| client limit | requests | 429s from the fake | instances made | wall |")
        print("|---|---|---|---|---|")
        for limit in [20, 10_000] {
            let provider = VultrProvider.make(apiKey: await fake.apiKey, endpoint: await fake.baseURL, settings: .init(requestsPerSecond: limit))
            let environment = "burst\(limit)"
            let requestScope = ResourceScope(project: scope.project, environment: environment)
            let network = await provider.create([ResourceRequest(address: .network, kind: .network, attributes: ["region": "ewr", "cidr": "10.50.0.0/16"],
                                                                 tags: requestScope.tags(for: .network))])
            let vpc = try network[0].get().providerID
            await fake.resetCounts()
            let clock = ContinuousClock()
            let started = clock.now
            let made = await withTaskGroup(of: Bool.self) { group in
                for index in 1...40 {
                    let address = ResourceAddress.node(cluster: "app", index: index)
                    let request = ResourceRequest(address: address, kind: .node,
                                                  attributes: ["size": "vc2-1c-1gb", "region": "ewr", "image": "debian-12", "network": "10.50.0.0/16"],
                                                  tags: requestScope.tags(for: address), dependencies: [.network: vpc])
                    group.addTask { (try? await provider.create([request])[0].get()) != nil }
                }
                var count = 0
                for await ok in group where ok { count += 1 }
                return count
            }
            let elapsed = clock.now - started
            print("| \(limit == 10_000 ? "none" : "\(limit)/s") | \(await fake.totalRequests) | \(await fake.rateLimited) | \(made) | \(seconds(elapsed)) |")
        }
        print("")
        await fake.stop()
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
