import Foundation
import Planner
import Testing

/// Encryption at rest: states and journal records sealed with AES-256-GCM, their lineage and
/// serial in a clear header bound into the seal.
@Suite("State encryption: sealed values, their clear header, key rotation")
struct StateCodecTests {
    let key = "k7Q2w9Zr4Xy1Lm8Np3Vb6Tc0Hd5Fg2Js9Ae4Ru7Oi1W="
    let oldKey = "old-key-0123456789abcdefghijklmnopqrstuvwxyz="

    func state(serial: Int = 7) -> State {
        var state = State(project: "kryonix", environment: "prod", lineage: "lineage-1")
        state.serial = serial
        state.record(StateResource(address: "node.main.1", kind: .node, providerID: "droplet-secret-id-4242", status: .ready,
                                   attributes: ["size": "s-2vcpu-4gb"], dependsOn: [], updatedAt: Date(timeIntervalSince1970: 1_800_000_000)))
        return state
    }

    @Test("a sealed state and record read back whole; the bytes hold none of the state's values, the header its lineage and serial")
    func roundTrip() throws {
        let codec = StateCodec(cipher: try StateCipher(secret: key))
        let sealed = try codec.encode(state())
        let text = String(decoding: sealed, as: UTF8.self)
        #expect(text.hasPrefix("kf-sealed-1 {") && !text.contains("droplet-secret-id-4242") && !text.contains("s-2vcpu-4gb") && !text.contains("\n"))
        #expect(StateCodec.header(of: sealed) == StateCodec.Header(kind: "state", lineage: "lineage-1", serial: 7, key: try #require(codec.cipher?.keyID)))
        #expect(try codec.decodeState(sealed) == state())
        let record = StateJournalRecord(lineage: "lineage-1", serial: 8, recorded: state().resources, removed: ["node.main.2"])
        let line = try codec.encode(record)
        #expect(!line.contains(0x0A) && !String(decoding: line, as: UTF8.self).contains("droplet-secret-id-4242"))
        #expect(try codec.decodeRecord(line) == record)
        // Plain JSON still reads with a key set: turning encryption on keeps the state there is.
        #expect(try codec.decodeState(try StateCodec.plain.encode(state())) == state())
    }

    @Test("an old state relabelled as a newer serial, or any byte changed, does not open: one line saying so")
    func tamperingIsRefused() throws {
        let codec = StateCodec(cipher: try StateCipher(secret: key))
        let sealed = String(decoding: try codec.encode(state(serial: 7)), as: UTF8.self)
        let relabelled = sealed.replacingOccurrences(of: "\"serial\":7", with: "\"serial\":70")
        #expect(relabelled != sealed)
        #expect(throws: StateCodec.Unreadable.self) { try codec.decodeState(Data(relabelled.utf8)) }
        do { _ = try codec.decodeState(Data(relabelled.utf8)) } catch let error as StateCodec.Unreadable {
            #expect(error.problem.contains("does not decrypt") && error.problem.contains("altered") && !error.problem.contains("\n"), "\(error.problem)")
        }
        var bytes = Array(sealed.utf8)
        bytes[bytes.count - 10] = bytes[bytes.count - 10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: StateCodec.Unreadable.self) { try codec.decodeState(Data(bytes)) }
    }

    @Test("a state sealed with another key names both key ids; the old key as fallback_key reads it, and writes use the new key")
    func rotation() throws {
        let old = StateCodec(cipher: try StateCipher(secret: oldKey))
        let sealed = try old.encode(state())
        let newOnly = StateCodec(cipher: try StateCipher(secret: key))
        do {
            _ = try newOnly.decodeState(sealed)
            Issue.record("opened with the wrong key")
        } catch let error as StateCodec.Unreadable {
            #expect(error.problem.contains("key id \(try #require(old.cipher?.keyID))") && error.problem.contains("fallback_key"), "\(error.problem)")
        }
        let rotating = StateCodec(cipher: try StateCipher(secret: key, fallback: oldKey))
        #expect(try rotating.decodeState(sealed) == state())
        let rewritten = try rotating.encode(state())
        #expect(StateCodec.header(of: rewritten)?.key == newOnly.cipher?.keyID)
        #expect(try newOnly.decodeState(rewritten) == state())
        do {
            _ = try StateCodec.plain.decodeState(sealed)
            Issue.record("a sealed state read as plain")
        } catch let error as StateCodec.Unreadable {
            #expect(error.problem.contains("it is encrypted") && error.problem.contains("state.encryption"), "\(error.problem)")
        }
        #expect(throws: StateCipher.WeakKey.self) { try StateCipher(secret: "hunter2") }
    }

    @Test("the local backend with a key: the state file and every journal line are sealed, read back with the journal applied")
    func localStoreSeals() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-sealed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".kryoform/state"), withIntermediateDirectories: true)
        var store = LocalStateStore(projectRoot: root, environment: "prod")
        store.codec = StateCodec(cipher: try StateCipher(secret: key))
        try store.write(state())
        let record = StateJournalRecord(lineage: "lineage-1", serial: 8, recorded: [], removed: ["node.main.1"])
        try store.append(record) { state() }
        let file = try String(contentsOf: store.stateFile, encoding: .utf8)
        let journal = try String(contentsOf: store.journalFile, encoding: .utf8)
        #expect(file.hasPrefix("kf-sealed-1 ") && !file.contains("droplet-secret-id-4242"))
        #expect(journal.hasPrefix("kf-sealed-1 ") && journal.split(separator: "\n").count == 1)
        var expected = state()
        expected.apply(record)
        #expect(try store.read() == expected)
        var plain = store
        plain.codec = .plain
        do {
            _ = try plain.read()
            Issue.record("read without the key")
        } catch let error as StateLockError {
            #expect(error.message.contains("is unreadable: it is encrypted"), "\(error.message)")
        }
    }
}
