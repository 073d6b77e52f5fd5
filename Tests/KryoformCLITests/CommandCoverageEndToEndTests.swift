import Foundation
import Planner
import Providers
import Testing

extension SandboxProject {
    /// Removes the sandbox object of `address` behind kryoform's back, as a console user would.
    func deleteOutsideKryoform(_ address: String) throws {
        try SandboxStore(directory: root.appendingPathComponent(".kryoform/sandbox")).transaction { cloud in
            cloud.removeAll { ResourceTags.address(in: $0.tags)?.rawValue == address }
        }
    }

    /// The addresses a plan's JSON lists, whatever their action.
    static func addresses(_ json: [String: Any]) -> Set<String> {
        Set((json["changes"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
    }
}

/// The most actions an apply's progress lines show running at once: each "X: creating…" starts
/// one, each "X: created in …" or "… failed after …" ends one.
func mostActionsAtOnce(_ output: String) -> Int {
    var running = 0, most = 0
    for line in output.split(separator: "\n") {
        if [": creating…", ": updating…", ": deleting…", ": recording…"].contains(where: line.hasSuffix) {
            running += 1
        } else if [": created in ", ": updated in ", ": deleted in ", ": recorded in ", " failed after "].contains(where: line.contains) {
            running -= 1
        }
        most = max(most, running)
    }
    return most
}

/// Commands and flags driven through the binary on the sandbox: each one's output checked
/// against what the state and the sandbox hold, and each rejection's message.
@Suite("Commands and flags end to end on the sandbox", .serialized)
struct CommandCoverageEndToEndTests {
    @Test("state list names every recorded resource with its provider id; state show, text and --json, is the state's record")
    func testState_listAndShowAreTheRecords() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let empty = try project.run(["state", "list", "-e", "local"])
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("error: environment local has no state yet"), "\(empty.stderr)")
        #expect(empty.stderr.contains("= fix: run kryoform apply -e local"))

        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let state = try #require(try project.state())
        let list = try project.run(["state", "list", "-e", "local"])
        #expect(list.status == 0, "\(list.stderr)")
        let expected = state.resources.map { "\($0.address)  \($0.providerID ?? "-")" }
        #expect(list.stdout.split(separator: "\n").map(String.init) == expected)

        let node = try #require(state.resource("node.main.1"))
        let shown = try project.run(["state", "show", "node.main.1", "-e", "local", "--json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let decoded = try JSONDecoder.plans.decode(StateResource.self, from: Data(shown.stdout.utf8))
        #expect(decoded == node)
        let text = try project.run(["state", "show", "node.main.1", "-e", "local"])
        #expect(text.stdout.contains("node.main.1  (node)"))
        #expect(text.stdout.contains("provider id: \(node.providerID ?? "?")"))
        #expect(text.stdout.contains("depends on:  \(node.dependsOn.map(\.rawValue).joined(separator: ", "))"))
        for (key, value) in node.attributes { #expect(text.stdout.contains(" \(key)") && text.stdout.contains("  \(value)"), "\(key)") }

        let missing = try project.run(["state", "show", "node.main.9", "-e", "local", "--json"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("error: the state of local has no resource node.main.9"), "\(missing.stderr)")
        #expect(missing.stderr.contains("did you mean 'node.main.1'?"), "\(missing.stderr)")
        #expect(missing.stdout.isEmpty)
    }

    @Test("plan --destroy plans the deletion of every recorded resource and changes nothing; --destroy with --refresh-only is refused")
    func testPlanDestroy_listsEveryDeletion() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let recorded = Set(try #require(try project.state()).resources.map(\.address.rawValue))
        let before = project.recordedFiles()
        let (planned, json) = try project.plan(["--destroy", "--detailed-exitcode"])
        #expect(planned.status == 2, "\(planned.stderr)")
        #expect(json["mode"] as? String == "destroy")
        #expect(SandboxProject.actions(json) == Dictionary(uniqueKeysWithValues: recorded.map { ($0, "delete") }))
        #expect((json["summary"] as? [String: Int])?["delete"] == recorded.count)
        let text = try project.run(["plan", "-e", "local", "--destroy"])
        #expect(text.stdout.contains("Plan: 0 to create, 0 to update, 0 to replace, \(recorded.count) to delete"), "\(text.stdout)")
        #expect(text.stdout.contains("- node.main.1"))
        #expect(project.recordedFiles() == before, "plan --destroy changed \(project.recordedFiles().differences(from: before))")

        let both = try project.run(["plan", "-e", "local", "--destroy", "--refresh-only"])
        #expect(both.status == 1)
        #expect(both.stderr.contains("--refresh-only and --destroy cannot be combined"), "\(both.stderr)")
    }

    @Test("--refresh-only plans and records only what changed outside kryoform, never a spec change; the cloud is left as it is")
    func testRefreshOnly_recordsDriftOnly() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        try project.editLocal { $0 = $0.replacingOccurrences(of: "nodes: 1", with: "nodes: 2") }
        try project.deleteOutsideKryoform("volume.main.1.pgdata")

        let (planned, json) = try project.plan(["--refresh-only", "--detailed-exitcode"])
        #expect(planned.status == 2, "\(planned.stderr)")
        #expect(json["mode"] as? String == "refresh-only")
        #expect(SandboxProject.actions(json) == ["volume.main.1.pgdata": "no-op+forget"])
        let world = project.recordedFiles().world
        let applied = try project.run(["apply", "-e", "local", "--refresh-only", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        #expect(applied.stdout.contains("Recorded in the state (1): volume.main.1.pgdata"), "\(applied.stdout)")
        #expect(project.recordedFiles().world == world, "a refresh-only apply changed the cloud")
        let state = try #require(try project.state())
        #expect(state.resource("volume.main.1.pgdata") == nil)
        #expect(state.resource("node.main.2") == nil)

        let (_, settled) = try project.plan(["--refresh-only"])
        #expect(SandboxProject.actions(settled).isEmpty, "\(SandboxProject.actions(settled))")
        let (_, normal) = try project.plan()
        #expect(SandboxProject.actions(normal)["node.main.2"] == "create")
        #expect(SandboxProject.actions(normal)["volume.main.1.pgdata"] == "create")
    }

    @Test("apply --target changes only the targets and their dependencies; a plan saved with --target applies just that")
    func testTarget_applyAndSavedPlan() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let (_, targeted) = try project.plan(["--target", "firewall"])
        let firewall = SandboxProject.addresses(targeted)
        #expect(firewall.contains("firewall") && firewall.count < 22, "\(firewall)")
        let applied = try project.run(["apply", "-e", "local", "--target", "firewall", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        #expect(Set(try project.sandboxObjects().keys) == firewall)
        #expect(Set(try #require(try project.state()).resources.map(\.address.rawValue)) == firewall)

        let file = project.root.appendingPathComponent("node.plan").path
        let saved = try project.run(["plan", "-e", "local", "--target", "volume.main.1.pgdata", "--out", file])
        #expect(saved.status == 0, "\(saved.stderr)")
        let plan = try JSONDecoder.plans.decode(Plan.self, from: try #require(FileManager.default.contents(atPath: file)))
        #expect(plan.targeting?.targets == ["volume.main.1.pgdata"])
        let planned = Set(plan.changes.filter(\.doesSomething).map(\.address.rawValue))
        #expect(planned.contains("node.main.1") && planned.contains("volume.main.1.pgdata") && !planned.contains("swarm"), "\(planned)")

        for extra in [["--target", "firewall"], ["--refresh-only"]] {
            let mixed = try project.run(["apply", file] + extra)
            #expect(mixed.status == 1)
            #expect(mixed.stderr.contains("a saved plan is applied as it is: --refresh-only and --target belong to kryoform plan"), "\(mixed.stderr)")
        }
        let fromSaved = try project.run(["apply", file])
        #expect(fromSaved.status == 0, "\(fromSaved.stdout)\n\(fromSaved.stderr)")
        #expect(Set(try project.sandboxObjects().keys) == firewall.union(planned))
        #expect(Set(try #require(try project.state()).resources.map(\.address.rawValue)) == firewall.union(planned))
    }

    @Test("a --target that names nothing, a typo of a stack, or --target on destroy: each refused, nothing changed")
    func testTarget_rejections() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let typo = try project.run(["apply", "-e", "local", "--target", "stack.redsi", "--auto-approve"])
        #expect(typo.status == 1)
        #expect(typo.stderr.contains("error: --target stack.redsi: environment local has no resource stack.redsi"), "\(typo.stderr)")
        #expect(typo.stderr.contains("did you mean 'stack.redis'?"), "\(typo.stderr)")
        let nonsense = try project.run(["plan", "-e", "local", "--target", "nonsense"])
        #expect(nonsense.status == 1)
        #expect(nonsense.stderr.contains("error: --target nonsense: environment local has no resource nonsense"), "\(nonsense.stderr)")
        #expect(nonsense.stdout.isEmpty, "a plan was printed: \(nonsense.stdout)")
        let destroy = try project.run(["destroy", "-e", "local", "--target", "network", "--auto-approve"])
        #expect(destroy.status == 1)
        #expect(destroy.stderr.contains("--target"), "\(destroy.stderr)")
        #expect(project.recordedFiles().state == nil && project.recordedFiles().world == nil, "something was made")
    }

    @Test("--parallelism N bounds the actions running at once; 0 and a non-number are refused on plan, apply and destroy")
    func testParallelism_boundsAndRejections() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let one = try project.run(["apply", "-e", "local", "--auto-approve", "--parallelism", "1"], faults: "latency=20ms")
        #expect(one.status == 0, "\(one.stdout)\n\(one.stderr)")
        #expect(mostActionsAtOnce(one.stdout) == 1, "\(one.stdout)")
        #expect(try project.run(["destroy", "-e", "local", "--auto-approve", "--parallelism", "1"]).status == 0)
        // network, firewall and ssh_key are ready together and each call takes 200 ms: all three
        // start before any ends, never a fourth.
        let three = try project.run(["apply", "-e", "local", "--auto-approve", "--parallelism", "3"], faults: "latency=200ms")
        #expect(three.status == 0, "\(three.stdout)\n\(three.stderr)")
        #expect(mostActionsAtOnce(three.stdout) == 3, "\(three.stdout)")
        try project.expectConverged()

        let before = project.recordedFiles()
        for command in [["plan", "-e", "local"], ["apply", "-e", "local", "--auto-approve"], ["destroy", "-e", "local", "--auto-approve"]] {
            let zero = try project.run(command + ["--parallelism", "0"])
            #expect(zero.status == 1)
            #expect(zero.stderr.contains("--parallelism must be at least 1"), "\(command[0]): \(zero.stderr)")
            let word = try project.run(command + ["--parallelism", "many"])
            #expect(word.status == 1)
            #expect(word.stderr.contains("'many'") && word.stderr.contains("--parallelism"), "\(command[0]): \(word.stderr)")
        }
        #expect(project.recordedFiles() == before)
        #expect(try project.run(["plan", "-e", "local", "--parallelism", "1", "--detailed-exitcode"]).status == 0)
    }

    @Test("drift --json is the refresh-only plan as data: exit 0 and no change when clean, 2 with the forgotten resource; nothing written")
    func testDrift_json() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let clean = try project.run(["drift", "-e", "local", "--json"])
        #expect(clean.status == 0, "\(clean.stderr)")
        let cleanJSON = try #require(try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any])
        #expect(cleanJSON["mode"] as? String == "refresh-only")
        #expect(cleanJSON["environment"] as? String == "local")
        #expect(SandboxProject.actions(cleanJSON).isEmpty)

        try project.deleteOutsideKryoform("stack.redis")
        let before = project.recordedFiles()
        let drifted = try project.run(["drift", "-e", "local", "--json"])
        #expect(drifted.status == 2, "\(drifted.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(drifted.stdout.utf8)) as? [String: Any])
        #expect(SandboxProject.actions(json) == ["stack.redis": "no-op+forget"])
        #expect(!drifted.stdout.contains("Drift:"), "text mixed into the JSON")
        #expect(project.recordedFiles() == before, "drift --json wrote \(project.recordedFiles().differences(from: before))")
    }

    @Test("cost -e local prices the environment on its own provider, the plan's size and total")
    func testCost_ownProvider() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let (_, plan) = try project.plan()
        let total = try #require((plan["cost"] as? [String: Any])?["monthly_after"] as? Double)
        let size = try #require(((plan["changes"] as? [[String: Any]])?.first { $0["address"] as? String == "node.main.1" }?["after"] as? [String: String])?["size"])
        let json = try project.run(["cost", "-e", "local", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let cost = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let providers = try #require(cost["providers"] as? [[String: Any]])
        #expect(providers.map { $0["provider"] as? String } == ["sandbox"], "only the environment's own provider: \(providers)")
        let own = try #require(providers.first)
        #expect(own["monthly"] as? Double == total)
        let cluster = try #require((own["clusters"] as? [[String: Any]])?.first)
        #expect(cluster["cluster"] as? String == "main" && cluster["size"] as? String == size, "\(cluster)")

        let text = try project.run(["cost", "-e", "local"])
        #expect(text.status == 0, "\(text.stderr)")
        let totalLine = "  sandbox  \(own["region"] as? String ?? "?")  " + String(format: "$%.2f", total)
        #expect(text.stdout.contains("total per month\n" + totalLine), "\(text.stdout)")
        #expect(text.stdout.contains(" \(size) "), "\(text.stdout)")
        #expect(project.recordedFiles().state == nil, "cost wrote a state")
    }

    @Test("--version prints one version line and exits 0; an unknown --log-level is refused naming the levels")
    func testVersionAndLogLevel() throws {
        let version = try CommandRun.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stderr.isEmpty)
        let line = version.stdout.trimmingCharacters(in: .newlines)
        #expect(!line.isEmpty && !line.contains("\n"))
        #expect(line.split(separator: ".").count == 3 && line.split(separator: ".").allSatisfy { Int($0) != nil }, "\(line)")
        #expect(try CommandRun.run(["version"]).stdout == version.stdout, "kryoform version and --version differ")
        let project = try SandboxProject()
        defer { project.remove() }
        let loud = try project.run(["plan", "-e", "local", "--log-level", "loud"])
        #expect(loud.status == 1)
        #expect(loud.stderr.contains("'loud'") && loud.stderr.contains("--log-level"), "\(loud.stderr)")
        let quiet = try project.run(["plan", "-e", "local", "--log-level", "error"], faults: "throttle=2")
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(!quiet.stderr.contains("retrying"), "\(quiet.stderr)")
        let told = try project.run(["plan", "-e", "local", "--log-level", "info"], faults: "throttle=2")
        #expect(told.stderr.contains("throttled by the provider; retrying in "), "\(told.stderr)")
    }
}
