import Spec
import Testing

@Suite("Capacity of environments")
struct CapacityTests {
    func load(_ changes: [String: String]) -> Specs {
        var fileSystem = Fixtures.corpusBase()
        for (path, text) in changes { fileSystem[path] = text }
        return SpecLoader(fileSystem: fileSystem).load()
    }

    static let environment = """
    environment: dev
    provider: { name: sandbox }
    domain: demo.example
    clusters:
      edge: { role: application, nodes: 2, size: { cpu: 2, memory: 4GiB } }
      store: { roles: [data, application], nodes: 1, size: { cpu: 4, memory: 8GiB } }
    stacks: all

    """

    @Test("a global stack reserves once per node of its role, and clusters sharing a role pool their nodes")
    func globalStacksAndPools() throws {
        let specs = load([
            "environments/dev.yaml": Self.environment,
            "stacks/redis.yaml": "stack: redis\nkind: service\nlayer: infrastructure\nrole: application\nimage: redis\nversion: 7.4.1\nmode: global\nresources: { cpu: 0.5, memory: 1GiB }\n",
        ])
        #expect(specs.diagnostics.map(\.line) == [])
        let environment = try #require(specs.environment(named: "dev"))
        let report = CapacityPlanner.report(environment: environment, stacks: specs.stacks(in: environment))
        #expect(report.pools.count == 1)
        let application = try #require(report.pools[0].roles.first { $0.role == "application" })
        #expect(application.nodes == 3)
        let redis = try #require(application.consumers.first { $0.stack == "redis" })
        #expect(redis.tasks == 3)
        // 2 nodes of (2-1) vCPU and (4-1) GiB, plus 1 of (4-1) and (8-1).
        #expect(report.pools[0].allocatable == Resources(cpu: .cores(5), memory: .gibibytes(13), gpu: 0))
        let data = try #require(report.pools[0].roles.first { $0.role == "data" })
        #expect(data.allocatable == Resources(cpu: .cores(3), memory: .gibibytes(7), gpu: 0))
    }

    @Test("a role carried by part of a pool is checked against its own nodes")
    func roleOnPartOfPool() {
        let specs = load([
            "environments/dev.yaml": Self.environment,
            "stacks/postgres.yaml": "stack: postgres\nkind: service\nlayer: infrastructure\nrole: data\nimage: postgres\nversion: \"16.4\"\nresources: { cpu: 1, memory: 4GiB }\nreplicas: 2\n",
        ])
        #expect(specs.diagnostics.map(\.line) == [
            "environments/dev.yaml:6:3: error: the nodes of role 'data' in environment 'dev' are short of capacity: their stacks reserve 9GiB memory (nodes offer 7GiB)",
        ])
    }

    @Test("a provider size slug is checked at plan time, with a warning now")
    func slugSize() {
        let specs = load(["environments/dev.yaml": """
        environment: dev
        provider: { name: digitalocean, region: nyc3 }
        domain: demo.example
        clusters:
          main: { roles: [application, data], nodes: 1, size: s-8vcpu-16gb }
        stacks: all

        """])
        #expect(specs.diagnostics.map(\.line) == [
            "environments/dev.yaml:5:3: warning: capacity of cluster 'main' is known only from the provider's catalog; it is checked at plan time",
        ])
    }
}
