import Foundation
@testable import Remote
import Testing
import TestSupport

@Suite("Reading how far a node's drain has gone")
struct DrainProgressTests {
    @Test("a task of the environment still running on the node, or a service short of its replicas, keeps the drain going")
    func notDoneWhileTasksRunOrServicesAreShort() {
        let running = DrainProgress.parse("web_web 2/2\napi_api 1/1\n\(DrainProgress.marker)\nweb_web.2 Running 3 seconds ago\nweb_web.2 Shutdown 1 minute ago\n")
        #expect(running == DrainProgress(onNode: ["web_web.2 Running"], short: []))
        let short = DrainProgress.parse("web_web 1/2\n\(DrainProgress.marker)\nweb_web.2 Shutdown 1 second ago\n")
        #expect(short == DrainProgress(onNode: [], short: ["web_web 1/2"]))
        #expect(!running.isDone && !short.isDone)
    }

    @Test("done once nothing of the environment runs on the node and every service has its tasks; other services' tasks do not count")
    func doneWhenMovedElsewhere() {
        let done = DrainProgress.parse("web_web 2/2\n\(DrainProgress.marker)\nweb_web.2 Shutdown 2 seconds ago\nother_other.1 Running 1 hour ago\n")
        #expect(done.isDone)
        #expect(DrainProgress.parse("\(DrainProgress.marker)\n").isDone, "no service, no task: nothing to wait for")
    }
}

/// `SwarmOperations.nodeChange`, run by a real shell against a stand-in for `docker` that loses
/// Swarm's version race a given number of times.
@Suite("Node changes are tried again when Swarm says update out of sequence")
struct NodeChangeRetryTests {
    /// Runs the wrapped command where the stand-in fails `conflicts` times with `message` first;
    /// returns the exit status, what it said, and how many times the stand-in ran.
    func run(conflicts: Int, message: String = "Error response from daemon: rpc error: code = Unknown desc = update out of sequence") throws
        -> (status: Int32, stdout: String, stderr: String, tries: Int) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-nodechange-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let counter = folder.appendingPathComponent("tries").path
        let standIn = "n=$(cat \(counter) 2>/dev/null || echo 0); echo $((n + 1)) > \(counter); "
            + "if [ \"$n\" -lt \(conflicts) ]; then echo '\(message)' >&2; exit 1; fi; echo node-updated"
        let script = SwarmOperations.nodeChange("sh -c \(shellQuote(standIn))")
        let result = try LocalTool.run("/bin/sh", ["-c", script], check: false)
        let tries = Int((try? String(contentsOfFile: counter, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        return (result.status, result.stdout, result.stderr, tries)
    }

    @Test("two lost races, then the change: done, said once")
    func retriesTheRace() throws {
        let result = try run(conflicts: 2)
        #expect(result.status == 0 && result.stdout == "node-updated\n" && result.tries == 3, "\(result)")
    }

    @Test("another failure is reported at once; five lost races are reported too")
    func givesUp() throws {
        let other = try run(conflicts: 1, message: "Error response from daemon: node not found")
        #expect(other.status == 1 && other.tries == 1 && other.stderr.contains("node not found"), "\(other)")
        let always = try run(conflicts: 9)
        #expect(always.status == 1 && always.tries == 5 && always.stderr.contains("update out of sequence"), "\(always)")
    }
}
