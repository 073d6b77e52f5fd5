import Spec
import Testing

@Suite("The shipped KRYONIX project")
struct ShippedProjectTests {
    let specs = SpecLoader(fileSystem: Fixtures.shippedProject()).load()

    @Test("every file validates with no error and no warning")
    func validatesClean() {
        #expect(specs.diagnostics.map(\.line) == [])
        #expect(specs.project?.name == "kryonix")
    }

    @Test("the inventory holds the seed's 75 stacks: 49 services, 15 libraries, 11 external")
    func inventoryCounts() {
        #expect(specs.stacks.count == 75)
        let kinds = Dictionary(grouping: specs.stacks, by: \.kind).mapValues(\.count)
        #expect(kinds[.service] == 49)
        #expect(kinds[.library] == 15)
        #expect(kinds[.external] == 11)
        let layers = Dictionary(grouping: specs.stacks, by: \.layer).mapValues(\.count)
        #expect(layers == [.infrastructure: 12, .ai: 15, .monitoring: 8, .application: 12, .development: 10, .security: 8, .communication: 10])
    }

    @Test("dependencies follow the seed: Grafana on Prometheus, n8n and Chatwoot on PostgreSQL and Redis")
    func dependencies() throws {
        #expect(try #require(specs.stack(named: "grafana")).dependsOn.contains("prometheus"))
        #expect(Set(try #require(specs.stack(named: "n8n")).dependsOn).isSuperset(of: ["postgres", "redis"]))
        #expect(Set(try #require(specs.stack(named: "chatwoot")).dependsOn).isSuperset(of: ["postgres", "redis"]))
    }

    @Test("services name a public image and an exact version; libraries and externals deploy nothing")
    func servicesArePinned() {
        for stack in specs.stacks {
            if stack.kind == .service {
                #expect(stack.image != nil && stack.version != nil && stack.version != "latest", "\(stack.name)")
                #expect(stack.resources.memory > .zero && stack.resources.cpu > .zero, "\(stack.name)")
                #expect(["management", "application", "data", "ai"].contains(stack.role), "\(stack.name)")
            } else {
                #expect(stack.image == nil && stack.ports.isEmpty, "\(stack.name)")
            }
        }
        #expect(specs.stack(named: "postgres")?.image == "timescale/timescaledb")
        #expect(specs.stack(named: "keycloak")?.image == "quay.io/keycloak/keycloak")
        #expect(specs.stack(named: "ollama")?.resources.gpu == 1)
    }

    @Test("dev is one 16 vCPU / 32 GiB node carrying every role; local has the same topology on the sandbox")
    func devTopology() throws {
        let dev = try #require(specs.environment(named: "dev"))
        let local = try #require(specs.environment(named: "local"))
        #expect(dev.clusters.count == 1)
        #expect(Set(dev.clusters[0].roles) == ["management", "application", "data", "ai"])
        #expect(dev.clusters[0].nodes == 1)
        #expect(dev.clusters[0].size == .neutral(cpu: 16, memory: .gibibytes(32), disk: .gibibytes(200), gpu: 0))
        // The seed's 500 GB: 200 on the node, 300 in a volume for PostgreSQL.
        #expect(dev.clusters[0].volumes == [ClusterVolume(name: "pgdata", size: .gibibytes(300))])
        #expect(local.provider.name == .sandbox)
        #expect(local.clusters == dev.clusters)
        #expect(specs.stacks(in: local).map(\.name) == specs.stacks(in: dev).map(\.name))
    }

    @Test("prod is the seed's production scenario and is protected")
    func prodTopology() throws {
        let prod = try #require(specs.environment(named: "prod"))
        let shape = prod.clusters.map { ($0.roles, $0.nodes, $0.size) }
        #expect(shape.map(\.0) == [["management"], ["application"], ["data"], ["ai"]])
        #expect(shape.map(\.1) == [1, 3, 3, 1])
        #expect(prod.clusters[0].size == .neutral(cpu: 8, memory: .gibibytes(16), disk: .gibibytes(200), gpu: 0))
        #expect(prod.clusters[1].size == .neutral(cpu: 12, memory: .gibibytes(32), disk: .gibibytes(500), gpu: 0))
        #expect(prod.clusters[2].size == .neutral(cpu: 8, memory: .gibibytes(24), disk: nil, gpu: 0))
        #expect(prod.clusters[2].volumes == [ClusterVolume(name: "pgdata", size: .tebibytes(1))])
        #expect(prod.clusters[3].size == .neutral(cpu: 8, memory: .gibibytes(32), disk: .gibibytes(500), gpu: 1))
        #expect(prod.protect)
        #expect(prod.provider.credentials["token"] == .environment("DIGITALOCEAN_TOKEN"))
    }

    @Test("every shipped environment fits its nodes, with the numbers the environment files quote")
    func capacityFits() throws {
        for environment in specs.environments {
            let report = CapacityPlanner.report(environment: environment, stacks: specs.stacks(in: environment))
            #expect(report.pools.allSatisfy { $0.fits }, "\(environment.name)")
        }
        let dev = try #require(specs.environment(named: "dev"))
        let pool = try #require(CapacityPlanner.report(environment: dev, stacks: specs.stacks(in: dev)).pools.first)
        #expect(pool.reserved.cpu == CPU(millicores: 12_200))
        #expect(pool.allocatable == Resources(cpu: .cores(15), memory: .gibibytes(31), gpu: 0))
    }
}
