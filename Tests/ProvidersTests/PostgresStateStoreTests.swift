import Foundation
import Planner
import Providers
import Testing
import TestSupport

/// The postgres state backend against a real PostgreSQL server (Debian's), made by each test
/// in a temporary folder on a loopback port and removed after it.
@Suite("The postgres state backend, on a real PostgreSQL server")
final class PostgresStateStoreTests {
    let server: PostgresServer

    init() throws { server = try PostgresServer.start() }
    deinit { server.stop() }

    func store(_ environment: String = "prod", schema: String = "kryoform", password: String? = nil, port: Int? = nil) throws -> PostgresStateStore {
        var location = try PostgresLocation.parse(server.url, source: "state.url (env:TEST)")
        if let password { location.password = password }
        if let port { location.port = port }
        return PostgresStateStore(location: location, schema: schema, project: "kryonix", environment: environment)
    }

    @Test("a state written is read back whole by another store, every serial is kept in the history with what changed")
    func writesReadsAndKeepsHistory() throws {
        let writer = try store()
        #expect(try writer.read() == nil)
        try writer.lock(LockInfo(operation: "apply", owner: "alice"))
        for serial in 1...3 { try writer.write(sampleState(serial: serial, resources: serial)) }
        try writer.unlock(id: try #require(try writer.currentLock()).id)

        let read = try #require(try store().read())
        #expect(read == sampleState(serial: 3, resources: 3))
        let history = try server.sql("SELECT serial, owner, operation, summary FROM kryoform.history ORDER BY serial")
        #expect(history.split(separator: "\n") == ["1|alice|apply|1 added", "2|alice|apply|1 added", "3|alice|apply|1 added"])
        // Another environment of the same project is a row of its own.
        #expect(try store("staging").read() == nil)
    }

    @Test("an apply's steps are rows of the journal, read with the state by anyone; compaction folds them into one history row")
    func journalFoldsIntoOneHistoryRow() throws {
        let writer = try store()
        try writer.lock(LockInfo(operation: "apply", owner: "alice"))
        let base = sampleState(serial: 1, resources: 200)
        try writer.write(base)
        var steps: [StateJournalRecord] = []
        for serial in 2...11 {
            let resource = StateResource(address: ResourceAddress("node.new.\(serial)"), kind: .node, providerID: "new-\(serial)", status: .ready,
                                         attributes: [:], dependsOn: [], updatedAt: Date(timeIntervalSince1970: 1_800_000_000))
            steps.append(StateJournalRecord(lineage: base.lineage, serial: serial, recorded: [resource], removed: serial == 2 ? ["node.main.1"] : []))
            try writer.append(steps[steps.count - 1]) { Issue.record("a journal step asked for the whole state"); return base }
        }
        #expect(try server.sql("SELECT count(*) FROM kryoform.journal") == "10")
        #expect(try server.sql("SELECT serial FROM kryoform.states") == "1", "a step rewrote the whole state")
        let seen = try #require(try store().read(), "another runner reads the state with the journal's steps")
        #expect(seen.serial == 11 && seen.resources.count == 209 && seen.resource("node.main.1") == nil && seen.resource("node.new.11") != nil)

        // Two records of one serial: the second is refused.
        #expect(throws: StateLockError.self) { try writer.append(steps[0]) { base } }

        try writer.compact()
        try writer.unlock(id: try #require(try writer.currentLock()).id)
        #expect(try server.sql("SELECT count(*) FROM kryoform.journal") == "0")
        #expect(try server.sql("SELECT serial, summary FROM kryoform.history ORDER BY serial").split(separator: "\n")
                == ["1|200 added", "11|10 added, 1 removed"])
        #expect(try store().read() == seen)
        #expect(try store().state(atSerial: 11) == seen)
    }

    @Test("with a key, the state, its history and its journal rows are sealed; a store with the key reads them, one without cannot")
    func encrypted() throws {
        let codec = StateCodec(cipher: try StateCipher(secret: "pg-test-key-0123456789abcdefghijklmnop"))
        let writer = try store()
        writer.codec = codec
        try writer.lock(LockInfo(operation: "apply"))
        try writer.write(sampleState(serial: 1, resources: 3))
        try writer.append(StateJournalRecord(lineage: "lineage-1", serial: 2, removed: ["node.main.1"])) { sampleState(serial: 1, resources: 3) }
        for table in ["states", "history", "journal"] {
            let rows = try server.sql("SELECT encode(substr(body, 1, 12), 'escape') || ':' || (position('s-2vcpu-4gb'::bytea in body) > 0)::text FROM kryoform.\(table)")
            #expect(!rows.isEmpty && rows.split(separator: "\n").allSatisfy { $0 == "kf-sealed-1 :false" }, "\(table): \(rows)")
        }
        let reader = try store()
        reader.codec = codec
        #expect(try reader.read()?.serial == 2)
        #expect(throws: StateLockError.self) { try self.store().read() }
        try writer.compact()
        #expect(try reader.state(atSerial: 2)?.resources.count == 2)
        try writer.unlock(id: try #require(try writer.currentLock()).id)
    }

    @Test("a write against a serial another writer has moved on is refused, and overwrites nothing")
    func compareAndSet() throws {
        let first = try store()
        try first.write(sampleState(serial: 1, resources: 1))
        let second = try store()
        #expect(try second.read()?.serial == 1)
        try first.write(sampleState(serial: 2, resources: 2))
        #expect {
            try second.write(sampleState(serial: 2, resources: 5))
        } throws: { error in
            let message = (error as? StateLockError)?.message ?? "\(error)"
            return message.contains("changed under this run") && message.contains("read serial 1") && message.contains("now holds serial 2")
        }
        #expect(try store().read() == sampleState(serial: 2, resources: 2))
        // A first write where a state exists already is refused too (two first applies at once).
        let fresh = try store()
        #expect(throws: StateLockError.self) { try fresh.write(sampleState(serial: 1, lineage: "lineage-2", resources: 1)) }
        #expect(try server.sql("SELECT count(*) FROM kryoform.history") == "2")
    }

    @Test("the lock names its holder and its session to a second store, and is free once released")
    func lockNamesHolder() throws {
        let holder = try store()
        let info = LockInfo(operation: "apply", owner: "alice", host: "runner-1", pid: 4242)
        try holder.lock(info)
        let other = try store()
        #expect {
            try other.lock(LockInfo(operation: "apply", owner: "bob"))
        } throws: { error in
            guard case let .held(environment, by)? = error as? StateLockError else { return false }
            return environment == "prod" && by.id == info.id && by.owner == "alice" && by.host == "runner-1" && by.pid == 4242 && by.session != nil
                && (error as? StateLockError)?.message.contains("whose connection to the state database") == true
        }
        #expect(try other.currentLock()?.id == info.id)
        // Another environment's lock is another key.
        try store("staging").lock(LockInfo(operation: "plan"))
        try holder.unlock(id: info.id)
        #expect(try other.currentLock() == nil)
        try other.lock(LockInfo(operation: "apply", owner: "bob"))
        #expect(try store().currentLock()?.owner == "bob")
    }

    @Test("the lock goes with its connection: a session the server ends frees the lock, and its old holder can write no more")
    func lockGoesWithConnection() throws {
        let holder = try store()
        try holder.lock(LockInfo(operation: "apply", owner: "alice"))
        try holder.write(sampleState(serial: 1, resources: 1))
        let session = try #require(try store().currentLock()?.session)
        #expect(try server.sql("SELECT pg_terminate_backend(\(session))") == "t")
        // The server ends the session a moment after it is told to; until then the lock is held.
        let other = try store()
        let deadline = Date().addingTimeInterval(10)
        var taken = false
        while !taken && Date() < deadline {
            do { try other.lock(LockInfo(operation: "apply", owner: "bob")); taken = true } catch StateLockError.held { usleep(20_000) }
        }
        #expect(taken, "the lock stayed held after its session was ended")
        #expect {
            try holder.write(sampleState(serial: 2, resources: 2))
        } throws: { error in
            (error as? StateLockError)?.message.contains("and the lock of environment prod went with it") == true
        }
        #expect(try store().read()?.serial == 1)
    }

    @Test("a wrong password and a server that is not there each give one line naming the database, never the password")
    func connectionErrors() throws {
        for (store, expected) in [(try store(password: "not-the-password"), "password authentication failed"),
                                  (try store(port: try LoopbackNetwork.freePort()), "connection refused")] {
            #expect {
                _ = try store.read()
            } throws: { error in
                let message = (error as? StateLockError)?.message ?? "\(error)"
                return message.contains(expected) && message.contains("127.0.0.1:") && !message.contains(self.server.password)
                    && !message.contains("not-the-password") && !message.contains("\n")
            }
        }
    }

    @Test("a state.url that is not a PostgreSQL URL is refused without repeating it")
    func locationParsing() throws {
        let parsed = try PostgresLocation.parse("postgresql://ops:p%40ss@db.internal:6543/state?sslmode=require", source: "state.url")
        #expect(parsed == PostgresLocation(host: "db.internal", port: 6543, username: "ops", password: "p@ss", database: "state", tls: .require))
        #expect(parsed.display == "db.internal:6543/state")
        for text in ["http://ops:hunter2@db/state", "postgres://db/state", "postgres://ops:hunter2@db/state?sslmode=verify-full", "postgres://ops:hunter2@/x"] {
            #expect {
                _ = try PostgresLocation.parse(text, source: "state.url (env:URL)")
            } throws: { error in
                let message = (error as? StateURLError)?.message ?? ""
                return message.hasPrefix("state.url (env:URL) is not a usable PostgreSQL URL") && !message.contains("hunter2")
            }
        }
    }
}

/// A state of `resources` nodes of project kryonix, environment prod: what the state-store tests write.
func sampleState(serial: Int, lineage: String = "lineage-1", resources: Int) -> State {
    var state = State(project: "kryonix", environment: "prod", lineage: lineage)
    state.serial = serial
    for index in 0..<resources {
        state.record(StateResource(address: ResourceAddress("node.main.\(index + 1)"), kind: .node, providerID: "id-\(index)",
                                   status: .ready, attributes: ["size": "s-2vcpu-4gb"], dependsOn: [],
                                   updatedAt: Date(timeIntervalSince1970: 1_800_000_000)))
    }
    return state
}
