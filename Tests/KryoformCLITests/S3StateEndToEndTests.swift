import Foundation
import Planner
import Providers
import Testing
import TestSupport

/// State only in an S3 bucket: moto_server's S3 (which honours conditional writes), started by
/// each test on a loopback port; two working copies of the project stand for two CI runners,
/// sharing the bucket and the sandbox's world.
@Suite("shared state in S3, end to end on the sandbox")
final class S3StateEndToEndTests: @unchecked Sendable {
    let moto: MotoServer
    let bucket = "kryoform-state"
    let secret = "s3-e2e-secret-\(UUID().uuidString.prefix(8))"
    let shared: URL
    let publicKey: String

    init() throws {
        moto = try MotoServer.start()
        try moto.createBucket(bucket)
        (shared, publicKey) = try SharedStateRunner.sharedFolder(prefix: "kryoform-shared-s3")
    }

    deinit {
        moto.stop()
        try? FileManager.default.removeItem(at: shared)
    }

    var sandbox: URL { shared.appendingPathComponent("sandbox") }

    func runner() throws -> SharedStateRunner {
        let block = "state:\n  backend: s3\n  bucket: \(bucket)\n  prefix: ci\n  region: us-east-1\n  endpoint: \(moto.baseURL.absoluteString)\n"
            + "  access_key_id: env:KRYOFORM_S3_KEY_ID\n  secret_access_key: env:KRYOFORM_S3_SECRET\n"
        return try SharedStateRunner(stateBlock: block, variables: ["KRYOFORM_S3_KEY_ID": "AKIAE2ESTATE", "KRYOFORM_S3_SECRET": secret],
                                     sandbox: sandbox, publicKey: publicKey, prefix: "kryoform-s3")
    }

    /// The environment's objects in the bucket, without the folder.
    /// Runs kryoform on a thread of its own: the test holds no thread of the pool meanwhile.
    func run(_ runner: SharedStateRunner, _ arguments: [String]) async throws -> CommandRun {
        try await onOwnThread { try runner.run(arguments) }
    }

    func keys() throws -> [String] {
        let folder = "ci/kryonix/local/"
        return try moto.listKeys(bucket: bucket, prefix: folder).map { String($0.dropFirst(folder.count)) }
    }

    func world() throws -> [String: [SandboxObject]] {
        let objects = try SandboxStore(directory: sandbox).read().objects(tagged: ResourceTags.scope(project: "kryonix", environment: "local"))
        return Dictionary(grouping: objects) { ResourceTags.address(in: $0.tags)?.rawValue ?? "?" }
    }

    func expectNoSecret(_ runs: [CommandRun], sourceLocation: SourceLocation = #_sourceLocation) {
        for run in runs {
            #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret), "the secret key was printed", sourceLocation: sourceLocation)
        }
    }

    @Test("apply, plan and destroy with the state only in S3: each command on a fresh runner finds it there, and its history")
    func lifecycle() async throws {
        let runner = try runner()
        defer { try? FileManager.default.removeItem(at: runner.root) }
        let apply = try await run(runner, ["apply", "-e", "local", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)")
        #expect(!FileManager.default.fileExists(atPath: runner.root.appendingPathComponent(".kryoform/state").path), "state was written locally")
        let objects = try keys()
        #expect(objects.contains("state.json") && !objects.contains("lock.json") && !objects.contains { $0.hasPrefix("journal/") || $0.hasPrefix("probe-") },
                "\(objects)")
        #expect(objects.filter { $0.hasPrefix("history/") }.count == 2, "one history object for the first step, one for the apply's end: \(objects)")
        try runner.forgetLocalFiles()
        let plan = try await run(runner, ["plan", "-e", "local", "--detailed-exitcode"])
        #expect(plan.status == 0, "a fresh runner does not see the applied state: \(plan.stdout)\n\(plan.stderr)")
        let list = try await run(runner, ["state", "list", "-e", "local"])
        #expect(list.status == 0 && list.stdout.split(separator: "\n").count == 22, "\(list.stdout)\n\(list.stderr)")
        let history = try await run(runner, ["state", "history", "-e", "local"])
        let lines = history.stdout.split(separator: "\n")
        #expect(history.status == 0 && lines.count == 3 && lines.first?.hasPrefix("SERIAL") == true
                && lines.dropFirst().allSatisfy { $0.contains("\(LockInfo.currentUser)@") && $0.contains(" apply ") }, "\(history.stdout)\n\(history.stderr)")
        let first = try await run(runner, ["state", "show", "-e", "local", "--serial", "1"])
        #expect(first.status == 0 && first.stdout.hasPrefix("Serial 1 of environment local"), "\(first.stdout)\n\(first.stderr)")

        try runner.forgetLocalFiles()
        let destroy = try await run(runner, ["destroy", "-e", "local", "--auto-approve"])
        #expect(destroy.status == 0, "\(destroy.stdout)\n\(destroy.stderr)")
        let left = try world()
        #expect(left.isEmpty, "left in the sandbox: \(left.keys.sorted())")
        #expect(try !keys().contains("lock.json"), "a lock was left behind")
        expectNoSecret([apply, plan, list, history, first, destroy])
    }

    @Test("two runners applying at once: one is refused naming the other, which converges; a holder killed with SIGKILL is followed at once")
    func twoRunnersAndAKilledHolder() async throws {
        let first = try runner(), second = try runner()
        defer { for runner in [first, second] { try? FileManager.default.removeItem(at: runner.root) } }
        // A plan saved on the second runner before anything was applied.
        let saved = second.root.appendingPathComponent("saved.plan")
        let planned = try await run(second, ["plan", "-e", "local", "--out", saved.path])
        #expect(planned.status == 0 || planned.status == 2, "\(planned.stdout)\n\(planned.stderr)")
        // The first runner pauses inside its apply, holding the lock, until the test lets it go on.
        let paused = sandbox.appendingPathComponent("paused")
        let (process, output) = try first.start(["apply", "-e", "local", "--auto-approve"], faults: "pause-after-create=node.main.1")
        let holding = try await onOwnThread { waitUntil(120) { FileManager.default.fileExists(atPath: paused.path) || !process.isRunning } }
            && FileManager.default.fileExists(atPath: paused.path)
        #expect(try keys().contains("lock.json"), "the paused runner holds no lock object")
        let refused = try await run(second, ["apply", "-e", "local", "--auto-approve"])
        #expect(holding && process.isRunning, "the first runner never held the lock: \((try? String(contentsOf: output, encoding: .utf8)) ?? "")")
        try? FileManager.default.removeItem(at: paused)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is locked by apply by \(LockInfo.currentUser)") && refused.stderr.contains("renews its lock while it runs"),
                "\(refused.stderr)")
        try await onOwnThread {
            if !waitUntil(240, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(log.suffix(2_000))")
        let made = try world()
        #expect(made.values.allSatisfy { $0.count == 1 } && made.count == 22, "the sandbox: \(made.mapValues(\.count))")
        let again = try await run(second, ["plan", "-e", "local", "--detailed-exitcode"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        let stale = try await run(second, ["apply", "--auto-approve", saved.path])
        #expect(stale.status != 0 && stale.stderr.contains("the state changed since the plan was made (serial 0, now "), "\(stale.stdout)\n\(stale.stderr)")
        #expect(try world().values.allSatisfy { $0.count == 1 }, "the stale plan made something twice")

        // Destroy on the first runner, killed with SIGKILL inside a delete: its lock stays in the
        // bucket (nothing released it), and the second runner, on the same host, sees its
        // holder gone, breaks it and converges.
        let hung = sandbox.appendingPathComponent("hung")
        let (killed, killedOutput) = try first.start(["destroy", "-e", "local", "--auto-approve"], faults: "hang-after-delete=node.main.1")
        let reached = try await onOwnThread { () -> Bool in
            let reached = waitUntil(120) { FileManager.default.fileExists(atPath: hung.path) || !killed.isRunning } && FileManager.default.fileExists(atPath: hung.path)
            kill(killed.processIdentifier, SIGKILL)
            killed.waitUntilExit()
            return reached
        }
        try #require(reached, "the destroy never reached the delete of node.main.1: \((try? String(contentsOf: killedOutput, encoding: .utf8)) ?? "")")
        try FileManager.default.removeItem(at: hung)
        #expect(try keys().contains("lock.json"), "the killed holder's lock is still in the bucket")
        #expect(try keys().contains { $0.hasPrefix("journal/") }, "the killed destroy's steps are journal objects")
        let converged = try await run(second, ["destroy", "-e", "local", "--auto-approve"])
        #expect(converged.status == 0, "\(converged.stdout)\n\(converged.stderr)")
        #expect(converged.stderr.contains("broke the stale lock of environment local") || converged.stdout.contains("broke the stale lock of environment local"),
                "\(converged.stdout)\n\(converged.stderr)")
        let left = try world()
        #expect(left.isEmpty, "left in the sandbox: \(left.keys.sorted())")
        let objects = try keys()
        #expect(objects.filter { $0.hasPrefix("journal/") || $0 == "lock.json" }.isEmpty, "\(objects)")
        expectNoSecret([refused, again, converged])
        #expect(!log.contains(secret))
    }
}
