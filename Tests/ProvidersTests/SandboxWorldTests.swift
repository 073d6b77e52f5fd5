import Foundation
import Planner
@testable import Providers
import Testing

@Suite("The sandbox's world on disk: a snapshot and a log of what each call changed")
struct SandboxWorldTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kf-world-\(UUID().uuidString)")
    var store: SandboxStore { SandboxStore(directory: directory) }

    func object(_ number: Int) -> SandboxObject {
        SandboxObject(id: "sbx-node-\(number)", kind: .node, tags: ["kryoform:address=node.app.\(number)"], attributes: ["size": "s-1vcpu-1gb"],
                      details: [:], createdAt: Date(timeIntervalSince1970: 1_700_000_000), readyAt: Date(timeIntervalSince1970: 1_700_000_000), parentID: nil)
    }

    /// The world as a process that never read it sees it.
    func readAfresh() throws -> SandboxCloud {
        SandboxWorlds.shared.forgetAll()
        return try store.read()
    }

    @Test("a call appends only what it changed: the snapshot stays, and a fresh reader sees the same world")
    func testCall_appendsItsChange() throws {
        try store.transaction { cloud in
            for number in 0..<1_500 { cloud.append(object(number)) }
        }
        // 1,500 objects outgrow the log at once: they are folded into the snapshot.
        let snapshot = try Data(contentsOf: store.file)
        let logBefore = (try? Data(contentsOf: store.logFile))?.count ?? 0
        try store.transaction { cloud in
            guard let index = cloud.index(of: "sbx-node-7") else { return }
            cloud.modify(at: index) { $0.attributes["size"] = "s-2vcpu-2gb" }
            cloud.remove(at: cloud.index(of: "sbx-node-9") ?? 0)
            cloud.nextID = 777
        }
        #expect(try Data(contentsOf: store.file) == snapshot, "a call rewrote the whole world")
        let appended = try Data(contentsOf: store.logFile).count - logBefore
        #expect(appended > 0 && appended < 1_000, "the log grew by \(appended) bytes for one changed object")

        let world = try readAfresh()
        #expect(world.objects.count == 1_499)
        #expect(world.objects.first { $0.id == "sbx-node-7" }?.attributes["size"] == "s-2vcpu-2gb")
        #expect(world.index(of: "sbx-node-9") == nil)
        #expect(world.nextID == 777)
        #expect(world.objects.map(\.id) == (0..<1_500).filter { $0 != 9 }.map { "sbx-node-\($0)" }, "the order of the world changed")
    }

    @Test("a call that changes nothing writes nothing")
    func testReadOnlyCall_writesNothing() throws {
        try store.transaction { $0.append(object(1)) }
        let before = try Data(contentsOf: store.logFile)
        _ = try store.transaction { $0.objects.count }
        #expect(try Data(contentsOf: store.logFile) == before)
    }

    @Test("another process's changes are read from the log; a log outgrowing the snapshot is folded into it")
    func testLog_sharedAndFolded() throws {
        try store.transaction { $0.append(object(1)) }
        // Another process appends: its line is read by this one's next call.
        let other = SandboxLogEntry(counters: .init(nextID: 3, createCount: 0, requestCount: 0), put: [object(2)], delete: ["sbx-node-1"])
        let handle = try FileHandle(forWritingTo: store.logFile)
        try handle.seekToEnd()
        try handle.write(contentsOf: try SandboxStore.encoder.encode(other) + Data([0x0A]))
        try handle.close()
        #expect(try store.read().objects.map(\.id) == ["sbx-node-2"])
        // Enough calls to outgrow the log's limit: folded, the log starts again.
        for number in 3..<1_300 { try store.transaction { $0.append(object(number)) } }
        #expect(FileManager.default.fileExists(atPath: store.file.path), "the log was never folded")
        let logSize = (try? Data(contentsOf: store.logFile))?.count ?? 0
        #expect(logSize < max(SandboxStore.logLimit, (try Data(contentsOf: store.file)).count))
        let world = try readAfresh()
        #expect(world.objects.count == 1_298)
        #expect(world.objects.first?.id == "sbx-node-2" && world.objects.last?.id == "sbx-node-1299")
    }

    @Test("a last line a crash cut short is left out, and the next call writes over it")
    func testTornLine_overwritten() throws {
        try store.transaction { $0.append(object(1)) }
        let handle = try FileHandle(forWritingTo: store.logFile)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"counters\":{\"next_id\":9".utf8))
        try handle.close()
        #expect(try readAfresh().objects.map(\.id) == ["sbx-node-1"])
        try store.transaction { $0.append(object(2)) }
        #expect(try readAfresh().objects.map(\.id) == ["sbx-node-1", "sbx-node-2"])
        let text = try String(contentsOf: store.logFile, encoding: .utf8)
        #expect(!text.contains("\"next_id\":9"), "the torn line is still there")
    }
}
