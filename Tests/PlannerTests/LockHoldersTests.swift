import Foundation
@testable import Planner
import Testing

@Suite("Whether a lock's holder still runs, read from /proc")
struct LockHoldersTests {
    let holders = LockHolders()

    @Test("a lock of this very process is held by a running holder")
    func testHolder_thisProcessIsRunning() {
        #expect(holders.status(of: LockInfo(operation: "apply")) == .running)
    }

    @Test("a lock whose pid has exited is stale, saying the pid is not running")
    func testHolder_exitedPidIsGone() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        let status = holders.status(of: LockInfo(operation: "plan", pid: process.processIdentifier))
        #expect(status == .gone("pid \(process.processIdentifier) is not running"))
    }

    @Test("a lock whose pid now runs another program is stale, naming that program")
    func testHolder_pidReusedByAnotherProgramIsGone() throws {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        // Until the child has exec'd it still runs this program; wait (bounded) for sleep.
        let exe = "/proc/\(sleeper.processIdentifier)/exe"
        let deadline = Date().addingTimeInterval(10)
        while (try? FileManager.default.destinationOfSymbolicLink(atPath: exe))?.hasSuffix("sleep") != true && Date() < deadline { usleep(5_000) }
        try #require((try? FileManager.default.destinationOfSymbolicLink(atPath: exe))?.hasSuffix("sleep") == true, "the child did not exec sleep within 10 s")
        let status = holders.status(of: LockInfo(operation: "apply", pid: sleeper.processIdentifier))
        guard case .gone(let why) = status else {
            Issue.record("a pid running sleep was taken for the holder: \(status)")
            return
        }
        #expect(why.hasPrefix("pid \(sleeper.processIdentifier) is now /"))
        #expect(why.hasSuffix("sleep, not kryoform"))
    }

    @Test("a lock taken before its pid's process started belongs to an earlier process: stale")
    func testHolder_pidStartedAfterTheLockIsGone() {
        let lock = LockInfo(operation: "apply", started: Date().addingTimeInterval(-30 * 86_400))
        guard case .gone(let why) = holders.status(of: lock) else {
            Issue.record("a process younger than the lock was taken for its holder")
            return
        }
        #expect(why.contains("is another process, started"))
        #expect(why.hasSuffix("after the lock was taken"))
    }

    @Test("a lock from another host is never judged from here")
    func testHolder_otherHostIsElsewhere() {
        #expect(holders.status(of: LockInfo(operation: "apply", host: "ci-runner-7", pid: 1)) == .elsewhere)
    }

    @Test("without a readable /proc nothing is taken for gone")
    func testHolder_noProcCountsAsRunning() {
        let blind = LockHolders(procRoot: URL(fileURLWithPath: "/nonexistent-proc-\(UUID().uuidString)"))
        #expect(blind.status(of: LockInfo(operation: "apply", pid: 999_999)) == .running)
    }

    @Test("an old lock that names no program is its holder's when the program is called kryoform")
    func testHolder_lockWithoutProgramMatchesByName() {
        let old = LockInfo(operation: "apply", executable: nil)
        #expect(LockHolders.isHolder(("/usr/local/bin/kryoform", true), old))
        #expect(!LockHolders.isHolder(("/usr/bin/python3", true), old))
        #expect(LockHolders.isHolder(("/opt/kf/bin/kryoform", true), LockInfo(operation: "apply", executable: "/opt/kf/bin/kryoform")))
        #expect(!LockHolders.isHolder(("/opt/kf/bin/other", true), LockInfo(operation: "apply", executable: "/opt/kf/bin/kryoform")))
        #expect(LockHolders.programPath("/opt/kf/bin/kryoform (deleted)") == "/opt/kf/bin/kryoform")
    }
}
