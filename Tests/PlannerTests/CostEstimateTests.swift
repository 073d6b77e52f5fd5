import Foundation
@testable import Planner
import Spec
import Testing

@Suite("Cost of an environment on a provider's catalog")
struct CostEstimateTests {
    func environment(_ clusters: String, provider: String = "digitalocean") throws -> Environment {
        let texts = [
            "kryoform.yaml": "project: shop\n",
            "environments/prod.yaml": "environment: prod\nprovider:\n  name: \(provider)\n  region: nyc3\nclusters:\n\(clusters)stacks: all\n",
        ]
        let specs = SpecLoader(fileSystem: InMemoryFileSystem(texts: texts)).load()
        #expect(specs.diagnostics.filter { $0.severity == .error }.isEmpty, "\(specs.diagnostics)")
        return try #require(specs.environment(named: "prod"))
    }

    /// EC2-like: sizes without disks of their own, the root disk bought per GiB.
    let diskPriced = Catalog(
        provider: "aws", regions: [CatalogRegion(slug: "us-east-1", name: "N. Virginia")],
        sizes: [
            SizeOffering(slug: "m.large", cpu: 2, memory: .gibibytes(8), disk: .gibibytes(0), monthlyPrice: 70.08, regions: ["us-east-1"]),
            SizeOffering(slug: "m.2xlarge", cpu: 8, memory: .gibibytes(32), disk: .gibibytes(0), monthlyPrice: 280.32, regions: ["us-east-1"]),
        ],
        defaultImage: "debian-12", images: ["debian-12"], volumePricePerGiB: 0.08, defaultRegion: "us-east-1", nodeDiskPricePerGiB: 0.08)

    @Test("each cluster: the size a plan would choose, count × price, volumes; the total is the plan's cost line")
    func testCost_matchesThePlan() throws {
        let environment = try environment("""
              web: { role: application, nodes: 3, size: { cpu: 2, memory: 4GiB } }
              db: { role: data, nodes: 2, size: { cpu: 8, memory: 16GiB }, volumes: [ { name: pg, size: 100GiB } ] }

            """)
        let cost = CostEstimator.estimate(environment, project: "shop", on: testCatalog, region: nil, slugCatalog: nil)
        #expect(cost.problem == nil)
        #expect(cost.region == "nyc3")
        let web = try #require(cost.clusters.first { $0.cluster == "web" })
        #expect(web.size == "small" && web.nodeMonthly == 24 && web.monthly == 72 && web.volumes.isEmpty)
        let db = try #require(cost.clusters.first { $0.cluster == "db" })
        #expect(db.size == "large" && db.nodeMonthly == 96)
        #expect(db.volumes.map(\.name) == ["pg"] && db.volumes.first?.count == 2 && db.volumes.first?.sizeGiB == 100)
        #expect(abs((db.volumes.first?.monthly ?? 0) - 20) < 1e-9)
        #expect(abs((db.monthly ?? 0) - (2 * 96 + 20)) < 1e-9)
        #expect(abs((cost.monthly ?? 0) - (72 + 212)) < 1e-9)

        // What the plan of the same environment says it costs once made.
        let desired = try DesiredStateBuilder(project: "shop", environment: environment, stacks: [], catalog: testCatalog, publicKey: "ssh-ed25519 AAAA k").build().get()
        let plan = Planner.plan(Planner.Input(desired: desired, observed: [], state: nil, catalog: testCatalog, mode: .normal, protect: false,
                                              allowDestroy: false, targets: [], specsDigest: "d", now: Date(timeIntervalSince1970: 0)))
        #expect(plan.cost.monthlyAfter == cost.monthly)
    }

    @Test("where disks are bought by size, the node's price includes its disk and any size takes the disk asked for")
    func testCost_diskBoughtBySize() throws {
        let environment = try environment("      app: { role: application, nodes: 2, size: { cpu: 2, memory: 8GiB, disk: 200GiB } }\n      tiny: { role: management, nodes: 1, size: { cpu: 1, memory: 1GiB } }\n")
        let cost = CostEstimator.estimate(environment, project: "shop", on: diskPriced, region: nil, slugCatalog: nil)
        let app = try #require(cost.clusters.first { $0.cluster == "app" })
        #expect(app.size == "m.large", "a size with no disk of its own still takes 200 GiB")
        #expect(app.diskGiB == 200)
        #expect(app.nodeMonthly == 70.08 + 200 * 0.08)
        let tiny = try #require(cost.clusters.first { $0.cluster == "tiny" })
        #expect(tiny.diskGiB == Catalog.defaultNodeDiskGiB)
        #expect(tiny.nodeMonthly == 70.08 + Double(Catalog.defaultNodeDiskGiB) * 0.08)
        // The desired node carries the disk, and the plan prices it the same way.
        var moved = environment
        moved.provider.name = .aws
        moved.provider.region = "us-east-1"
        let desired = try DesiredStateBuilder(project: "shop", environment: moved, stacks: [], catalog: diskPriced, publicKey: "ssh-ed25519 AAAA k").build().get()
        #expect(desired.resource(.node(cluster: "app", index: 1))?.attributes["disk_gib"] == "200")
        #expect(diskPriced.monthlyPrice(kind: .node, attributes: desired.resource(.node(cluster: "app", index: 1))?.attributes ?? [:]) == app.nodeMonthly)
        #expect(ResourceSchema.effect(of: "disk_gib", on: .node, from: "200", to: "100") == .replace("a disk cannot shrink; forces replacement"))
        #expect(ResourceSchema.effect(of: "disk_gib", on: .node, from: "100", to: "200") == .inPlace("grow in place"))
    }

    @Test("a size named by the environment's provider's slug is compared by that slug's vCPU, memory, disk and GPU")
    func testCost_slugTranslated() throws {
        let environment = try environment("      app: { role: application, nodes: 1, size: large }\n")
        let cost = CostEstimator.estimate(environment, project: "shop", on: diskPriced, region: nil, slugCatalog: testCatalog)
        let app = try #require(cost.clusters.first)
        #expect(app.wanted == "like large: 8 vCPU, 16GiB, 320GiB disk")
        #expect(app.size == "m.2xlarge")
        #expect(app.diskGiB == 320, "like for like: the slug's own disk is bought as a root volume")
        let unknown = CostEstimator.estimate(environment, project: "shop", on: diskPriced, region: nil, slugCatalog: nil)
        #expect(unknown.clusters.first?.problem?.contains("give the cluster a neutral size") == true)
        #expect(unknown.monthly == nil)
    }

    @Test("a region the provider does not have, and a cluster no size fits, are problems with the reason, not prices")
    func testCost_problems() throws {
        let environment = try environment("      ai: { role: ai, nodes: 1, size: { cpu: 4, memory: 16GiB, gpu: 1 } }\n")
        let elsewhere = CostEstimator.estimate(environment, project: "shop", on: testCatalog, region: "fra1", slugCatalog: nil)
        #expect(elsewhere.problem?.hasPrefix("test has no region 'fra1'") == true)
        #expect(elsewhere.monthly == nil)
        let noGPU = CostEstimator.estimate(environment, project: "shop", on: testCatalog, region: "ams3", slugCatalog: nil)
        #expect(noGPU.clusters.first?.problem?.hasPrefix("no size in region ams3 has at least 4 vCPU, 16GiB, 1 GPU") == true)
        #expect(noGPU.monthly == nil)
        #expect(CostEstimator.estimate(environment, project: "shop", on: testCatalog, region: "nyc3", slugCatalog: nil).monthly == 1146)
    }
}
