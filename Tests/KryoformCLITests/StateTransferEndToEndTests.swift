import Foundation
import Planner
import Providers
import Testing
import TestSupport

/// `state pull`, `state push` and `state migrate` through the binary, on the sandbox: a real
/// PostgreSQL server and moto_server's S3, both started by the test on loopback.
@Suite("state pull, push and migrate, end to end")
final class StateTransferEndToEndTests {
    let root: URL

    init() throws { root = try shippedProjectCopy(prefix: "kryoform-transfer") }
    deinit { try? FileManager.default.removeItem(at: root) }

    func run(_ arguments: [String], _ variables: [String: String] = [:]) throws -> CommandRun {
        try CommandRun.run(arguments + ["--no-color"], in: root, environment: variables.merging([SandboxFaults.variable: "provision=0ms"]) { $1 }, timeout: 300)
    }

    func write(_ text: String, to name: String) throws -> URL {
        let url = root.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test("push refuses a file of another lineage or an older serial, takes a newer one, and --force only with a reason")
    func pushIsGuarded() throws {
        let applied = try run(["apply", "-e", "local", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let pulled = try run(["state", "pull", "-e", "local"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        var state = try LocalStateStore.decoder.decode(State.self, from: Data(pulled.stdout.utf8))
        #expect(state.resources.count == 22)
        let old = try write(pulled.stdout, to: "old.state.json")

        let same = try run(["state", "push", "-e", "local", old.path])
        #expect(same.status != 0 && same.stderr.contains("is not newer than the state's \(state.serial)"), "\(same.stderr)")

        // A hand edit on a pulled copy: one resource forgotten, the serial moved on.
        let forgotten = try #require(state.resources.first { $0.address.rawValue == "dns" }?.address ?? state.resources.last?.address)
        state.remove(forgotten)
        state.serial += 1
        let edited = try write(String(decoding: try LocalStateStore.encoder.encode(state), as: UTF8.self), to: "edited.state.json")
        let pushed = try run(["state", "push", "-e", "local", edited.path])
        #expect(pushed.status == 0 && pushed.stdout.contains("serial \(state.serial), 1 removed"), "\(pushed.stdout)\n\(pushed.stderr)")
        let list = try run(["state", "list", "-e", "local"])
        #expect(!list.stdout.contains("\(forgotten.rawValue) "), "\(list.stdout)")

        // The copy pulled before that push would undo it: refused.
        let undo = try run(["state", "push", "-e", "local", old.path])
        #expect(undo.status != 0 && undo.stderr.contains("pulled before a later write"), "\(undo.stderr)")
        var other = state
        other.lineage = "another-lineage"
        other.serial += 5
        let foreign = try write(String(decoding: try LocalStateStore.encoder.encode(other), as: UTF8.self), to: "foreign.state.json")
        let refused = try run(["state", "push", "-e", "local", foreign.path])
        #expect(refused.status != 0 && refused.stderr.contains("its lineage is another-lineage"), "\(refused.stderr)")
        let noReason = try run(["state", "push", "-e", "local", old.path, "--force"])
        #expect(noReason.status != 0 && noReason.stderr.contains("needs --reason"), "\(noReason.stderr)")
        let forced = try run(["state", "push", "-e", "local", old.path, "--force", "--reason", "restore the dns record"])
        #expect(forced.status == 0 && forced.stderr.contains("reason: restore the dns record"), "\(forced.stdout)\n\(forced.stderr)")
        let restored = try LocalStateStore(projectRoot: root, environment: "local").read()
        #expect(restored?.resource(forgotten) != nil && restored?.serial == state.serial + 1, "forced over serial \(state.serial): \(restored?.serial ?? -1)")
        let garbage = try write("{\"lineage\": 3}", to: "garbage.json")
        let unreadable = try run(["state", "push", "-e", "local", garbage.path])
        #expect(unreadable.status != 0 && unreadable.stderr.contains("is not a kryoform state"), "\(unreadable.stderr)")
    }

    @Test("migrate local → postgres → s3 keeps lineage, serial and history; each old backend is left read-only with a pointer")
    func migrateAcrossBackends() throws {
        let postgres = try PostgresServer.start()
        defer { postgres.stop() }
        let moto = try MotoServer.start()
        defer { moto.stop() }
        try moto.createBucket("kryoform-state")
        let variables = ["KRYOFORM_STATE_URL": postgres.url, "KRYOFORM_S3_KEY_ID": "AKIAMIGRATE", "KRYOFORM_S3_SECRET": "migrate-secret"]
        let pgBlock = "state:\n  backend: postgres\n  url: env:KRYOFORM_STATE_URL\n"
        let s3Block = "state:\n  backend: s3\n  bucket: kryoform-state\n  region: us-east-1\n  endpoint: \(moto.baseURL.absoluteString)\n"
            + "  access_key_id: env:KRYOFORM_S3_KEY_ID\n  secret_access_key: env:KRYOFORM_S3_SECRET\n"
        let pgFile = try write(pgBlock, to: "state-postgres.yaml")
        let s3File = try write(s3Block, to: "state-s3.yaml")

        let applied = try run(["apply", "-e", "local", "--auto-approve"], variables)
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let before = try #require(try LocalStateStore(projectRoot: root, environment: "local").read())

        let toPostgres = try run(["state", "migrate", "-e", "local", "--to", pgFile.path], variables)
        #expect(toPostgres.status == 0 && toPostgres.stdout.contains("Now put this in kryoform.yaml") && toPostgres.stdout.contains("backend: postgres"),
                "\(toPostgres.stdout)\n\(toPostgres.stderr)")
        // The old copy: read-only, with a pointer.
        let stale = try run(["plan", "-e", "local"], variables)
        #expect(stale.status != 0 && stale.stderr.contains("was moved to postgres database 127.0.0.1:\(postgres.port)/postgres"), "\(stale.stdout)\n\(stale.stderr)")
        let again = try run(["state", "migrate", "-e", "local", "--to", pgFile.path], variables)
        #expect(again.status != 0 && again.stderr.contains("was moved to"), "\(again.stderr)")
        #expect(try postgres.sql("SELECT lineage || ':' || serial FROM kryoform.states") == "\(before.lineage):\(before.serial)")

        try editFile(root.appendingPathComponent("kryoform.yaml")) { $0 = $0.replacing(/state:\n  backend: local[^\n]*\n/, with: pgBlock) }
        let converged = try run(["plan", "-e", "local", "--detailed-exitcode"], variables)
        #expect(converged.status == 0, "the migrated state does not match the world: \(converged.stdout)\n\(converged.stderr)")
        // A change applied on postgres: its history now has the migration's row and the apply's.
        try editFile(root.appendingPathComponent("environments/local.yaml")) { $0 = $0.replacingOccurrences(of: "nodes: 1\n", with: "nodes: 2\n") }
        let grown = try run(["apply", "-e", "local", "--auto-approve"], variables)
        #expect(grown.status == 0, "\(grown.stdout)\n\(grown.stderr)")
        let pgHistory = try run(["state", "history", "-e", "local", "--json"], variables)
        let entries = try JSONDecoder.iso8601.decode([StateHistoryEntry].self, from: Data(pgHistory.stdout.utf8))
        #expect(entries.count >= 2 && entries.first?.operation == "state migrate" && entries.first?.serial == before.serial, "\(pgHistory.stdout) \(pgHistory.stderr) \(grown.stdout)")

        let toS3 = try run(["state", "migrate", "-e", "local", "--to", s3File.path], variables)
        #expect(toS3.status == 0 && toS3.stdout.contains("with \(entries.count) history entries"), "\(toS3.stdout)\n\(toS3.stderr)")
        let stalePostgres = try run(["apply", "-e", "local", "--auto-approve"], variables)
        #expect(stalePostgres.status != 0 && stalePostgres.stderr.contains("was moved to s3 bucket s3://kryoform-state/kryonix/local/"), "\(stalePostgres.stderr)")
        try editFile(root.appendingPathComponent("kryoform.yaml")) { $0 = $0.replacingOccurrences(of: pgBlock, with: s3Block) }
        let s3Plan = try run(["plan", "-e", "local", "--detailed-exitcode"], variables)
        #expect(s3Plan.status == 0, "\(s3Plan.stdout)\n\(s3Plan.stderr)")
        let s3History = try run(["state", "history", "-e", "local", "--json"], variables)
        let copied = try JSONDecoder.iso8601.decode([StateHistoryEntry].self, from: Data(s3History.stdout.utf8))
        #expect(copied == entries, "the history changed on the way: \(copied) vs \(entries)")

        // And back to postgres, onto the read-only copy left there: replaced, history whole.
        try editFile(root.appendingPathComponent("environments/local.yaml")) { $0 = $0.replacingOccurrences(of: "nodes: 2\n", with: "nodes: 1\n") }
        let shrunk = try run(["apply", "-e", "local", "--auto-approve", "--allow-destroy"], variables)
        #expect(shrunk.status == 0, "\(shrunk.stdout)\n\(shrunk.stderr)")
        let onS3 = try run(["state", "history", "-e", "local", "--json"], variables)
        let s3Entries = try JSONDecoder.iso8601.decode([StateHistoryEntry].self, from: Data(onS3.stdout.utf8))
        let back = try run(["state", "migrate", "-e", "local", "--to", pgFile.path], variables)
        #expect(back.status == 0, "\(back.stdout)\n\(back.stderr)")
        try editFile(root.appendingPathComponent("kryoform.yaml")) { $0 = $0.replacingOccurrences(of: s3Block, with: pgBlock) }
        let home = try run(["plan", "-e", "local", "--detailed-exitcode"], variables)
        #expect(home.status == 0, "\(home.stdout)\n\(home.stderr)")
        let pgAgain = try run(["state", "history", "-e", "local", "--json"], variables)
        let whole = try JSONDecoder.iso8601.decode([StateHistoryEntry].self, from: Data(pgAgain.stdout.utf8))
        #expect(Set(s3Entries).isSubset(of: Set(whole)) && whole.allSatisfy { $0.lineage == before.lineage }, "\(whole) lacks some of \(s3Entries)")
        #expect(try postgres.sql("SELECT lineage FROM kryoform.states") == before.lineage)
        for output in [toPostgres, toS3, s3Plan, s3History, stalePostgres] { #expect(!output.stdout.contains("migrate-secret") && !output.stderr.contains("migrate-secret")) }
    }
}

/// Encryption at rest through the binary, on the local backend and the sandbox.
@Suite("state encryption, end to end")
final class StateEncryptionEndToEndTests {
    let root: URL
    let key = "first-key-Xq3Lm9Zr4Ty1Np8Vb6Tc0Hd5Fg2Js9A="
    let next = "second-key-Pw2Kn8Yq5Ux0Mo7Ca3Rd9Be4Gh1Lf6Z="

    init() throws {
        root = try shippedProjectCopy(prefix: "kryoform-sealed")
        try editFile(root.appendingPathComponent("kryoform.yaml")) {
            $0 = $0.replacing(/state:\n  backend: local[^\n]*\n/, with: "state:\n  backend: local\n  encryption:\n    key: env:KRYOFORM_STATE_KEY\n")
        }
    }
    deinit { try? FileManager.default.removeItem(at: root) }

    func run(_ arguments: [String], _ variables: [String: String]) throws -> CommandRun {
        try CommandRun.run(arguments + ["--no-color"], in: root, environment: variables.merging([SandboxFaults.variable: "provision=0ms"]) { $1 }, timeout: 300)
    }

    var stateFile: URL { root.appendingPathComponent(".kryoform/state/local.json") }

    @Test("apply seals the state; a missing or wrong key is one line; a rotation reads with fallback_key and writes with the new key")
    func sealedLifecycle() throws {
        let applied = try run(["apply", "-e", "local", "--auto-approve"], ["KRYOFORM_STATE_KEY": key])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let sealed = try String(contentsOf: stateFile, encoding: .utf8)
        #expect(sealed.hasPrefix("kf-sealed-1 ") && !sealed.contains("node.main.1"), "\(sealed.prefix(300))")
        let firstKeyID = try #require(StateCodec.header(of: Data(sealed.utf8))?.key)

        let unset = try run(["plan", "-e", "local"], [:])
        #expect(unset.status != 0 && unset.stderr.contains("set KRYOFORM_STATE_KEY to the state's encryption key"), "\(unset.stderr)")
        let wrong = try run(["plan", "-e", "local"], ["KRYOFORM_STATE_KEY": next])
        #expect(wrong.status != 0 && wrong.stderr.contains("was encrypted with key id \(firstKeyID)") && wrong.stderr.split(separator: "\n").count <= 3,
                "\(wrong.stderr)")
        let weak = try run(["plan", "-e", "local"], ["KRYOFORM_STATE_KEY": "hunter2"])
        #expect(weak.status != 0 && weak.stderr.contains("at least 32 characters") && !weak.stderr.contains("hunter2"), "\(weak.stderr)")

        // Rotation: the new key, the old one as fallback_key; the next write is sealed with the new one.
        try editFile(root.appendingPathComponent("kryoform.yaml")) {
            $0 = $0.replacingOccurrences(of: "    key: env:KRYOFORM_STATE_KEY\n", with: "    key: env:KRYOFORM_STATE_KEY\n    fallback_key: env:KRYOFORM_STATE_OLD_KEY\n")
        }
        let rotating = ["KRYOFORM_STATE_KEY": next, "KRYOFORM_STATE_OLD_KEY": key]
        let plan = try run(["plan", "-e", "local", "--detailed-exitcode"], rotating)
        #expect(plan.status == 0, "\(plan.stdout)\n\(plan.stderr)")
        try editFile(root.appendingPathComponent("environments/local.yaml")) { $0 = $0.replacingOccurrences(of: "nodes: 1\n", with: "nodes: 2\n") }
        let grown = try run(["apply", "-e", "local", "--auto-approve"], rotating)
        #expect(grown.status == 0, "\(grown.stdout)\n\(grown.stderr)")
        let rewritten = try String(contentsOf: stateFile, encoding: .utf8)
        let newKeyID = try #require(StateCodec.header(of: Data(rewritten.utf8))?.key)
        #expect(newKeyID != firstKeyID)
        try editFile(root.appendingPathComponent("kryoform.yaml")) {
            $0 = $0.replacingOccurrences(of: "    fallback_key: env:KRYOFORM_STATE_OLD_KEY\n", with: "")
        }
        let after = try run(["plan", "-e", "local", "--detailed-exitcode"], ["KRYOFORM_STATE_KEY": next])
        #expect(after.status == 0, "the old key is no longer needed: \(after.stdout)\n\(after.stderr)")
        for output in [applied, unset, wrong, plan, grown, after] {
            #expect(!output.stdout.contains(key) && !output.stderr.contains(key) && !output.stdout.contains(next) && !output.stderr.contains(next))
        }
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
