import Foundation
import Planner
import Providers
import Testing
import TestSupport

/// `kill -9` at random moments of apply and destroy, on each state backend: whatever instant a
/// kill lands on (taking the lock, a create in flight, a journal write, the compaction), the next
/// clean run converges with nothing made twice and nothing left behind. The moments come from a
/// seeded generator; the seed is in every failure message.
@Suite("killed at random moments, on each state backend", .serialized)
struct StateKillEndToEndTests {
    /// SplitMix64: the same seed gives the same kill moments.
    struct Moments {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }

    enum Backend: String, CaseIterable, Sendable { case local, postgres, s3 }

    @Test("kill -9 at random moments of apply, then of destroy; one clean run then converges", arguments: Backend.allCases)
    func randomKills(backend: Backend) async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["KRYOFORM_KILL_SEED"] ?? "") ?? UInt64(Date().timeIntervalSince1970 * 1000)
        var moments = Moments(state: seed)
        let context = "backend \(backend.rawValue), KRYOFORM_KILL_SEED=\(seed)"

        let (shared, publicKey) = try SharedStateRunner.sharedFolder(prefix: "kryoform-kills")
        defer { try? FileManager.default.removeItem(at: shared) }
        let sandbox = shared.appendingPathComponent("sandbox")
        var servers: [() -> Void] = []
        defer { servers.forEach { $0() } }
        let runner: SharedStateRunner
        switch backend {
        case .local:
            runner = try SharedStateRunner(stateBlock: "state:\n  backend: local\n", variables: [:], sandbox: sandbox, publicKey: publicKey, prefix: "kryoform-kills")
        case .postgres:
            let server = try PostgresServer.start()
            servers.append(server.stop)
            runner = try SharedStateRunner.postgres(url: server.url, schema: "kryoform", sandbox: sandbox, publicKey: publicKey)
        case .s3:
            let moto = try MotoServer.start()
            servers.append(moto.stop)
            try moto.createBucket("kryoform-state")
            let block = "state:\n  backend: s3\n  bucket: kryoform-state\n  region: us-east-1\n  endpoint: \(moto.baseURL.absoluteString)\n"
                + "  access_key_id: env:KRYOFORM_S3_KEY_ID\n  secret_access_key: env:KRYOFORM_S3_SECRET\n"
            runner = try SharedStateRunner(stateBlock: block, variables: ["KRYOFORM_S3_KEY_ID": "AKIAKILLS", "KRYOFORM_S3_SECRET": "kills-secret"],
                                           sandbox: sandbox, publicKey: publicKey, prefix: "kryoform-kills")
        }
        defer { try? FileManager.default.removeItem(at: runner.root) }

        func world() throws -> [String: Int] {
            let objects = try SandboxStore(directory: sandbox).read().objects
            return Dictionary(objects.map { (ResourceTags.address(in: $0.tags)?.rawValue ?? "untagged \($0.id)", 1) }, uniquingKeysWith: +)
        }
        /// Starts `arguments`, kills it with SIGKILL after a random moment of up to `within` seconds
        /// (or lets it finish first), and says when the kill came. The waits are on a thread of
        /// their own, so the test holds no thread of the pool.
        func killSomewhere(_ arguments: [String], within: Double) async throws -> String {
            let moment = 0.05 + moments.next() * within
            let (ended, status, log) = try await onOwnThread { () throws -> (Bool, Int32, String) in
                // Slow calls, two at a time: an apply of the 22 resources takes seconds, so a kill lands inside it.
                let (process, output) = try runner.start(arguments + ["--parallelism", "2"], faults: "latency=200ms")
                let ended = waitUntil(moment) { !process.isRunning }
                if !ended { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                return (ended, process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
            }
            #expect(!log.contains("kills-secret"), "\(context): the secret was printed")
            return ended ? "finished (\(status)) before \(String(format: "%.2f", moment)) s" : "killed at \(String(format: "%.2f", moment)) s"
        }
        func run(_ arguments: [String]) async throws -> CommandRun {
            try await onOwnThread { try runner.run(arguments) }
        }

        var kills: [String] = []
        // Each run has less left to do than the one before: the window shrinks with it.
        for round in 0..<5 { kills.append(try await killSomewhere(["apply", "-e", "local", "--auto-approve"], within: 2.0 * pow(0.75, Double(round)))) }
        #expect(kills.filter { $0.hasPrefix("killed") }.count >= 3, "\(context): the kills did not land inside the applies: \(kills)")
        let applied = try await run(["apply", "-e", "local", "--auto-approve"])
        #expect(applied.status == 0, "\(context), after \(kills): \(applied.stdout.suffix(1_500))\n\(applied.stderr)")
        let made = try world()
        #expect(made.count == 22 && made.values.allSatisfy { $0 == 1 }, "\(context), after \(kills): \(made)")
        let plan = try await run(["plan", "-e", "local", "--detailed-exitcode"])
        #expect(plan.status == 0, "\(context), after \(kills): \(plan.stdout.suffix(1_500))\n\(plan.stderr)")
        let list = try await run(["state", "list", "-e", "local"])
        let recorded = Set(list.stdout.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") })
        #expect(recorded == Set(made.keys) && !list.stdout.contains("(creating)"), "\(context): the state holds \(recorded.sorted()), the world \(made.keys.sorted())")

        kills = []
        for round in 0..<4 { kills.append(try await killSomewhere(["destroy", "-e", "local", "--auto-approve"], within: 1.5 * pow(0.75, Double(round)))) }
        #expect(kills.filter { $0.hasPrefix("killed") }.count >= 2, "\(context): the kills did not land inside the destroys: \(kills)")
        let destroyed = try await run(["destroy", "-e", "local", "--auto-approve"])
        #expect(destroyed.status == 0, "\(context), after \(kills): \(destroyed.stdout.suffix(1_500))\n\(destroyed.stderr)")
        let left = try world()
        #expect(left.isEmpty, "\(context), after \(kills): left in the sandbox: \(left)")
        let empty = try await run(["state", "list", "-e", "local"])
        #expect(empty.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(context): \(empty.stdout)\(empty.stderr)")
    }
}
