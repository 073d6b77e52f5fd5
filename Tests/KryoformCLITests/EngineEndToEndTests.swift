import Foundation
import Planner
import Providers
import Testing

/// A throwaway copy of the shipped project (kryoform.yaml, stacks, environments), whose own
/// sandbox lives in its `.kryoform/`.
struct SandboxProject {
    let root: URL

    init(edit: (inout String) -> Void = { _ in }) throws {
        root = try shippedProjectCopy(prefix: "kryoform-e2e")
        try editLocal(edit)
    }

    func editLocal(_ edit: (inout String) -> Void) throws {
        try editFile(root.appendingPathComponent("environments/local.yaml"), edit)
    }

    /// Runs kryoform here with fast provisioning and `faults`.
    func run(_ arguments: [String], faults: String = "", environment: [String: String] = [:]) throws -> CommandRun {
        try CommandRun.run(arguments + ["--no-color"], in: root,
                           environment: environment.merging([SandboxFaults.variable: "provision=30ms" + (faults.isEmpty ? "" : "," + faults)]) { $1 })
    }

    func plan(_ extra: [String] = []) throws -> (run: CommandRun, json: [String: Any]) {
        let run = try self.run(["plan", "-e", "local", "--json"] + extra)
        let json = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:]
        return (run, json)
    }

    /// Address → action of every change that does something, from plan JSON.
    static func actions(_ json: [String: Any]) -> [String: String] {
        var result: [String: String] = [:]
        for change in json["changes"] as? [[String: Any]] ?? [] {
            let action = change["action"] as? String ?? "?"
            let stateOnly = change["state_only"] as? String
            guard action != "no-op" || stateOnly != nil else { continue }
            result[change["address"] as? String ?? "?"] = action + (stateOnly.map { "+" + $0 } ?? "")
        }
        return result
    }

    func state() throws -> State? {
        try LocalStateStore(projectRoot: root, environment: "local").read()
    }

    /// The sandbox objects of the local environment, by address.
    func sandboxObjects() throws -> [String: [SandboxObject]] {
        let cloud = try SandboxStore(directory: root.appendingPathComponent(".kryoform/sandbox")).read()
        let objects = cloud.objects(tagged: ResourceTags.scope(project: "kryonix", environment: "local"))
        return Dictionary(grouping: objects) { ResourceTags.address(in: $0.tags)?.rawValue ?? "?" }
    }

    /// Every desired resource exists exactly once at the provider, and the state names exactly those.
    func expectConverged(_ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let objects = try sandboxObjects()
        let duplicates = objects.filter { $0.value.count > 1 }.keys.sorted()
        #expect(duplicates.isEmpty, "duplicates: \(duplicates)", sourceLocation: sourceLocation)
        let state = try #require(try self.state(), sourceLocation: sourceLocation)
        let recorded = Dictionary(uniqueKeysWithValues: state.resources.map { ($0.address.rawValue, $0.providerID ?? "") })
        let existing = objects.mapValues { $0.first?.id ?? "" }
        #expect(recorded == existing, "state and sandbox differ", sourceLocation: sourceLocation)
        #expect(state.resources.allSatisfy { $0.status == .ready }, sourceLocation: sourceLocation)
        let plan = try self.plan(["--detailed-exitcode"])
        #expect(plan.run.status == 0, "\(comment?.description ?? "") plan after convergence: \(SandboxProject.actions(plan.json)) \(plan.run.stderr)", sourceLocation: sourceLocation)
    }

    /// Starts kryoform without waiting for it.
    func start(_ arguments: [String], faults: String) throws -> (process: Process, output: URL) {
        let process = Process()
        process.executableURL = CommandRun.binary
        process.arguments = arguments + ["--no-color"]
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.merging([SandboxFaults.variable: faults]) { $1 }
        let output = root.appendingPathComponent("run-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return (process, output)
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}

@Suite("plan and apply end to end on the sandbox", .serialized)
struct EngineEndToEndTests {
    @Test("apply converges; the next plan says no changes; a node count and a size each plan exactly their change; destroy leaves nothing")
    func testApply_convergesAndDestroys() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let apply = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)")
        #expect(apply.stdout.contains("Apply complete"))
        #expect(apply.stdout.contains("node.main.1: created in"))
        try project.expectConverged()
        let again = try project.run(["plan", "-e", "local", "--detailed-exitcode"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("No changes."))

        try project.editLocal { $0 = $0.replacingOccurrences(of: "nodes: 1", with: "nodes: 2") }
        let grow = try project.plan(["--detailed-exitcode"])
        #expect(grow.run.status == 2)
        #expect(SandboxProject.actions(grow.json) == ["node.main.2": "create", "volume.main.2.pgdata": "create", "swarm": "update"])
        try project.editLocal { $0 = $0.replacingOccurrences(of: "nodes: 2", with: "nodes: 1").replacingOccurrences(of: "cpu: 16, memory: 32GiB", with: "cpu: 32, memory: 64GiB") }
        let resize = try project.plan()
        #expect(SandboxProject.actions(resize.json) == ["node.main.1": "update"])
        let text = try project.run(["plan", "-e", "local"])
        #expect(text.stdout.contains("~ node.main.1"))
        #expect(text.stdout.contains("size: c-16 → c-32 (resize in place)"))
        #expect(text.stdout.contains("Monthly cost: $366.00 → $702.00 (+$336.00)"))
        let resized = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(resized.status == 0)
        try project.expectConverged()

        let destroy = try project.run(["destroy", "-e", "local", "--auto-approve"])
        #expect(destroy.status == 0, "\(destroy.stdout)\n\(destroy.stderr)")
        #expect(try project.sandboxObjects().isEmpty)
        #expect(try project.state()?.resources.isEmpty == true)
    }

    @Test("a failed create skips only its dependents; the re-run converges")
    func testApply_partialFailureThenConverges() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let failed = try project.run(["apply", "-e", "local", "--auto-approve"], faults: "fail-address=stack.postgres")
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("✗ stack.postgres (create) failed: sandbox: create of stack.postgres failed (injected fault)")
                || failed.stdout.contains("✗ stack.postgres (create) failed: sandbox: deploying stack.postgres failed (injected fault)"))
        #expect(failed.stdout.contains("↷ stack.n8n (create) skipped: stack.postgres failed"))
        #expect(failed.stdout.contains("Apply incomplete"))
        let created = try project.sandboxObjects()
        #expect(created["stack.redis"] != nil, "an independent stack went on")
        #expect(created["stack.postgres"] == nil)
        #expect(created["stack.n8n"] == nil)
        let left = try project.plan()
        let actions = SandboxProject.actions(left.json)
        #expect(actions["stack.postgres"] == "create")
        #expect(actions["stack.n8n"] == "create")
        #expect(actions["stack.redis"] == nil)
        #expect(actions["node.main.1"] == nil)
        let rerun = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(rerun.status == 0)
        try project.expectConverged()
    }

    @Test("Ctrl-C starts no new action, lets those in flight finish and be saved, says so; the next apply converges")
    func testApply_interruptSavesInFlight() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let (process, output) = try project.start(["apply", "-e", "local", "--auto-approve"], faults: "provision=700ms,latency=30ms")
        let waiting = waitUntil(20) { ((try? String(contentsOf: output, encoding: .utf8)) ?? "").contains("node.main.1: waiting until ready") }
        if !waiting { kill(process.processIdentifier, SIGKILL) }
        try #require(waiting, "apply did not reach node.main.1's wait within 20 s")
        kill(process.processIdentifier, SIGINT)
        project.finish(process)
        let log = try String(contentsOf: output, encoding: .utf8)
        #expect(process.terminationStatus == 130)
        #expect(log.contains("Interrupt received (SIGINT): no new actions will start"))
        #expect(log.contains("node.main.1: created in"), "the create in flight finished")
        #expect(log.contains("not started. Everything finished is saved in the state."))
        #expect(log.contains("The lock of environment local was released."))
        #expect(try project.state()?.resource("node.main.1")?.status == .ready)
        #expect(try project.sandboxObjects()["swarm"] == nil, "nothing new started after the interrupt")
        #expect(!FileManager.default.fileExists(atPath: project.root.appendingPathComponent(".kryoform/state/local.lock").path))
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        try project.expectConverged()
    }

    @Test("a second apply while one runs is refused, naming the lock's owner (stale locks: LockEndToEndTests)")
    func testApply_concurrentRefused() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let (first, output) = try project.start(["apply", "-e", "local", "--auto-approve"], faults: "provision=300ms,latency=40ms")
        let lock = project.root.appendingPathComponent(".kryoform/state/local.lock")
        let locked = waitUntil(20) { FileManager.default.fileExists(atPath: lock.path) }
        if !locked { kill(first.processIdentifier, SIGKILL) }
        try #require(locked, "the first apply took no lock within 20 s")
        let second = try project.run(["apply", "-e", "local", "--auto-approve"])
        project.finish(first, within: 120)
        #expect(second.status == 1)
        #expect(second.stderr.contains("is locked by apply by \(ProcessInfo.processInfo.environment["USER"] ?? "")"))
        #expect(second.stderr.contains("(pid \(first.processIdentifier))"))
        let firstOutput = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(first.terminationStatus == 0, "\(firstOutput)")
    }

    @Test("a saved plan applies exactly, and is refused once the state or the specs have moved on")
    func testApply_savedPlanAndStaleness() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let saved = try project.run(["plan", "-e", "local", "--out", "first.plan"])
        #expect(saved.status == 0)
        #expect(saved.stdout.contains("Saved the plan to first.plan"))
        let applied = try project.run(["apply", "-e", "local", "first.plan"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        try project.expectConverged()
        let again = try project.run(["apply", "-e", "local", "first.plan"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("the state changed since the plan was made"))

        try project.editLocal { $0 = $0.replacingOccurrences(of: "nodes: 1", with: "nodes: 2") }
        #expect(try project.run(["plan", "-e", "local", "--out", "second.plan"]).status == 0)
        try project.editLocal { $0 = $0.replacingOccurrences(of: "nodes: 2", with: "nodes: 3") }
        let edited = try project.run(["apply", "-e", "local", "second.plan"])
        #expect(edited.status == 1)
        #expect(edited.stderr.contains("the specs changed since the plan was made"))
        #expect(try project.sandboxObjects()["node.main.2"] == nil, "a refused plan changes nothing")
    }

    @Test("protect: true blocks destroy without --allow-destroy")
    func testDestroy_protectBlocks() throws {
        let project = try SandboxProject { $0 += "\nprotect: true\n" }
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let blocked = try project.run(["destroy", "-e", "local", "--auto-approve"])
        #expect(blocked.status == 1)
        #expect(blocked.stderr.contains("environment local is protected (protect: true) and this plan destroys 22 resources"))
        #expect(blocked.stderr.contains("--allow-destroy"))
        #expect(try project.sandboxObjects().count == 22)
        let allowed = try project.run(["destroy", "-e", "local", "--auto-approve", "--allow-destroy"])
        #expect(allowed.status == 0)
        #expect(try project.sandboxObjects().isEmpty)
    }

    @Test("the plan JSON has the design's shape, and the Markdown summary is written")
    func testPlan_jsonShapeAndMarkdown() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let (run, json) = try project.plan(["--markdown", "plan.md"])
        #expect(run.status == 0)
        #expect(json["format_version"] as? String == "1")
        #expect(json["environment"] as? String == "local")
        let changes = try #require(json["changes"] as? [[String: Any]])
        #expect(changes.count == 22)
        for change in changes {
            #expect(change["address"] is String)
            #expect(["create", "update", "replace", "delete", "no-op"].contains(change["action"] as? String ?? ""))
            #expect(change["reasons"] is [String])
            #expect(change["after"] is [String: String])
        }
        let node = try #require(changes.first { $0["address"] as? String == "node.main.1" })
        #expect((node["after"] as? [String: String])?["size"] == "c-16")
        #expect(node["depends_on"] as? [String] == ["network", "firewall", "ssh_key"])
        #expect((json["summary"] as? [String: Int])?["create"] == 22)
        let cost = try #require(json["cost"] as? [String: Any])
        #expect(cost["monthly_before"] as? Double == 0)
        #expect(cost["monthly_after"] as? Double == 366)
        #expect(cost["currency"] as? String == "USD")
        let basis = try #require(json["basis"] as? [String: Any])
        #expect(basis["state_serial"] as? Int == 0)
        #expect((basis["specs_digest"] as? String)?.count == 64)
        let markdown = try String(contentsOf: project.root.appendingPathComponent("plan.md"), encoding: .utf8)
        #expect(markdown.contains("### kryoform plan: `local` (sandbox, nyc3)"))
        #expect(markdown.contains("**22 to create, 0 to update, 0 to replace, 0 to delete**"))
        #expect(markdown.contains("| `+` | `node.main.1` | create |"))
    }

    @Test("no secret value appears in plan output, JSON, Markdown, state or the sandbox")
    func testSecrets_neverWritten() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let secrets = ["POSTGRES_PASSWORD": "pg-Secret-7f3a9c", "MINIO_ROOT_PASSWORD": "minio-Secret-2b8d1e",
                       "GRAFANA_ADMIN_PASSWORD": "graf-Secret-9c4e2a", "DIGITALOCEAN_TOKEN": "dop_v1_Secret_5e6f7a"]
        let text = try project.run(["plan", "-e", "local", "--markdown", "plan.md", "--out", "plan.json"], environment: secrets)
        let json = try project.run(["plan", "-e", "local", "--json"], environment: secrets)
        let apply = try project.run(["apply", "-e", "local", "--auto-approve"], environment: secrets)
        #expect(apply.status == 0)
        let privateKey = try String(contentsOf: project.root.appendingPathComponent(".kryoform/ssh/id_ed25519"), encoding: .utf8)
        let keyBody = privateKey.split(separator: "\n").dropFirst().first.map(String.init) ?? "unreadable"
        var written = [text.stdout, text.stderr, json.stdout, apply.stdout, apply.stderr]
        for file in ["plan.md", "plan.json", ".kryoform/state/local.json"] {
            written.append(try String(contentsOf: project.root.appendingPathComponent(file), encoding: .utf8))
        }
        let world = project.recordedFiles().world ?? Data()
        #expect(!world.isEmpty, "the sandbox recorded nothing")
        written.append(String(decoding: world, as: UTF8.self))
        for value in Array(secrets.values) + [keyBody] {
            #expect(!written.contains { $0.contains(value) }, "a secret was written")
        }
        #expect(written[2].contains("\"secrets\" : \"postgres_password\""), "secret names are shown, their values never")
    }

    @Test("bad input: an unknown environment, a missing credential, an impossible size — each a clear error and no state")
    func testErrors_clearAndHarmless() throws {
        let project = try SandboxProject { $0 = $0.replacingOccurrences(of: "cpu: 16, memory: 32GiB", with: "cpu: 200, memory: 32GiB") }
        defer { project.remove() }
        let typo = try project.run(["plan", "-e", "locl"])
        #expect(typo.status == 1)
        #expect(typo.stderr.contains("did you mean 'local'?"))
        let dev = try project.run(["plan", "-e", "dev"], environment: ["DIGITALOCEAN_TOKEN": ""])
        #expect(dev.status == 1)
        #expect(dev.stderr.contains("set DIGITALOCEAN_TOKEN to a DigitalOcean API token"))
        let devText = try String(contentsOf: project.root.appendingPathComponent("environments/dev.yaml"), encoding: .utf8)
        try devText.replacingOccurrences(of: "environment: dev", with: "environment: vultr-dev")
            .replacingOccurrences(of: "name: digitalocean", with: "name: vultr").replacingOccurrences(of: "region: nyc3", with: "region: ewr")
            .replacingOccurrences(of: "token: env:DIGITALOCEAN_TOKEN", with: "api_key: env:VULTR_API_KEY")
            .write(to: project.root.appendingPathComponent("environments/vultr-dev.yaml"), atomically: true, encoding: .utf8)
        let vultr = try project.run(["plan", "-e", "vultr-dev"], environment: ["VULTR_API_KEY": ""])
        #expect(vultr.status == 1)
        #expect(vultr.stderr.contains("set VULTR_API_KEY to a Vultr API key"), "\(vultr.stderr)")
        let huge = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(huge.status == 1)
        #expect(huge.stderr.contains("environments/local.yaml:16:11: error: cluster main: sandbox has no size with at least 200 vCPU, 32GiB, 200GiB disk"))
        #expect(try project.state() == nil)
    }
}
