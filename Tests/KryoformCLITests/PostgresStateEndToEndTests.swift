import Foundation
import Planner
import Providers
import Testing
import TestSupport

/// A working copy of the shipped project as a CI runner has it: state in a shared backend
/// (PostgreSQL, S3), the sandbox's world in a folder every runner shares (as runners share one
/// cloud account), and nothing under `.kryoform/` worth keeping.
struct SharedStateRunner: Sendable {
    let root: URL
    let backendVariables: [String: String]

    /// A copy whose `kryoform.yaml` has `stateBlock` (`state:` and its settings), whose local
    /// environment's sandbox lives in `sandbox`, and whose committed `ssh/authorized_keys` is
    /// `publicKey` (every checkout of a repository has the same); `variables` are the backend's
    /// references.
    init(stateBlock: String, variables: [String: String], sandbox: URL, publicKey: String, prefix: String) throws {
        backendVariables = variables
        root = try shippedProjectCopy(prefix: prefix)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("ssh"), withIntermediateDirectories: true)
        try Data(publicKey.utf8).write(to: root.appendingPathComponent("ssh/authorized_keys"))
        try editFile(root.appendingPathComponent("kryoform.yaml")) {
            $0 = $0.replacing(/state:\n  backend: local[^\n]*\n/, with: stateBlock)
        }
        try editFile(root.appendingPathComponent("environments/local.yaml")) {
            $0 = $0.replacingOccurrences(of: "provider:\n  name: sandbox\n", with: "provider:\n  name: sandbox\n  directory: \(sandbox.path)\n")
        }
    }

    /// A new temporary folder for what the runners share (the sandbox's world under `sandbox/`),
    /// with the repository's key pair made in it; its public key.
    static func sharedFolder(prefix: String) throws -> (folder: URL, publicKey: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let key = folder.appendingPathComponent("id_ed25519")
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kryoform-test", "-f", key.path])
        return (folder, try String(contentsOf: key.appendingPathExtension("pub"), encoding: .utf8))
    }

    /// A runner whose state is in the postgres database `url`, schema `schema`.
    static func postgres(url: String, schema: String, sandbox: URL, publicKey: String) throws -> SharedStateRunner {
        try SharedStateRunner(stateBlock: "state:\n  backend: postgres\n  url: env:KRYOFORM_STATE_URL\n  schema: \(schema)\n",
                              variables: ["KRYOFORM_STATE_URL": url], sandbox: sandbox, publicKey: publicKey, prefix: "kryoform-pg")
    }

    var variables: [String: String] { backendVariables.merging([SandboxFaults.variable: "provision=30ms"]) { $1 } }

    func run(_ arguments: [String], faults: String = "") throws -> CommandRun {
        var variables = self.variables
        if !faults.isEmpty { variables[SandboxFaults.variable, default: ""] += "," + faults }
        return try CommandRun.run(arguments + ["--no-color"], in: root, environment: variables, timeout: 300)
    }

    /// Starts kryoform and returns at once; its output goes to a file beside the project.
    func start(_ arguments: [String], faults: String) throws -> (process: Process, output: URL) {
        let process = Process()
        process.executableURL = CommandRun.binary
        process.arguments = arguments + ["--no-color"]
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.merging(variables.merging([SandboxFaults.variable: "provision=30ms," + faults]) { $1 }) { $1 }
        let output = root.appendingPathComponent("run-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return (process, output)
    }

    /// What a fresh runner has: no `.kryoform/` at all (the SSH key pair included: the sandbox
    /// does not need it, and the project's public keys are in the repository).
    func forgetLocalFiles() throws {
        try? FileManager.default.removeItem(at: root.appendingPathComponent(".kryoform"))
    }
}

/// State only in PostgreSQL: a real server, made by each test in a temporary folder on a
/// loopback port; two working copies of the project stand for two CI runners.
@Suite("shared state in PostgreSQL, end to end on the sandbox")
final class PostgresStateEndToEndTests {
    let server: PostgresServer
    /// The sandbox every runner shares, and the repository's public key.
    let shared: URL
    let publicKey: String

    init() throws {
        server = try PostgresServer.start()
        (shared, publicKey) = try SharedStateRunner.sharedFolder(prefix: "kryoform-shared")
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(at: shared)
    }

    var sandbox: URL { shared.appendingPathComponent("sandbox") }

    func runner(schema: String = "kryoform") throws -> SharedStateRunner {
        try SharedStateRunner.postgres(url: server.url, schema: schema, sandbox: sandbox, publicKey: publicKey)
    }

    /// The objects of the shared sandbox, by address.
    func world() throws -> [String: [SandboxObject]] {
        let objects = try SandboxStore(directory: sandbox).read().objects(tagged: ResourceTags.scope(project: "kryonix", environment: "local"))
        return Dictionary(grouping: objects) { ResourceTags.address(in: $0.tags)?.rawValue ?? "?" }
    }

    @Test("apply, plan and destroy with the state only in PostgreSQL: each command on a fresh runner finds it there")
    func lifecycle() throws {
        let runner = try runner()
        defer { try? FileManager.default.removeItem(at: runner.root) }
        let apply = try runner.run(["apply", "-e", "local", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)")
        #expect(!FileManager.default.fileExists(atPath: runner.root.appendingPathComponent(".kryoform/state").path), "state was written locally")
        try runner.forgetLocalFiles()
        let plan = try runner.run(["plan", "-e", "local", "--detailed-exitcode"])
        #expect(plan.status == 0, "a fresh runner does not see the applied state: \(plan.stdout)\n\(plan.stderr)")
        let list = try runner.run(["state", "list", "-e", "local"])
        #expect(list.status == 0 && list.stdout.split(separator: "\n").count == 22, "\(list.stdout)\n\(list.stderr)")
        let serial = try server.sql("SELECT serial FROM kryoform.states WHERE project = 'kryonix' AND environment = 'local'")
        // One history row for the first step (there was no state to journal against), one when
        // the apply's journal was folded in: not one per step.
        let serials = try server.sql("SELECT string_agg(serial::text, ',' ORDER BY serial) FROM kryoform.history WHERE environment = 'local'")
        #expect(serials == "1,\(serial)" && (Int(serial) ?? 0) > 20, "the history holds other writes than the apply's first and last: \(serials)")
        #expect(try server.sql("SELECT count(*) FROM kryoform.journal") == "0", "the journal was not emptied")
        let history = try runner.run(["state", "history", "-e", "local"])
        let lines = history.stdout.split(separator: "\n")
        #expect(history.status == 0 && lines.count == 3, "\(history.stdout)\n\(history.stderr)")
        #expect(lines.first?.hasPrefix("SERIAL") == true && lines.last?.hasPrefix("\(serial) ") == true
                && lines.dropFirst().allSatisfy { $0.contains("\(LockInfo.currentUser)@") && $0.contains(" apply ") }, "\(history.stdout)")
        let first = try runner.run(["state", "show", "-e", "local", "--serial", "1"])
        #expect(first.status == 0 && first.stdout.hasPrefix("Serial 1 of environment local"), "\(first.stdout)\n\(first.stderr)")
        let missing = try runner.run(["state", "show", "-e", "local", "--serial", "100000"])
        #expect(missing.status != 0 && missing.stderr.contains("has no serial 100000"), "\(missing.stderr)")

        try runner.forgetLocalFiles()
        let destroy = try runner.run(["destroy", "-e", "local", "--auto-approve"])
        #expect(destroy.status == 0, "\(destroy.stdout)\n\(destroy.stderr)")
        let left = try world()
        #expect(left.isEmpty, "left in the sandbox: \(left.keys.sorted())")
        try runner.forgetLocalFiles()
        let after = try runner.run(["plan", "-e", "local", "--json"])
        let json = (try? JSONSerialization.jsonObject(with: Data(after.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(SandboxProject.actions(json).values.filter { $0 == "create" }.count == 22, "\(after.stdout.prefix(500))\n\(after.stderr)")
        #expect(try server.sql("SELECT count(*) FROM kryoform.locks") == "0", "a lock row was left behind")
    }

    @Test("two runners applying at once: one is refused naming the other, the other converges; a plan saved before the other applied is refused")
    func twoRunners() throws {
        let first = try runner(), second = try runner()
        defer { for runner in [first, second] { try? FileManager.default.removeItem(at: runner.root) } }
        // A plan saved on the second runner before anything was applied.
        let saved = second.root.appendingPathComponent("saved.plan")
        let planned = try second.run(["plan", "-e", "local", "--out", saved.path])
        #expect(planned.status == 0 || planned.status == 2, "\(planned.stdout)\n\(planned.stderr)")

        // The first runner applies slowly; the second starts once the first holds the lock.
        // The first runner pauses inside its apply, holding the lock, until the test lets it go on.
        let paused = sandbox.appendingPathComponent("paused")
        let (process, output) = try first.start(["apply", "-e", "local", "--auto-approve"], faults: "pause-after-create=node.main.1")
        let holding = waitUntil(120) { FileManager.default.fileExists(atPath: paused.path) || !process.isRunning } && FileManager.default.fileExists(atPath: paused.path)
        #expect(try server.sql("SELECT count(*) FROM kryoform.locks") == "1", "the paused runner holds no lock")
        let refused = try second.run(["apply", "-e", "local", "--auto-approve"])
        #expect(holding && process.isRunning, "the first runner never held the lock: \((try? String(contentsOf: output, encoding: .utf8)) ?? "")")
        try? FileManager.default.removeItem(at: paused)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is locked by apply by \(LockInfo.currentUser)") && refused.stderr.contains("whose connection to the state database"),
                "\(refused.stderr)")
        if !waitUntil(240, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(log.suffix(2_000))")
        let made = try world()
        #expect(made.values.allSatisfy { $0.count == 1 } && made.count == 22, "the sandbox: \(made.mapValues(\.count))")

        // The second runner, run again, finds everything made.
        let again = try second.run(["plan", "-e", "local", "--detailed-exitcode"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        // Its plan from before the first runner's apply is stale.
        let stale = try second.run(["apply", "--auto-approve", saved.path])
        #expect(stale.status != 0 && stale.stderr.contains("the state changed since the plan was made (serial 0, now "), "\(stale.stdout)\n\(stale.stderr)")
        #expect(try world().values.allSatisfy { $0.count == 1 }, "the stale plan made something twice")
    }

    @Test("the holder killed with SIGKILL mid-apply: its lock goes with its connection, and the other runner's apply converges at once")
    func killedHolder() throws {
        let first = try runner(), second = try runner()
        defer { for runner in [first, second] { try? FileManager.default.removeItem(at: runner.root) } }
        let hung = sandbox.appendingPathComponent("hung")
        let (process, output) = try first.start(["apply", "-e", "local", "--auto-approve"], faults: "hang-after-create=node.main.1")
        let reached = waitUntil(120) { FileManager.default.fileExists(atPath: hung.path) || !process.isRunning }
            && FileManager.default.fileExists(atPath: hung.path)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(reached, "the first apply never reached the create of node.main.1: \((try? String(contentsOf: output, encoding: .utf8)) ?? "")")
        try FileManager.default.removeItem(at: hung)

        let converged = try second.run(["apply", "-e", "local", "--auto-approve"])
        #expect(converged.status == 0, "\(converged.stdout)\n\(converged.stderr)")
        let made = try world()
        #expect(made.values.allSatisfy { $0.count == 1 } && made.count == 22, "the sandbox: \(made.mapValues(\.count))")
        let plan = try first.run(["plan", "-e", "local", "--detailed-exitcode"])
        #expect(plan.status == 0, "\(plan.stdout)\n\(plan.stderr)")
    }
}
