import Foundation
@testable import Planner
import Testing

/// The planner as a pure function: every action and every reason, with no I/O.
@Suite("Planner: desired × observed × state → plan")
struct PlannerTests {
    let base = [World.network, World.key, World.node("app", 1), World.volume("app", 1, gib: 100)]

    @Test("nothing exists: every resource is created, with its dependencies and its price")
    func testPlan_emptyWorldCreatesEverything() {
        let plan = World.plan(base, observed: [], state: nil)
        #expect(plan.actions == ["network": "create", "ssh_key": "create", "node.app.1": "create", "volume.app.1.data": "create"])
        #expect(plan.change("node.app.1")?.dependsOn == [.network, .sshKey])
        #expect(plan.summary.create == 4)
        #expect(plan.cost.monthlyBefore == 0)
        #expect(plan.cost.monthlyAfter == 24 + 10)
        #expect(plan.basis.stateLineage == nil)
        #expect(plan.hasChanges)
    }

    @Test("everything exists as recorded: no-op, and the plan has no changes")
    func testPlan_matchingWorldIsNoOp() {
        let observed = base.map { World.observed($0) }
        let plan = World.plan(base, observed: observed, state: World.state(observed))
        #expect(plan.actions.isEmpty)
        #expect(plan.summary.noOp == 4)
        #expect(!plan.hasChanges)
        #expect(plan.cost.monthlyBefore == plan.cost.monthlyAfter)
        #expect(plan.basis == PlanBasis(stateLineage: "lineage-1", stateSerial: 3, specsDigest: "digest"))
    }

    @Test("a node recorded while booting and ready now is recorded ready, with nothing else to do")
    func testPlan_bootingRecordBecomesReady() throws {
        let observed = base.map { World.observed($0) }
        var state = World.state(observed)
        let node = try #require(observed.first { $0.kind == .node })
        state.record(StateResource(address: node.address, kind: .node, providerID: node.providerID, status: .pending, attributes: node.attributes, dependsOn: state.resource(node.address)?.dependsOn ?? []))
        let plan = World.plan(base, observed: observed, state: state)
        #expect(plan.actions == [node.address.rawValue: "no-op+refresh"])
        #expect(plan.change(node.address)?.reasons == ["ready now"])
    }

    @Test("a new size resizes the node in place")
    func testPlan_sizeChangeUpdatesInPlace() {
        let observed = base.map { World.observed($0) }
        let wanted = [World.network, World.key, World.node("app", 1, size: "large"), World.volume("app", 1, gib: 100)]
        let plan = World.plan(wanted, observed: observed, state: World.state(observed))
        #expect(plan.actions == ["node.app.1": "update"])
        #expect(plan.change("node.app.1")?.reasons == ["size: small → large (resize in place)"])
        #expect(plan.change("node.app.1")?.changed == ["size"])
        #expect(plan.cost.monthlyAfter - plan.cost.monthlyBefore == 72)
    }

    @Test("a new region forces replacement, delete-then-create; the attached volume re-attaches")
    func testPlan_regionChangeForcesReplacement() {
        let observed = base.map { World.observed($0) }
        let wanted = [World.network, World.key, World.node("app", 1, region: "ams3"), World.volume("app", 1, gib: 100)]
        let plan = World.plan(wanted, observed: observed, state: World.state(observed))
        #expect(plan.actions == ["node.app.1": "replace", "volume.app.1.data": "update"])
        let node = plan.change("node.app.1")
        #expect(node?.reasons == ["region: nyc3 → ams3 (forces replacement)"])
        #expect(node?.replaceStrategy == .deleteThenCreate)
        #expect(plan.change("volume.app.1.data")?.reasons == ["node.app.1 is replaced"])
        #expect(plan.summary.destroying == 1)
    }

    @Test("a new public key replaces the key create-then-delete, so nodes never lack one")
    func testPlan_keyChangeReplacesCreateThenDelete() {
        let observed = base.map { World.observed($0) }
        var key = World.key
        key.attributes["public_key"] = "SHA256:two"
        let plan = World.plan([World.network, key, World.node("app", 1), World.volume("app", 1, gib: 100)], observed: observed, state: World.state(observed))
        #expect(plan.actions == ["ssh_key": "replace"])
        #expect(plan.change("ssh_key")?.replaceStrategy == .createThenDelete)
        #expect(plan.change("ssh_key")?.reasons == ["public_key: SHA256:one → SHA256:two (a key cannot be changed; forces replacement)"])
    }

    @Test("a volume grows in place and is replaced to shrink")
    func testPlan_volumeGrowsInPlaceShrinkReplaces() {
        let observed = base.map { World.observed($0) }
        let grow = World.plan([World.network, World.key, World.node("app", 1), World.volume("app", 1, gib: 200)], observed: observed, state: World.state(observed))
        #expect(grow.change("volume.app.1.data")?.reasons == ["size_gib: 100 → 200 (grow in place)"])
        #expect(grow.change("volume.app.1.data")?.action == .update)
        let shrink = World.plan([World.network, World.key, World.node("app", 1), World.volume("app", 1, gib: 50)], observed: observed, state: World.state(observed))
        #expect(shrink.change("volume.app.1.data")?.action == .replace)
        #expect(shrink.change("volume.app.1.data")?.reasons == ["size_gib: 100 → 50 (a volume cannot shrink; forces replacement)"])
    }

    @Test("a resource no longer in the specs is deleted")
    func testPlan_removedFromSpecIsDeleted() {
        let old = World.node("old", 1)
        let observed = (base + [old]).map { World.observed($0) }
        let plan = World.plan(base, observed: observed, state: World.state(observed, dependsOn: [old.address: old.dependsOn]))
        #expect(plan.actions == ["node.old.1": "delete"])
        #expect(plan.change("node.old.1")?.reasons == ["not in spec any more"])
        #expect(plan.change("node.old.1")?.providerID == "id-node.old.1")
        #expect(plan.change("node.old.1")?.dependsOn == [.network, .sshKey])
        #expect(plan.cost.monthlyBefore - plan.cost.monthlyAfter == 24)
    }

    @Test("a resource found by its tags but missing from the state is adopted, not created again")
    func testPlan_foundByTagIsAdopted() {
        let observed = base.map { World.observed($0) }
        let state = World.state(observed.filter { $0.address != ResourceAddress.node(cluster: "app", index: 1) })
        let plan = World.plan(base, observed: observed, state: state)
        #expect(plan.actions == ["node.app.1": "no-op+adopt"])
        #expect(plan.change("node.app.1")?.reasons == ["created outside state, adopted"])
        #expect(plan.hasChanges)
        #expect(plan.summary.stateOnly == 1)
    }

    @Test("an intent recorded before a crash: adopted when the provider has it, created again when not")
    func testPlan_interruptedCreate() {
        let observed = base.map { World.observed($0) }
        var state = World.state(observed)
        state.record(StateResource(address: .node(cluster: "app", index: 1), kind: .node, providerID: nil, status: .creating, attributes: [:], dependsOn: []))
        let adopted = World.plan(base, observed: observed, state: state)
        #expect(adopted.actions == ["node.app.1": "no-op+adopt"])
        let missing = World.plan(base, observed: observed.filter { $0.kind != .node }, state: state)
        #expect(missing.actions["node.app.1"] == "create")
        #expect(missing.change("node.app.1")?.reasons == ["an interrupted create left nothing at the provider"])
    }

    @Test("a resource deleted outside kryoform is created again, and what hangs on it follows")
    func testPlan_deletedOutsideIsCreatedAgain() {
        let observed = base.map { World.observed($0) }
        let plan = World.plan(base, observed: observed.filter { $0.kind != .node }, state: World.state(observed))
        #expect(plan.actions == ["node.app.1": "create", "volume.app.1.data": "update"])
        #expect(plan.change("node.app.1")?.reasons == ["deleted outside kryoform"])
        #expect(plan.change("volume.app.1.data")?.reasons == ["node.app.1 is created again"])
    }

    @Test("two resources carrying one address tag: the recorded one stays, the duplicate is deleted")
    func testPlan_duplicateIsDeleted() {
        let observed = base.map { World.observed($0) }
        let twin = World.observed(World.node("app", 1), id: "id-twin")
        let plan = World.plan(base, observed: observed + [twin], state: World.state(observed))
        #expect(plan.actions == ["node.app.1#id-twin": "delete"])
        #expect(plan.changes.filter { $0.address == "node.app.1" }.count == 2)
        #expect(plan.changes.first { $0.providerID == "id-twin" }?.reasons.first?.hasPrefix("duplicate of node.app.1 (id-node.app.1)") == true)
    }

    @Test("a record whose resource is gone and no longer wanted is dropped from the state")
    func testPlan_goneAndUnwantedIsForgotten() {
        let old = World.observed(World.node("old", 1))
        let observed = base.map { World.observed($0) }
        let plan = World.plan(base, observed: observed, state: World.state(observed + [old]))
        #expect(plan.actions == ["node.old.1": "no-op+forget"])
        #expect(plan.change("node.old.1")?.reasons == ["already gone at the provider; the record is dropped"])
    }

    @Test("destroy deletes everything; protect refuses it unless destroying is allowed")
    func testPlan_destroyAndProtect() {
        let observed = base.map { World.observed($0) }
        let destroy = World.plan(base, observed: observed, state: World.state(observed), mode: .destroy, protect: true)
        #expect(Set(destroy.actions.values) == ["delete"])
        #expect(destroy.actions.count == 4)
        #expect(destroy.change("network")?.reasons == ["destroy"])
        #expect(destroy.errors.count == 1)
        #expect(destroy.errors.first?.contains("environment e is protected (protect: true) and this plan destroys 4 resources") == true)
        #expect(destroy.cost.monthlyAfter == 0)
        let allowed = World.plan(base, observed: observed, state: World.state(observed), mode: .destroy, protect: true, allowDestroy: true)
        #expect(allowed.errors.isEmpty)
        let replace = World.plan([World.network, World.key, World.node("app", 1, region: "ams3"), World.volume("app", 1, gib: 100)],
                                 observed: observed, state: World.state(observed), protect: true)
        #expect(replace.errors.first?.contains("node.app.1 (replace)") == true)
        let growOnly = World.plan([World.network, World.key, World.node("app", 1, size: "large"), World.volume("app", 1, gib: 100)],
                                  observed: observed, state: World.state(observed), protect: true)
        #expect(growOnly.errors.isEmpty)
    }

    @Test("refresh-only records what changed outside kryoform and nothing else")
    func testPlan_refreshOnly() {
        var observed = base.map { World.observed($0) }
        let state = World.state(observed)
        if let index = observed.firstIndex(where: { $0.kind == .node }) { observed[index].attributes["size"] = "large" }
        observed.removeAll { $0.kind == .volume }
        observed.append(World.observed(World.node("stray", 1)))
        let plan = World.plan([World.network], observed: observed, state: state, mode: .refreshOnly)
        #expect(plan.actions == ["node.app.1": "no-op+refresh", "volume.app.1.data": "no-op+forget", "node.stray.1": "no-op+adopt"])
        #expect(plan.change("node.app.1")?.reasons == ["size: small → large (changed outside kryoform)"])
        #expect(plan.summary.create + plan.summary.update + plan.summary.delete + plan.summary.replace == 0)
    }

    @Test("--target changes only the named resource and what it depends on; the rest is left out of the plan")
    func testPlan_targetRestricts() {
        let wanted = base + [World.node("other", 1)]
        let plan = World.plan(wanted, observed: [], state: nil, targets: [.node(cluster: "app", index: 1)])
        #expect(plan.actions == ["network": "create", "ssh_key": "create", "node.app.1": "create"])
        #expect(plan.change("node.other.1") == nil)
        #expect(plan.targeting == PlanTargeting(targets: [.node(cluster: "app", index: 1)], leftOut: 2))
    }
}
