import Foundation
import Planner
import Providers
import Testing

@Suite("state show, a corrupt state, destroy and drift, as a user reads them", .serialized)
struct StateAndDriftEndToEndTests {
    @Test("state show --json gives updated_at in ISO-8601, as the state file does")
    func testStateShow_jsonDatesAreISO() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let shown = try project.run(["state", "show", "network", "-e", "local", "--json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        let updated = try #require(json["updated_at"] as? String, "updated_at is \(String(describing: json["updated_at"]))")
        #expect(ISO8601DateFormatter().date(from: updated) != nil, "\(updated)")
        let recorded = try String(contentsOf: project.root.appendingPathComponent(".kryoform/state/local.json"), encoding: .utf8)
        #expect(recorded.contains("\"updated_at\" : \"\(updated)\""), "the same form and value as the state file")
    }

    @Test("a corrupt state file is reported with its path, line and column and the backup to restore; the restored backup reads")
    func testCorruptState_locatedWithBackupHint() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        // A second apply: the backup is the state before its write, as the first apply left it.
        try editFile(project.root.appendingPathComponent("environments/local.yaml")) { $0 = $0.replacingOccurrences(of: "nodes: 1\n", with: "nodes: 2\n") }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let file = project.root.appendingPathComponent(".kryoform/state/local.json")
        let backup = project.root.appendingPathComponent(".kryoform/state/local.json.backup")
        #expect(FileManager.default.fileExists(atPath: backup.path), "apply kept no backup")
        let text = try String(contentsOf: file, encoding: .utf8)
        try text.replacingOccurrences(of: "\"serial\" :", with: "\"serial\" ").write(to: file, atomically: true, encoding: .utf8)
        let row = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("\"serial\" :") }.map { $0 + 1 } ?? 0
        for arguments in [["state", "list", "-e", "local"], ["plan", "-e", "local"]] {
            let broken = try project.run(arguments)
            #expect(broken.status == 1)
            #expect(broken.stderr.contains("the state file \(file.path) is unreadable: it is not valid JSON at line \(row), column"), "\(broken.stderr)")
            #expect(broken.stderr.contains("cp \(backup.path) \(file.path)"), "\(broken.stderr)")
            #expect(!broken.stderr.contains("The data isn't in the correct format"))
        }
        try FileManager.default.removeItem(at: file)
        try FileManager.default.copyItem(at: backup, to: file)
        let restored = try project.run(["state", "list", "-e", "local"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("node.main.1  ") && !restored.stdout.contains("node.main.2") && !restored.stdout.contains("(creating)"), "\(restored.stdout)")
    }

    @Test("destroy asks and reports in its own words: no terminal means --auto-approve, and it ends with Destroy complete")
    func testDestroy_saysDestroy() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let asked = try project.run(["destroy", "-e", "local"])
        #expect(asked.status == 1)
        #expect(asked.stderr.contains("error: destroy needs confirmation and there is no terminal to ask on"), "\(asked.stderr)")
        #expect(asked.stderr.contains("--auto-approve"))
        #expect(!asked.stderr.contains("apply a reviewed plan"))
        #expect(try project.sandboxObjects().count == 22, "nothing was destroyed unconfirmed")
        let destroyed = try project.run(["destroy", "-e", "local", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        #expect(destroyed.stdout.contains("Destroy complete in"), "\(destroyed.stdout)")
        #expect(destroyed.stdout.contains("Deleted (22)"))
        #expect(!destroyed.stdout.contains("Apply complete"))
    }

    @Test("drift says what it found and that it wrote nothing; no cost line pretends to plan a change")
    func testDrift_saysNothingWasWritten() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let clean = try project.run(["drift", "-e", "local"])
        #expect(clean.status == 0)
        #expect(clean.stdout.contains("No drift."))
        #expect(!clean.stdout.contains("Monthly cost"), "\(clean.stdout)")

        try SandboxStore(directory: project.root.appendingPathComponent(".kryoform/sandbox")).transaction { cloud in
            cloud.removeAll { ResourceTags.address(in: $0.tags)?.rawValue == "volume.main.1.pgdata" }
        }
        let before = try #require(try project.state())
        let drift = try project.run(["drift", "-e", "local"])
        #expect(drift.status == 2, "\(drift.stderr)")
        #expect(drift.stdout.contains("Changed outside kryoform in environment local"), "\(drift.stdout)")
        #expect(drift.stdout.contains("volume.main.1.pgdata"))
        #expect(drift.stdout.contains("Drift: 0 changed outside kryoform, 1 deleted outside kryoform, 0 found outside the state"), "\(drift.stdout)")
        #expect(drift.stdout.contains("Nothing was written. kryoform apply -e local --refresh-only records this in the state"))
        #expect(!drift.stdout.contains("to be recorded in the state"))
        #expect(!drift.stdout.contains("Monthly cost:"))
        #expect(try project.state() == before, "drift wrote the state")
    }
}
