import Foundation
@testable import Planner
import Testing

/// An environment of clusters, its swarm and stacks, observed as deployed with an older image
/// on the nodes listed in `replaced` (so the plan replaces them).
struct SwarmWorld {
    var clusters: [(name: String, nodes: Int)]
    var stacks: [(name: String, role: String)]

    var nodes: [DesiredResource] {
        clusters.flatMap { cluster in (1...cluster.nodes).map { World.node(cluster.name, $0) } }
    }

    var swarm: DesiredResource {
        DesiredStateBuilder.swarm(members: nodes.map { ($0.address, [$0.attributes["roles"] ?? ""]) }, dependsOn: nodes.map(\.address))
    }

    var desired: [DesiredResource] {
        [World.network, World.key] + nodes + [swarm] + stacks.map { stack in
            DesiredResource(address: .stack(stack.name), kind: .stack, attributes: ["image": "web:1", "role": stack.role], dependsOn: [.swarm])
        }
    }

    /// Everything deployed as desired, but the `replaced` nodes on an older image.
    func observed(replaced: Set<ResourceAddress>, deployed: Bool = true) -> [ObservedResource] {
        desired.filter { deployed || $0.kind != .stack }.map { resource in
            var observed = World.observed(resource)
            if replaced.contains(resource.address) { observed.attributes["image"] = "debian-11" }
            return observed
        }
    }

    func plan(replacing replaced: Set<ResourceAddress>, without removed: [DesiredResource] = [], deployed: Bool = true, mode: Plan.Mode = .normal) -> Plan {
        let observed = observed(replaced: replaced, deployed: deployed) + removed.map { World.observed($0) }
        return World.plan(desired, observed: observed, state: World.state(observed), mode: mode)
    }
}

@Suite("Node replacements keep the swarm running")
struct SwarmContinuityTests {
    static let three = SwarmWorld(clusters: [("management", 3), ("application", 2)], stacks: [("web", "application")])

    @Test("nodes are replaced one at a time, managers first: each next delete waits for the previous node's create")
    func testGraph_replacementsAreChained() throws {
        let managers = (1...3).map { ResourceAddress.node(cluster: "management", index: $0) }
        let worker = ResourceAddress.node(cluster: "application", index: 1)
        let plan = Self.three.plan(replacing: Set(managers + [worker]))
        #expect(plan.errors.isEmpty, "\(plan.errors)")
        let graph = ApplyGraph(plan: plan)
        func operation(_ address: ResourceAddress, _ phase: ApplyGraph.Phase) throws -> ApplyGraph.Operation {
            try #require(graph.operations.first { $0.change.address == address && $0.phase == phase })
        }
        let order = managers + [worker]
        for (previous, next) in zip(order, order.dropFirst()) {
            let create = try operation(previous, .create)
            let delete = try operation(next, .delete)
            #expect(delete.prerequisites.contains(create.id), "\(next) is deleted only once \(previous) is made again")
        }
        #expect(try operation(managers[0], .delete).prerequisites.isEmpty, "the first manager goes first")
    }

    @Test("applied with room for all at once, the replacements still run one after another, managers first")
    func testApply_nodesAreReplacedOneAfterAnother() async throws {
        let managers = (1...3).map { ResourceAddress.node(cluster: "management", index: $0) }
        let workers = (1...2).map { ResourceAddress.node(cluster: "application", index: $0) }
        let observed = Self.three.observed(replaced: Set(managers + workers))
        let state = World.state(observed)
        let plan = World.plan(Self.three.desired, observed: observed, state: state)
        let store = MemoryStateStore(state)
        let driver = FakeDriver()
        for resource in observed { await driver.seed(resource) }
        let result = await ApplyWalk(plan: plan, scope: ResourceScope(project: "p", environment: "e"), driver: { _ in driver },
                                     recorder: StateRecorder(store: store, state: state), parallelism: 10, sleep: { _ in }).run()
        #expect(result.succeeded)
        let calls = await driver.calls.filter { $0.contains(" node.") }
        let expected = (managers + workers).flatMap { ["delete \($0)", "create \($0)"] }
        #expect(calls == expected, "\(calls)")
    }

    @Test("replacing the only node of a role a deployed stack runs on is refused with the reason; with a second node of that role it is not")
    func testPlan_replacingTheOnlyNodeOfARoleIsRefused() {
        let single = SwarmWorld(clusters: [("management", 1), ("application", 1)], stacks: [("web", "application")])
        let app = ResourceAddress.node(cluster: "application", index: 1)
        let refused = single.plan(replacing: [app])
        #expect(refused.errors.count == 1)
        #expect(refused.errors.first?.contains("replacing or deleting node.application.1 leaves role application with no node while the apply runs, and stack.web runs on it") == true,
                "\(refused.errors)")
        #expect(refused.errors.first?.contains("= fix: add a node with role application first") == true)

        #expect(Self.three.plan(replacing: [app]).errors.isEmpty, "node.application.2 keeps the role meanwhile")
        let both = Set((1...2).map { ResourceAddress.node(cluster: "application", index: $0) })
        #expect(Self.three.plan(replacing: both).errors.isEmpty, "replaced in turn, one of the two is up at any time")
        #expect(single.plan(replacing: [app], deployed: false).errors.isEmpty, "no stack is deployed yet: nothing stops")
    }

    @Test("deleting the last node of a role a stack needs is refused for the end state")
    func testPlan_deletingTheLastNodeOfARoleIsRefused() {
        let withoutApplication = SwarmWorld(clusters: [("management", 1)], stacks: [("web", "application")])
        let plan = withoutApplication.plan(replacing: [], without: [World.node("application", 1)])
        #expect(plan.errors.contains { $0.contains("after this plan no node has role application, which stack.web runs on") }, "\(plan.errors)")
    }

    @Test("replacing the swarm's only manager is refused; with three managers one at a time it is not; destroy refuses nothing")
    func testPlan_replacingTheOnlyManagerIsRefused() {
        let single = SwarmWorld(clusters: [("management", 1), ("application", 2)], stacks: [("web", "application")])
        let manager = ResourceAddress.node(cluster: "management", index: 1)
        let refused = single.plan(replacing: [manager])
        #expect(refused.errors == ["this plan replaces or deletes node.management.1, leaving the swarm with no manager while the apply runs"
                + "\n  = fix: run three management nodes so managers change one at a time, or add a manager first and apply, then make this change"])
        #expect(Self.three.plan(replacing: Set((1...3).map { ResourceAddress.node(cluster: "management", index: $0) })).errors.isEmpty)
        #expect(single.plan(replacing: [], mode: .destroy).errors.isEmpty)
    }
}
