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

        func stop() async {
            await digitalocean.stop()
            await vultr.stop()
            moto.stop()
            try? FileManager.default.removeItem(at: root)
        }
    }

    static func cents(_ amount: Double) -> Double { (amount * 100).rounded() / 100 }

    /// The shipped prod's clusters and their node counts.
    static let clusters: [(name: String, nodes: Int)] = [("management", 1), ("application", 3), ("data", 3), ("ai", 1)]

    /// Each cluster's size and month on each provider, worked out by hand. The rule, from
    /// docs/cost.md: the cheapest size in the region with at least the cluster's vCPU, memory, GPUs
    /// and (where sizes have disks) disk; the month is nodes × price plus volumes. Clusters:
    /// management 1 × {8 vCPU, 16 GiB, 200 GiB}, application 3 × {12, 32 GiB, 500 GiB},
    /// data 3 × {8, 24 GiB} with a 1 TiB volume each, ai 1 × {8, 32 GiB, 500 GiB, 1 GPU}.
    static let expected: [String: [String: (size: String, monthly: Double)]] = [
        // atl1, FakeDigitalOceanCatalog (shared/catalogs/digitalocean-sizes.csv); volumes $0.10/GiB.
        "digitalocean": [
            // s-8vcpu-16gb $96 (8, 16 GiB, 320 GiB); the next, s-8vcpu-16gb-amd, is $112.
            "management": ("s-8vcpu-16gb", 96),
            // c5-16vcpu-32gb $496 (16, 32 GiB, 1000 GiB); c-16 ($336) and c2-16vcpu-32gb ($376) have
            // too little disk (200, 400 GiB). 3 × $496.
            "application": ("c5-16vcpu-32gb", 3 * 496),
            // s-8vcpu-32gb-amd $168 (8, 32 GiB); no size with 24–31 GiB and 8 vCPU is cheaper.
            // 3 × $168 + 3 × 1024 GiB × $0.10.
            "data": ("s-8vcpu-32gb-amd", 3 * 168 + 3 * 1024 * 0.10),
            // GPU sizes are in atl1 with one GPU: gpu-4000adax1-20gb $565 (8, 32 GiB, 500 GiB) is the cheapest.
            "ai": ("gpu-4000adax1-20gb", 565),
        ],
        // ewr, FakeVultrCatalog (vc2-24c-96gb is sold out in ewr); volumes $0.10/GiB.
        "vultr": [
            // vc2-8c-32gb $160 (8, 32 GiB, 640 GiB); vhf-8c-32gb is $192.
            "management": ("vc2-8c-32gb", 160),
            // vc2-16c-64gb $320 (16, 64 GiB, 1280 GiB); voc-c-16c-32gb-200s-amd ($287.50) has a 200 GiB disk.
            "application": ("vc2-16c-64gb", 3 * 320),
            "data": ("vc2-8c-32gb", 3 * 160 + 3 * 1024 * 0.10),
            // vcg-l40s-16c-180g-48vram $1,232.75 (16, 180 GiB, 1200 GiB, a GPU); vcg-a100-12c-120g-80vram is $1,750.
            "ai": ("vcg-l40s-16c-180g-48vram", 1232.75),
        ],
        // us-east-1: moto's instance types (vCPU, memory, GPUs) at EC2Prices.swift's hourly prices
        // × 730; sizes have no disk, so each node adds its disk (20 GiB when none is named) at gp3's
        // $0.08/GiB, as volumes are. A node's month is priced to the cent, as a bill shows it.
        "aws": [
            // t3a.2xlarge $0.3008/h (8, 32 GiB); c6a.2xlarge is $0.306/h. $219.584 + 200 × $0.08.
            "management": ("t3a.2xlarge", cents(0.3008 * 730 + 200 * 0.08)),
            // c6a.4xlarge $0.612/h (16, 32 GiB); c6i.4xlarge is $0.68/h. 3 × ($446.76 + 500 × $0.08).
            "application": ("c6a.4xlarge", 3 * cents(0.612 * 730 + 500 * 0.08)),
            // t3a.2xlarge again, with the default 20 GiB disk ($221.184 → $221.18 a node), and
            // 3 × 1024 GiB × $0.08 of volumes.
            "data": ("t3a.2xlarge", 3 * cents(0.3008 * 730 + 20 * 0.08) + 3 * 1024 * 0.08),
            // g4dn.2xlarge $0.752/h (8, 32 GiB, one T4); g4dn.4xlarge is $1.204/h.
            "ai": ("g4dn.2xlarge", cents(0.752 * 730 + 500 * 0.08)),
        ],
    ]

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

        let regions = ["digitalocean": "atl1", "vultr": "ewr", "aws": "us-east-1"]
        var totals: [String: Double] = [:]
        for provider in providers {
            let name = try #require(provider["provider"] as? String)
            let wanted = try #require(Self.expected[name])
            #expect(provider["region"] as? String == regions[name])
            #expect(provider["currency"] as? String == "USD")
            let clusters = try #require(provider["clusters"] as? [[String: Any]])
            #expect(clusters.compactMap { $0["cluster"] as? String } == Self.clusters.map(\.name))
            for cluster in Self.clusters {
                let row = try #require(clusters.first { $0["cluster"] as? String == cluster.name })
                let expected = try #require(wanted[cluster.name])
                #expect(row["size"] as? String == expected.size, "\(name) \(cluster.name)")
                let monthly = try #require(row["monthly"] as? Double)
                #expect(abs(monthly - expected.monthly) < 0.006, "\(name) \(cluster.name): \(monthly) ≠ \(expected.monthly)")
                #expect(row["nodes"] as? Int == cluster.nodes)
            }
            let total = wanted.values.map(\.monthly).reduce(0, +)
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
        for cluster in Self.clusters { #expect(text.stdout.contains("cluster \(cluster.name): \(cluster.nodes) node")) }
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

    @Test("among sizes of one price the smaller wins: the fewest vCPU")
    func testCost_equalPricesGoToTheSmallerSize() async throws {
        let peers = try await Peers.start()
        defer { Task { await peers.stop() } }
        try editFile(peers.root.appendingPathComponent("environments/prod.yaml")) {
            $0 = $0.replacingOccurrences(of: "    size: { cpu: 8, memory: 24GiB }\n", with: "    size: { cpu: 24, memory: 96GiB }\n")
        }
        let run = await peers.run(["cost", "-e", "prod", "--provider", "digitalocean", "--json"] + (await peers.endpoints).prefix(2),
                                  variables: await peers.variables)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        let clusters = try #require((answer["providers"] as? [[String: Any]])?.first?["clusters"] as? [[String: Any]])
        let data = try #require(clusters.first { $0["cluster"] as? String == "data" })
        // In FakeDigitalOceanCatalog nothing with at least 24 vCPU and 96 GiB costs less than
        // $1,008, and three sizes cost exactly that: m-24vcpu-192gb (24 vCPU), g-32vcpu-128gb (32)
        // and c-48 (48). The one with the fewest vCPU is chosen.
        #expect(data["size"] as? String == "m-24vcpu-192gb", "\(data)")
        #expect(abs((data["monthly"] as? Double ?? 0) - (3 * 1008 + 3 * 1024 * 0.10)) < 0.006, "\(data)")
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
