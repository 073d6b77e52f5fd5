import Foundation
@testable import Planner
import Testing

@Suite("The state journal: an apply appends what each step changed, folded into the state at the end")
struct StateJournalTests {
    let store = LocalStateStore(projectRoot: FileManager.default.temporaryDirectory.appendingPathComponent("kf-journal-\(UUID().uuidString)"),
                                environment: "dev")

    func resource(_ address: ResourceAddress, id: String? = nil, status: StateResource.Status = .ready) -> StateResource {
        StateResource(address: address, kind: .node, providerID: id ?? "id-\(address)", status: status, attributes: ["size": "s-1"],
                      dependsOn: [], updatedAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    /// A state of `count` nodes, written as the apply's starting point.
    func written(_ count: Int) throws -> State {
        var state = State(project: "p", environment: "dev")
        for number in 0..<count { state.record(resource(ResourceAddress("node.app.\(number)"))) }
        state.serial = 3
        try store.write(state)
        return state
    }

    @Test("each step is one line of the journal, the state file is not rewritten, and reading sees the steps")
    func testSteps_appendOnly() async throws {
        let base = try written(1_000)
        let before = try Data(contentsOf: store.stateFile)
        let recorder = StateRecorder(store: store, state: base)
        let change = PlanChange(address: "node.new.1", kind: .node, action: .create, reasons: ["new"], after: ["size": "s-1"])
        try await recorder.recordIntents([change])
        try await recorder.recordObserved([ObservedResource(address: "node.new.1", kind: .node, providerID: "n-9", attributes: ["size": "s-1"])],
                                          dependsOn: [:])
        try await recorder.remove("node.app.7", providerID: nil)

        #expect(try Data(contentsOf: store.stateFile) == before, "the state file was rewritten by a step")
        let journal = try String(contentsOf: store.journalFile, encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 3)
        #expect(journal.utf8.count < 2_000, "a step's record holds only what it changed, not the \(base.resources.count) records of the state")

        let read = try #require(try store.read())
        #expect(read.serial == base.serial + 3)
        #expect(read.resource("node.new.1")?.providerID == "n-9")
        #expect(read.resource("node.app.7") == nil)
        #expect(read.resources.count == 1_000)
        let recorded = await recorder.state
        #expect(read.resources.map { "\($0.address) \($0.providerID ?? "-") \($0.status)" } == recorded.resources.map { "\($0.address) \($0.providerID ?? "-") \($0.status)" })
    }

    @Test("compaction writes the state once with every step, keeps the old one as the backup, and removes the journal")
    func testCompact_foldsTheJournal() async throws {
        let base = try written(3)
        let recorder = StateRecorder(store: store, state: base)
        try await recorder.remove("node.app.0", providerID: nil)
        try await recorder.remove("node.app.1", providerID: nil)
        let expected = try #require(try store.read())
        try store.compact()
        #expect(!FileManager.default.fileExists(atPath: store.journalFile.path))
        #expect(try store.read() == expected)
        #expect(expected.serial == 5 && expected.resources.map(\.address) == ["node.app.2"])
        let backup = try LocalStateStore.decoder.decode(State.self, from: Data(contentsOf: store.backupFile))
        #expect(backup == base)
        try store.compact() // nothing to fold: nothing changes
        #expect(try store.read() == expected)
    }

    @Test("a last line cut short by a crash is left out; the steps before it are kept")
    func testTornLine_leftOut() async throws {
        let base = try written(2)
        let recorder = StateRecorder(store: store, state: base)
        try await recorder.remove("node.app.0", providerID: nil)
        let handle = try FileHandle(forWritingTo: store.journalFile)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"lineage\":\"\(base.lineage)\",\"serial\":5,\"rec".utf8))
        try handle.close()
        let read = try #require(try store.read())
        #expect(read.serial == 4)
        #expect(read.resources.map(\.address) == ["node.app.1"])
        try store.compact()
        #expect(try store.read() == read)
    }

    @Test("a state file that already has the journal's steps (a crash between the two) is not changed by them again")
    func testReplay_passesOverWhatTheStateHas() async throws {
        let base = try written(2)
        let recorder = StateRecorder(store: store, state: base)
        try await recorder.remove("node.app.0", providerID: nil)
        let journal = try Data(contentsOf: store.journalFile)
        try store.compact()
        try journal.write(to: store.journalFile) // as if the crash came before the journal was removed
        let read = try #require(try store.read())
        #expect(read.serial == 4 && read.resources.map(\.address) == ["node.app.1"])
    }

    @Test("a damaged line, or steps that do not follow the state file, are one clear error naming the journal")
    func testDamagedJournal_clearError() async throws {
        let base = try written(2)
        let recorder = StateRecorder(store: store, state: base)
        try await recorder.remove("node.app.0", providerID: nil)
        try await recorder.remove("node.app.1", providerID: nil)
        let lines = try String(contentsOf: store.journalFile, encoding: .utf8).split(separator: "\n")
        try ("{oops\n" + lines[1] + "\n").write(to: store.journalFile, atomically: true, encoding: .utf8)
        #expect {
            _ = try store.read()
        } throws: { error in
            let message = (error as? StateLockError)?.message ?? ""
            return message.contains(store.journalFile.path) && message.contains("line 1") && message.contains("fix:")
        }
        try (lines[1] + "\n").write(to: store.journalFile, atomically: true, encoding: .utf8) // serial 5 after 3: one is missing
        #expect {
            _ = try store.read()
        } throws: { error in
            ((error as? StateLockError)?.message ?? "").contains("does not follow")
        }
    }

    @Test("the first step of a project with no state writes the state whole; the journal follows it")
    func testFirstStep_writesTheState() async throws {
        let recorder = StateRecorder(store: store, state: State(project: "p", environment: "dev"), stored: false)
        try await recorder.recordObserved([ObservedResource(address: "network", kind: .network, providerID: "net-1", attributes: [:])], dependsOn: [:])
        #expect(FileManager.default.fileExists(atPath: store.stateFile.path))
        #expect(!FileManager.default.fileExists(atPath: store.journalFile.path))
        try await recorder.remove("network", providerID: nil)
        #expect(FileManager.default.fileExists(atPath: store.journalFile.path))
        #expect(try store.read()?.resources.isEmpty == true)
    }
}
