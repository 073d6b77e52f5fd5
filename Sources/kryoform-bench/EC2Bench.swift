import Foundation
import Planner
import ProviderFakes
import Providers
import TestSupport

/// The EC2 adapter observing 1,000 instances: against the fake EC2 with `latency` added to every
/// answer (the instances seeded directly in the fake), and, when `moto_server` is installed,
/// against moto with 1,000 instances made through moto's RunInstances.
enum EC2Bench {
    static func run(latency: Double) async {
        do {
            print("## Observing 1,000 EC2 instances")
            print("")
            print("| server | latency | page size | DescribeInstances pages | requests | wall |")
            print("|---|---|---|---|---|---|")
            for pageSize in [1_000, 100] { try await fake(latency: latency, pageSize: pageSize) }
            try await moto()
            print("")
        } catch {
            FileHandle.standardError.write(Data("kryoform-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static let scope = ResourceScope(project: "bench", environment: "big")

    static func fake(latency: Double, pageSize: Int) async throws {
        let fake = try await FakeEC2.start(faults: .init(latency: latency))
        await fake.seedInstances(count: 1_000, project: scope.project, environment: scope.environment, cluster: "app")
        let endpoint = await fake.baseURL
        let provider = EC2Provider.make(accessKeyID: fake.accessKeyID, secretAccessKey: fake.secretAccessKey, region: "us-east-1",
                                        endpoint: endpoint, settings: .init(pageSize: pageSize))
        let clock = ContinuousClock()
        let started = clock.now
        let observed = try await provider.observe(scope)
        let elapsed = clock.now - started
        let nodes = observed.filter { $0.kind == .node }.count
        guard nodes == 1_000 else { throw FixtureError("observed \(nodes) instances, not 1,000") }
        print("| fake EC2 | \(Int(latency * 1000)) ms | \(pageSize) | \(await fake.count("DescribeInstances")) | \(await fake.totalRequests) | \(seconds(elapsed)) |")
        await fake.stop()
    }

    static func moto() async throws {
        guard MotoServer.executable() != nil else {
            print("| moto | – | – | – | – | not run: moto_server is not installed |")
            return
        }
        let moto = try MotoServer.start()
        defer { moto.stop() }
        // 1,000 instances tagged as kryoform tags them, made through moto's own RunInstances, 100 a
        // request (moto checks no signature; the Authorization header only names the region).
        let http = AsyncHTTPTransport(baseURL: moto.baseURL)
        for batch in 1...10 {
            let form = "Action=RunInstances&Version=2016-11-15&ImageId=ami-04681a1dbd79675a5&InstanceType=t3.small&MinCount=100&MaxCount=100"
                + "&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=kf-project&TagSpecification.1.Tag.1.Value=\(scope.project)"
                + "&TagSpecification.1.Tag.2.Key=kf-env&TagSpecification.1.Tag.2.Value=\(scope.environment)"
                + "&TagSpecification.1.Tag.3.Key=kf-addr&TagSpecification.1.Tag.3.Value=node%3Aapp%3A\(batch)"
            let answer = try await http.send(HTTPRequest(method: "POST", path: "/", headers: [
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("Authorization", "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0"),
            ], body: Data(form.utf8)))
            guard answer.isSuccess else { throw FixtureError("moto RunInstances answered \(answer.status)") }
        }
        for pageSize in [1_000, 100] {
            let paged = EC2Provider.make(accessKeyID: "bench", secretAccessKey: "bench-secret", region: "us-east-1", endpoint: moto.baseURL,
                                         settings: .init(pageSize: pageSize))
            let clock = ContinuousClock()
            let started = clock.now
            let observed = try await paged.observe(scope)
            let elapsed = clock.now - started
            // Ten instances share each address here; observation keeps them all.
            let count = observed.filter { $0.kind == .node }.count
            guard count == 1_000 else { throw FixtureError("moto listed \(count) instances, not 1,000") }
            let pages = (1_000 + pageSize - 1) / pageSize
            print("| moto 5.2.1 | loopback | \(pageSize) | \(pages) | \(pages + 6) | \(seconds(elapsed)) |")
        }
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
