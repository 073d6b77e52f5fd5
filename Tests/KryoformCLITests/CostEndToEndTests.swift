import Foundation
import Planner
import ProviderFakes
import Providers
import Spec
import Testing
import TestSupport

/// `kryoform cost` on the shipped `prod` environment, priced on the fake DigitalOcean, the fake
/// Vultr and a real `moto_server`, each reached through `--endpoint`. The expected numbers are
/// worked out here from the catalogs the adapters read, cluster by cluster, not by the code
/// under test.
@Suite(.serialized)
struct CostEndToEndTests {
    static let accessKeyID = "AKIDKRYOFORMCOSTTEST"
    static let secret = "kryoform-cost-secret-never-printed-0123456789"

    struct Peers {
        let digitalocean: FakeDigitalOcean
        let vultr: FakeVultr
        let moto: MotoServer
        let root: URL

        static func start() async throws -> Peers {
            let moto = try MotoServer.start()
            return Peers(digitalocean: try await FakeDigitalOcean.start(contract: try ProviderDescriptions.digitalOcean()), vultr: try await FakeVultr.start(), moto: moto,
                         root: try shippedProjectCopy(prefix: "kryoform-cost"))
        }

        var variables: [String: String] {
            get async {
                ["DIGITALOCEAN_TOKEN": await digitalocean.token, "VULTR_API_KEY": await vultr.apiKey,
                 "AWS_ACCESS_KEY_ID": CostEndToEndTests.accessKeyID, "AWS_SECRET_ACCESS_KEY": CostEndToEndTests.secret]
            }
        }

        var endpoints: [String] {
            get async {
                ["--endpoint", "digitalocean=\(await digitalocean.baseURL.absoluteString)", "--endpoint", "vultr=\(await vultr.baseURL.absoluteString)",
                 "--endpoint", "aws=\(moto.baseURL.absoluteString)"]
            }
        }

        func run(_ arguments: [String], variables: [String: String]) async -> CommandRun {
            await CommandRun.runDetached(arguments + ["--no-color"], in: root, environment: variables)
        }

        /// The three catalogs as the adapters read them.
        func catalogs() async throws -> [String: Catalog] {
            let aws = EC2Provider.make(accessKeyID: CostEndToEndTests.accessKeyID, secretAccessKey: CostEndToEndTests.secret, endpoint: moto.baseURL)
            return [
                "digitalocean": try await DigitalOceanProvider.make(token: await digitalocean.token, endpoint: await digitalocean.baseURL).catalog(),
                "vultr": try await VultrProvider.make(apiKey: await vultr.apiKey, endpoint: await vultr.baseURL).catalog(),
                "aws": try await aws.catalog(),
            ]
        }

        func stop() async {
            await digitalocean.stop()
            await vultr.stop()
            moto.stop()
            try? FileManager.default.removeItem(at: root)
        }
    }

    /// What one cluster costs on `catalog`, worked out from the catalog alone: the cheapest size
    /// that satisfies the cluster, its disk where disks are bought apart, × nodes, plus volumes.
    static func expected(_ cluster: Cluster, catalog: Catalog, region: String) -> (size: String, monthly: Double)? {
        guard case let .neutral(cpu, memory, disk, gpu) = cluster.size else { return nil }
        let disksApart = catalog.nodeDiskPricePerGiB != nil
        let fitting = catalog.sizes.filter { offering in
            offering.regions.contains(region) && offering.cpu >= cpu && offering.memory >= memory && offering.gpu >= gpu
                && (disksApart || disk.map { offering.disk >= $0 } ?? true)
        }
        guard let cheapest = fitting.min(by: { ($0.monthlyPrice, $0.cpu, $0.memory.bytes, $0.slug) < ($1.monthlyPrice, $1.cpu, $1.memory.bytes, $1.slug) }) else { return nil }
        var node = cheapest.monthlyPrice
        if let perGiB = catalog.nodeDiskPricePerGiB { node += Double(disk.map { Int($0.gibibytes.rounded(.up)) } ?? 20) * perGiB }
        let volumes = cluster.volumes.reduce(0.0) { $0 + Double(cluster.nodes) * $1.size.gibibytes.rounded(.up) * catalog.volumePricePerGiB }
        return (cheapest.slug, Double(cluster.nodes) * node + volumes)
    }

    @Test("prod side by side on DigitalOcean, Vultr and AWS: each cluster's size and price as the catalogs give them, totals, JSON and text agree")
    func testCost_threeProviders() async throws {
        let peers = try await Peers.start()
        defer { Task { await peers.stop() } }
        let variables = await peers.variables
        let arguments = ["cost", "-e", "prod", "--provider", "digitalocean", "--provider", "vultr", "--provider", "aws"] + (await peers.endpoints)
        let json = await peers.run(arguments + ["--json"], variables: variables)
        #expect(json.status == 0, "\(json.stdout)\n\(json.stderr)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        let providers = try #require(answer["providers"] as? [[String: Any]])
        #expect(providers.compactMap { $0["provider"] as? String } == ["digitalocean", "vultr", "aws"])

        let specs = SpecLoader(fileSystem: LocalFileSystem(root: peers.root)).load()
        let prod = try #require(specs.environment(named: "prod"))
        let catalogs = try await peers.catalogs()
        let regions = ["digitalocean": "atl1", "vultr": "ewr", "aws": "us-east-1"]
        var totals: [String: Double] = [:]
        for provider in providers {
            let name = try #require(provider["provider"] as? String)
            let catalog = try #require(catalogs[name])
            #expect(provider["region"] as? String == regions[name])
            #expect(provider["currency"] as? String == "USD")
            let clusters = try #require(provider["clusters"] as? [[String: Any]])
            #expect(clusters.compactMap { $0["cluster"] as? String } == prod.clusters.map(\.name))
            var total = 0.0
            for cluster in prod.clusters {
                let row = try #require(clusters.first { $0["cluster"] as? String == cluster.name })
                let wanted = try #require(Self.expected(cluster, catalog: catalog, region: regions[name] ?? ""), "\(name) fits no size for \(cluster.name)")
                #expect(row["size"] as? String == wanted.size, "\(name) \(cluster.name)")
                let monthly = try #require(row["monthly"] as? Double)
                #expect(abs(monthly - wanted.monthly) < 0.006, "\(name) \(cluster.name): \(monthly) ≠ \(wanted.monthly)")
                #expect(row["nodes"] as? Int == cluster.nodes)
                total += wanted.monthly
            }
            let monthly = try #require(provider["monthly"] as? Double)
            #expect(abs(monthly - total) < 0.01, "\(name): \(monthly) ≠ \(total)")
            totals[name] = monthly
        }
        // Vultr's GPU plan and EC2's root disks are in play, not just the plain sizes.
        let ai = try #require(((providers[1]["clusters"] as? [[String: Any]])?.first { $0["cluster"] as? String == "ai" }))
        #expect((ai["size"] as? String)?.hasPrefix("vcg-") == true)
        let awsApplication = try #require(((providers[2]["clusters"] as? [[String: Any]])?.first { $0["cluster"] as? String == "application" }))
        #expect(awsApplication["disk_gib"] as? Int == 500)

        // The text shows the same totals, the cheapest marked, and no credential.
        let text = await peers.run(arguments, variables: variables)
        #expect(text.status == 0, "\(text.stdout)\n\(text.stderr)")
        for (name, total) in totals {
            #expect(text.stdout.contains(Money.format(total)), "\(name) total \(Money.format(total)) missing:\n\(text.stdout)")
        }
        let cheapest = try #require(totals.min { $0.value < $1.value })
        let cheapestLine = try #require(text.stdout.split(separator: "\n").first { $0.contains("← cheapest") })
        #expect(cheapestLine.contains(cheapest.key) && cheapestLine.contains(Money.format(cheapest.value)))
        for cluster in prod.clusters { #expect(text.stdout.contains("cluster \(cluster.name): \(cluster.nodes) node")) }
        for secret in variables.values {
            #expect(!text.stdout.contains(secret) && !text.stderr.contains(secret) && !json.stdout.contains(secret) && !json.stderr.contains(secret))
        }

        // The plan's cost line on DigitalOcean is the same number.
        let endpoint = await peers.digitalocean.baseURL.absoluteString
        try editFile(peers.root.appendingPathComponent("environments/prod.yaml")) {
            $0 = $0.replacingOccurrences(of: "  token: env:DIGITALOCEAN_TOKEN\n", with: "  token: env:DIGITALOCEAN_TOKEN\n  endpoint: \(endpoint)\n")
        }
        let plan = await peers.run(["plan", "-e", "prod", "--json"], variables: variables)
        #expect(plan.status == 0, "\(plan.stderr)")
        let planJSON = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let planned = try #require((planJSON["cost"] as? [String: Any])?["monthly_after"] as? Double)
        #expect(abs(planned - (totals["digitalocean"] ?? -1)) < 0.01, "plan says \(planned), cost says \(totals["digitalocean"] ?? -1)")
    }

    @Test("a provider that cannot be read is named with the reason; the others are still priced; exit 1")
    func testCost_missingCredentials() async throws {
        let peers = try await Peers.start()
        defer { Task { await peers.stop() } }
        var variables = await peers.variables
        variables["VULTR_API_KEY"] = ""
        let run = await peers.run(["cost", "-e", "prod", "--provider", "digitalocean", "--provider", "vultr", "--provider", "aws"] + (await peers.endpoints),
                                  variables: variables)
        #expect(run.status == 1)
        #expect(run.stdout.contains("vultr: ") && run.stdout.contains("VULTR_API_KEY"), "\(run.stdout)")
        #expect(run.stdout.contains("vultr         —          ✗ not priced: its catalog could not be read"), "\(run.stdout)")
        #expect(run.stdout.contains("aws           us-east-1  $"), "\(run.stdout)")
        #expect(run.stderr.contains("not every provider could price every cluster"))

        let region = await peers.run(["cost", "-e", "prod", "--provider", "aws", "--region", "aws=mars-1"] + (await peers.endpoints).suffix(2), variables: variables)
        #expect(region.status == 1)
        #expect(region.stdout.contains("mars-1"), "\(region.stdout)")

        let unknown = await peers.run(["cost", "-e", "prod", "--provider", "vultur"], variables: variables)
        #expect(unknown.status == 1 && unknown.stderr.contains("did you mean 'vultr'?"), "\(unknown.stderr)")
        let statik = await peers.run(["cost", "-e", "prod", "--provider", "static"], variables: variables)
        #expect(statik.status == 1 && statik.stderr.contains("already paid for"), "\(statik.stderr)")
        let malformed = await peers.run(["cost", "-e", "prod", "--provider", "aws", "--region", "sa-east-1"], variables: variables)
        #expect(malformed.status == 1 && malformed.stderr.contains("provider=value"), "\(malformed.stderr)")
    }
}
