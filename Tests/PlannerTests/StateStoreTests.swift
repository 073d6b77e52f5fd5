import Foundation
@testable import Planner
import Testing

@Suite("The local state store and its lock")
struct StateStoreTests {
    func store() -> LocalStateStore {
        LocalStateStore(projectRoot: FileManager.default.temporaryDirectory.appendingPathComponent("kf-state-\(UUID().uuidString)"), environment: "dev")
    }

    @Test("a lock's owner is a name: USER, LOGNAME, or the uid's account name, never a bare number")
    func testLock_ownerIsAName() {
        let owner = LockInfo.currentUser
        let variables = ProcessInfo.processInfo.environment
        if let user = variables["USER"], !user.isEmpty {
            #expect(owner == user)
        } else if let logname = variables["LOGNAME"], !logname.isEmpty {
            #expect(owner == logname)
        } else {
            #expect(!owner.isEmpty && !owner.allSatisfy(\.isNumber), "\(owner)")
            #expect(owner == (getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? ""))
        }
    }

    @Test("the state round-trips through .kryoform/state/<env>.json, leaving no temporary file")
    func testState_roundTrip() throws {
        let store = store()
        #expect(try store.read() == nil)
        var state = State(project: "p", environment: "dev")
        state.record(StateResource(address: "network", kind: .network, providerID: "n-1", status: .ready, attributes: ["cidr": "10.0.0.0/16"],
                                   dependsOn: [], updatedAt: Date(timeIntervalSince1970: 1_700_000_000)))
        state.serial = 7
        try store.write(state)
        #expect(try store.read() == state)
        #expect(store.stateFile.path.hasSuffix(".kryoform/state/dev.json"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.directory.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
        let text = try String(contentsOf: store.stateFile, encoding: .utf8)
        #expect(text.contains("\"lineage\""))
        #expect(text.contains("\"provider_id\" : \"n-1\""))
    }

    @Test("a second lock is refused naming the holder; unlock by another id is refused; the holder unlocks")
    func testLock_exclusive() throws {
        let store = store()
        let first = LockInfo(operation: "apply", owner: "alice")
        try store.lock(first)
        #expect(throws: StateLockError.self) { try store.lock(LockInfo(operation: "apply", owner: "bob")) }
        let held = #expect(throws: StateLockError.self) { try store.lock(LockInfo(operation: "plan")) }
        #expect(held?.message.contains("locked by apply by alice on \(ProcessInfo.processInfo.hostName) (pid \(getpid()))") == true, "\(held?.message ?? "no error")")
        #expect(held?.message.contains("stale") == false)
        #expect(throws: StateLockError.self) { try store.unlock(id: "someone-else") }
        try store.unlock(id: first.id)
        #expect(try store.currentLock() == nil)
        try store.lock(LockInfo(operation: "apply"))
    }

    @Test("a lock whose process is gone is reported stale, and breakLock clears it")
    func testLock_staleIsReported() throws {
        let store = store()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        let gone = LockInfo(operation: "apply", owner: "ci", pid: process.processIdentifier)
        try store.lock(gone)
        do {
            try store.lock(LockInfo(operation: "apply"))
            Issue.record("a held lock was taken again")
        } catch let error as StateLockError {
            #expect(error.message.contains("pid \(process.processIdentifier) is not running, so the lock is stale"))
            #expect(error.message.contains("kryoform state unlock -e dev"))
        }
        #expect(try store.breakLock(gone))
        #expect(try store.currentLock() == nil)
    }

    @Test("breakLock removes only the lock it names: a lock taken since is left in place")
    func testBreakLock_onlyTheNamedHolder() throws {
        let store = store()
        let stale = LockInfo(operation: "plan", owner: "old")
        let fresh = LockInfo(operation: "apply", owner: "new")
        try store.lock(fresh)
        #expect(try store.breakLock(stale) == false)
        #expect(try store.currentLock()?.id == fresh.id, "another run's lock was removed")
        #expect(try store.breakLock(fresh))
        #expect(try store.currentLock() == nil)
        #expect(try store.breakLock(fresh) == false)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.directory.path)
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test("every write keeps the state it replaces in <env>.json.backup")
    func testWrite_keepsBackupOfPrevious() throws {
        let store = store()
        var state = State(project: "p", environment: "dev")
        try store.write(state)
        #expect(!FileManager.default.fileExists(atPath: store.backupFile.path), "nothing to back up on the first write")
        let first = state
        state.serial = 2
        try store.write(state)
        let backup = try LocalStateStore.decoder.decode(State.self, from: Data(contentsOf: store.backupFile))
        #expect(backup == first)
        #expect(try store.read() == state)
        #expect(store.backupFile.lastPathComponent == "dev.json.backup")
    }

    @Test("a corrupt state file is named with the line and column of the fault, and the backup to restore")
    func testRead_corruptFileNamesPositionAndBackup() throws {
        let store = store()
        try store.write(State(project: "p", environment: "dev"))
        try store.write(State(project: "p", environment: "dev"))
        let text = try String(contentsOf: store.stateFile, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let row = try #require(lines.firstIndex { $0.contains("\"lineage\"") })
        let column = try #require(lines[row].firstIndex(of: "\"")).utf16Offset(in: lines[row]) + 1
        try text.replacingOccurrences(of: "\"lineage\"", with: "lineage").write(to: store.stateFile, atomically: true, encoding: .utf8)
        do {
            _ = try store.read()
            Issue.record("a corrupt state was read")
        } catch let error as StateLockError {
            #expect(error.message.contains("the state file \(store.stateFile.path) is unreadable"), "\(error.message)")
            #expect(error.message.contains("at line \(row + 1), column \(column)"), "\(error.message)")
            #expect(error.message.contains("cp \(store.backupFile.path) \(store.stateFile.path)"))
            #expect(!error.message.contains("The data isn't in the correct format"))
        }
        try "{\"format_version\": 1, \"lineage\": \"l\", \"serial\": \"seven\"}".write(to: store.stateFile, atomically: true, encoding: .utf8)
        let wrongType = #expect(throws: StateLockError.self) { try store.read() }
        #expect(wrongType?.message.contains("serial:") == true, "\(wrongType?.message ?? "no error")")
    }
}
