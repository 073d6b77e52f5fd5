import Foundation
@testable import Planner
import Testing

/// `--target`: a targeted plan holds what it looked at and says what it left out; a target that
/// names nothing is an error, never an empty plan that passes a CI gate.
@Suite("Planner: --target")
struct TargetTests {
    /// `nodes: 2` with one node made so far: node.app.2 is pending.
    let wanted = [World.network, World.key, World.node("app", 1), World.node("app", 2), World.volume("app", 1, gib: 100)]
    var made: [ObservedResource] { [World.network, World.key, World.node("app", 1), World.volume("app", 1, gib: 100)].map { World.observed($0) } }

    @Test("a target past the node count names no address: an error naming the closest address, never 'No changes'")
    func testPlan_unknownTargetIsAnError() throws {
        let input = Planner.Input(desired: World.desired(wanted), observed: made, state: World.state(made), catalog: testCatalog,
                                  targets: ["node.app.3"], specsDigest: "digest")
        let unknown = Planner.unknownTargets(input)
        #expect(unknown.map(\.target) == ["node.app.3"])
        let error = try #require(unknown.first)
        #expect(error.message == "--target node.app.3: environment e has no resource node.app.3 (not in the specs, at the provider or in the state)")
        #expect(error.fix == "did you mean 'node.app.1'?; environment e has node.app.1, node.app.2")
        // The plan itself cannot be applied either.
        let plan = Planner.plan(input)
        #expect(plan.errors.count == 1)
        #expect(plan.errors.first?.hasPrefix(error.message) == true)
    }

    @Test("a target known only to the state or only to the provider is not unknown")
    func testPlan_targetInStateOrObservedIsKnown() {
        let stray = World.observed(World.node("old", 1))
        let input = Planner.Input(desired: World.desired(wanted), observed: made + [stray], state: World.state(made), catalog: testCatalog,
                                  targets: ["node.old.1", "node.app.2"], specsDigest: "digest")
        #expect(Planner.unknownTargets(input).isEmpty)
        let plan = Planner.plan(input)
        #expect(plan.errors.isEmpty)
        #expect(plan.actions == ["node.old.1": "delete", "node.app.2": "create"])
    }

    @Test("a targeted plan reports only the targets and their dependencies, and counts what it left out")
    func testPlan_targetReportsOnlyWhatItLookedAt() {
        let plan = World.plan(wanted, observed: [], state: nil, targets: [.network])
        #expect(plan.changes.map(\.address) == [.network])
        #expect(plan.summary.create == 1)
        #expect(plan.summary.noOp == 0)
        #expect(plan.targeting?.leftOut == 4)
        let text = PlanRenderer(plan: plan, color: false).text()
        #expect(text.contains("Plan: 1 to create, 0 to update, 0 to replace, 0 to delete; 0 unchanged."))
        #expect(text.contains("4 resources outside the targets were not planned (--target network)."))
        #expect(PlanRenderer(plan: plan, color: false).markdown().contains("4 resources outside the targets were not planned"))
    }

    @Test("a target with nothing to do says the targeted resources match, not the whole environment")
    func testPlan_unchangedTargetSaysWhatItChecked() {
        let plan = World.plan(wanted, observed: made, state: World.state(made), targets: [.node(cluster: "app", index: 1)])
        #expect(!plan.hasChanges)
        let text = PlanRenderer(plan: plan, color: false).text()
        #expect(text.hasPrefix("No changes. The targeted resources of the environment e (test, nyc3) match the specs (3 resources)."))
        #expect(text.contains("2 resources outside the targets were not planned (--target node.app.1)."))
    }

    @Test("deleting a target deletes what depends on it too, and nothing else")
    func testPlan_targetedDeleteTakesItsDependents() {
        let old = [World.node("old", 1), World.volume("old", 1, gib: 10)].map { World.observed($0) }
        let state = World.state(made + old, dependsOn: ["volume.old.1.data": ["node.old.1"], "node.old.1": [.network, .sshKey]])
        let plan = World.plan(wanted, observed: made + old, state: state, targets: ["node.old.1"])
        #expect(plan.actions == ["node.old.1": "delete", "volume.old.1.data": "delete"])
        #expect(plan.targeting?.leftOut == 3)
    }
}
