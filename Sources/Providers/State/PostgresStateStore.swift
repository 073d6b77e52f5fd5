import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Planner
import PostgresNIO

/// The postgres state backend (`state: {backend: postgres, url: env:…, schema: …}`). Four tables
/// in `schema`: `states` (the current state per project and environment), `history` (every
/// state written whole, append-only), `locks` (who holds each environment's lock) and
/// `journal` (the steps of the apply under way, or of one that was killed: each an INSERT of
/// what it changed, folded into `states` with one history row when the apply ends).
///
/// The lock is a session advisory lock, taken on the store's one connection and keyed by a hash
/// of schema, project and environment; the `locks` row only says who took it. A lock is held
/// exactly while its session lives: however its holder ends (`kill -9` too), the server releases
/// it with the connection, so a postgres lock never goes stale. A row whose session is gone is
/// no lock.
///
/// A write is a compare-and-set on the (lineage, serial) this store last read or wrote, in one
/// transaction with its history row, so a writer that lost the lock (its connection dropped and
/// another run took over) can never overwrite what the other wrote.
///
/// `StateStore` is synchronous (a signal's handler releases the lock from a plain thread), so
/// each query is sent on the store's own event loop and waited for, with a bound, on the
/// caller's thread, never on an event loop.
public final class PostgresStateStore: StateHistory, StateHistoryImporting, @unchecked Sendable {
    public let location: PostgresLocation
    public let schema: String
    public let project: String
    public let environment: String
    /// The advisory lock's key: the first 8 bytes of SHA-256(schema, project, environment).
    public let lockKey: Int64
    /// How long one query may take before the connection is given up.
    public var queryTimeout: TimeAmount = .seconds(30)
    /// How long `breakLock` waits for a gone holder's session to end on the server.
    public var sessionEndWait: TimeInterval = 10
    /// JSON, or sealed with `state.encryption`'s key.
    public var codec: StateCodec = .plain

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let logger: Logger
    /// Guards everything below; held for the whole of each operation.
    private let mutex = NSLock()
    private var connection: PostgresConnection?
    private var tablesReady = false
    /// Whether the `journal` table exists (a database set up by an earlier kryoform has none yet).
    private var journalReady = false
    /// The lock this store holds, with its session.
    private var held: LockInfo?
    /// The state as this store last read or wrote it: what the next write compares against.
    private var seen: State?

    public init(location: PostgresLocation, schema: String, project: String, environment: String) {
        self.location = location
        self.schema = schema
        self.project = project
        self.environment = environment
        self.lockKey = Self.lockKey(schema: schema, project: project, environment: environment)
        var logger = Logger(label: "kryoform.state.postgres")
        // postgres-nio's own log lines are for its developers; its errors reach us as thrown errors.
        logger.logLevel = .critical
        self.logger = logger
    }

    deinit {
        if let connection { try? connection.close().wait() }
        try? group.syncShutdownGracefully()
    }

    public static func lockKey(schema: String, project: String, environment: String) -> Int64 {
        let digest = SHA256.hash(data: Data("kryoform-state\0\(schema)\0\(project)\0\(environment)".utf8))
        return digest.prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
    }

    /// `schema.name`, quoted.
    private func table(_ name: String) -> String { "\"\(schema)\".\"\(name)\"" }

    // MARK: StateStore

    public func read() throws -> State? {
        try mutex.withLock { () throws -> State? in
            let connection = try connected()
            guard try tablesExist(connection) else { return nil }
            let rows = try run("read the state", """
                SELECT body FROM \(unescaped: table("states")) WHERE project = \(project) AND environment = \(environment)
                """, on: connection).rows
            guard let row = rows.first else {
                seen = nil
                return nil
            }
            let state = try decodeState(try decode(row, as: Data.self, doing: "read the state"))
            seen = state
            return try replayJournal(onto: state, connection)
        }
    }

    private func decodeState(_ body: Data) throws -> State {
        do { return try codec.decodeState(body) } catch {
            throw StateLockError.io("the state of environment \(environment) in the postgres database \(location.display) (\(table("states"))) is unreadable: "
                                    + "\(JSONProblem.describe(error, in: body)); every earlier serial is kept in \(table("history"))")
        }
    }

    /// `state` with the journal's records applied.
    private func replayJournal(onto state: State, _ connection: PostgresConnection) throws -> State {
        let records = try journal(connection)
        guard !records.isEmpty else { return state }
        do { return try StateJournalRecord.replay(records, onto: state, stateName: "the state in \(table("states"))") } catch let mismatch as StateJournalRecord.Mismatch {
            throw StateLockError.unreadableJournal(file: "\(table("journal")) in \(location.display)", problem: mismatch.problem)
        }
    }

    private func journal(_ connection: PostgresConnection) throws -> [StateJournalRecord] {
        guard journalReady else { return [] }
        let rows = try run("read the state's journal", """
            SELECT serial, body FROM \(unescaped: table("journal")) WHERE project = \(project) AND environment = \(environment) ORDER BY serial
            """, on: connection).rows
        return try rows.map { row in
            let serial: Int, body: Data
            do { (serial, body) = try row.decode((Int, Data).self) } catch {
                throw StateLockError.io("the journal of environment \(environment) in \(location.display) is unreadable: \(error)")
            }
            do { return try codec.decodeRecord(body) } catch {
                throw StateLockError.unreadableJournal(file: "\(table("journal")) in \(location.display)",
                                                       problem: "the record of serial \(serial): \(JSONProblem.describe(error, in: body))")
            }
        }
    }

    /// One INSERT of what the step changed, on the lock's connection: a run that lost its lock
    /// lost that connection with it, and two records of one serial cannot both be kept.
    public func append(_ record: StateJournalRecord, state: () -> State) throws {
        try mutex.withLock {
            let connection = try connected()
            try ensureTables(connection)
            let body: Data
            do { body = try codec.encode(record) } catch { throw StateLockError.io("cannot encode a journal record: \(error)") }
            let added = try run("record a step in the state's journal", """
                INSERT INTO \(unescaped: table("journal")) (project, environment, lineage, serial, body)
                VALUES (\(project), \(environment), \(record.lineage), \(record.serial), \(body))
                ON CONFLICT (project, environment, serial) DO NOTHING
                """, on: connection).metadata.rows ?? 0
            guard added == 1 else {
                throw StateLockError.conflict(environment: environment, detail: "the journal already holds a record of serial \(record.serial), written by another run")
            }
        }
    }

    /// Folds the journal into `states` with one history row, and empties it, in one transaction.
    public func compact() throws {
        try mutex.withLock {
            let connection = try connected()
            guard try tablesExist(connection), journalReady, !(try journal(connection)).isEmpty else { return }
            let rows = try run("read the state", """
                SELECT body FROM \(unescaped: table("states")) WHERE project = \(project) AND environment = \(environment)
                """, on: connection).rows
            guard let row = rows.first else {
                throw StateLockError.unreadableJournal(file: "\(table("journal")) in \(location.display)",
                                                       problem: "it holds records of an apply, and the state they follow is missing from \(table("states"))")
            }
            let base = try decodeState(try decode(row, as: Data.self, doing: "read the state"))
            seen = base
            try writeLocked(try replayJournal(onto: base, connection), on: connection)
        }
    }

    public func write(_ state: State) throws {
        try mutex.withLock {
            let connection = try connected()
            try ensureTables(connection)
            try writeLocked(state, on: connection)
        }
    }

    /// The compare-and-set write with its history row, and the journal emptied (`state` holds
    /// its records), in one transaction.
    private func writeLocked(_ state: State, on connection: PostgresConnection) throws {
        let body: Data
        do { body = try codec.encode(state) } catch { throw StateLockError.io("cannot encode the state: \(error)") }
        let summary = state.changeSummary(since: seen)
        try run("begin a transaction", "BEGIN", on: connection)
        do {
            guard try setState(state, body: body, over: seen, on: connection) else {
                let detail = try conflictDetail(connection, expected: seen)
                _ = try? run("roll back", "ROLLBACK", on: connection)
                throw StateLockError.conflict(environment: environment, detail: detail)
            }
            let who = held
            try run("record the state's history", """
                INSERT INTO \(unescaped: table("history")) (project, environment, lineage, serial, body, written_at, owner, host, operation, summary)
                VALUES (\(project), \(environment), \(state.lineage), \(state.serial), \(body), now(),
                        \(who?.owner ?? LockInfo.currentUser), \(who?.host ?? ProcessInfo.processInfo.hostName), \(who?.operation ?? "write"), \(summary))
                """, on: connection)
            if journalReady {
                try run("empty the state's journal", """
                    DELETE FROM \(unescaped: table("journal")) WHERE project = \(project) AND environment = \(environment)
                    """, on: connection)
            }
            try run("commit the state", "COMMIT", on: connection)
        } catch {
            _ = try? run("roll back", "ROLLBACK", on: connection)
            throw error
        }
        seen = state
    }

    /// The history rows as they were, then the `states` row, in one transaction; refused when
    /// the environment has a state here already.
    public func adopt(current: State, history: [(entry: StateHistoryEntry, state: State)]) throws {
        try mutex.withLock {
            let connection = try connected()
            try ensureTables(connection)
            let body: Data
            do { body = try codec.encode(current) } catch { throw StateLockError.io("cannot encode the state: \(error)") }
            try run("begin a transaction", "BEGIN", on: connection)
            do {
                // Back onto the copy a migration away left: replaced, compared and set; else a first write.
                guard try setState(current, body: body, over: seen?.movedTo != nil ? seen : nil, on: connection) else {
                    throw StateLockError.conflict(environment: environment, detail: "\(location.display) holds a state of this environment already; "
                                                  + "state migrate moves state only into a backend that has none")
                }
                for (entry, state) in history {
                    let stateBody: Data
                    do { stateBody = try codec.encode(state) } catch { throw StateLockError.io("cannot encode the state: \(error)") }
                    try run("copy the state's history", """
                        INSERT INTO \(unescaped: table("history")) (project, environment, lineage, serial, body, written_at, owner, host, operation, summary)
                        VALUES (\(project), \(environment), \(entry.lineage), \(entry.serial), \(stateBody), \(entry.written),
                                \(entry.owner), \(entry.host), \(entry.operation), \(entry.summary))
                        ON CONFLICT (project, environment, lineage, serial) DO NOTHING
                        """, on: connection)
                }
                try run("commit the state", "COMMIT", on: connection)
            } catch {
                _ = try? run("roll back", "ROLLBACK", on: connection)
                throw error
            }
            seen = current
        }
    }

    /// The `states` row set to `state`: compared and set on `previous`'s lineage and serial, or,
    /// with no previous, inserted only if there is none. False when no row matched.
    private func setState(_ state: State, body: Data, over previous: State?, on connection: PostgresConnection) throws -> Bool {
        let rows: Int
        if let previous {
            rows = try run("write the state", """
                UPDATE \(unescaped: table("states")) SET lineage = \(state.lineage), serial = \(state.serial), body = \(body), updated_at = now()
                WHERE project = \(project) AND environment = \(environment) AND lineage = \(previous.lineage) AND serial = \(previous.serial)
                """, on: connection).metadata.rows ?? 0
        } else {
            rows = try run("write the state", """
                INSERT INTO \(unescaped: table("states")) (project, environment, lineage, serial, body, updated_at)
                VALUES (\(project), \(environment), \(state.lineage), \(state.serial), \(body), now())
                ON CONFLICT (project, environment) DO NOTHING
                """, on: connection).metadata.rows ?? 0
        }
        return rows == 1
    }

    public func lock(_ info: LockInfo) throws {
        try mutex.withLock {
            let connection = try connected()
            try ensureTables(connection)
            let taken = try decode(try run("take the lock", "SELECT pg_try_advisory_lock(\(lockKey))", on: connection).rows.first,
                                   as: Bool.self, doing: "take the lock")
            guard taken else {
                throw StateLockError.held(environment: environment, by: try liveLock(connection) ?? unknownHolder())
            }
            do {
                held = try recordHolder(info, on: connection)
            } catch {
                // Taken but not recorded: given back, so no one waits on a lock nobody knows of.
                _ = try? run("release the lock", "SELECT pg_advisory_unlock(\(lockKey))", on: connection)
                throw error
            }
        }
    }

    /// Writes the `locks` row naming `info` as the holder; returns `info` with its session.
    private func recordHolder(_ info: LockInfo, on connection: PostgresConnection) throws -> LockInfo {
        let session = try decode(try run("read the session", "SELECT pg_backend_pid()", on: connection).rows.first,
                                 as: Int32.self, doing: "read the session")
        var mine = info
        mine.session = session
        try run("record the lock's holder", """
            INSERT INTO \(unescaped: table("locks")) (project, environment, lock_id, operation, owner, host, pid, executable, started, session)
            VALUES (\(project), \(environment), \(info.id), \(info.operation), \(info.owner), \(info.host), \(info.pid), \(info.executable), \(info.started), \(session))
            ON CONFLICT (project, environment) DO UPDATE SET lock_id = EXCLUDED.lock_id, operation = EXCLUDED.operation, owner = EXCLUDED.owner,
                host = EXCLUDED.host, pid = EXCLUDED.pid, executable = EXCLUDED.executable, started = EXCLUDED.started, session = EXCLUDED.session
            """, on: connection)
        return mine
    }

    public func unlock(id: String) throws {
        try mutex.withLock {
            guard let held, held.id == id else {
                if let connection = try? connected(), let live = try liveLock(connection), live.id != id {
                    throw StateLockError.held(environment: environment, by: live)
                }
                return
            }
            self.held = nil
            // Closing the session releases the advisory lock whatever else happens; the row is
            // taken out first so no one reads a holder that has just gone.
            if let connection, !connection.isClosed {
                _ = try? run("remove the lock's record", """
                    DELETE FROM \(unescaped: table("locks")) WHERE project = \(project) AND environment = \(environment) AND lock_id = \(id)
                    """, on: connection)
                _ = try? run("release the lock", "SELECT pg_advisory_unlock(\(lockKey))", on: connection)
            }
            disconnect()
        }
    }

    public func currentLock() throws -> LockInfo? {
        try mutex.withLock { () throws -> LockInfo? in
            if let held { return held }
            let connection = try connected()
            guard try tablesExist(connection) else { return nil }
            return try liveLock(connection)
        }
    }

    /// A postgres lock cannot be taken from a live session: it is released when the holder's
    /// session ends. For a holder that is gone (killed on this host), this waits, bounded, for
    /// the server to end its session, then removes its row; false when the session stays.
    public func breakLock(_ holder: LockInfo) throws -> Bool {
        let deadline = Date().addingTimeInterval(sessionEndWait)
        while true {
            let outcome: Bool? = try mutex.withLock {
                let connection = try connected()
                guard try tablesExist(connection) else { return false }
                if let live = try liveLock(connection), live.id == holder.id || (holder.session != nil && live.session == holder.session) {
                    return Date() < deadline ? nil : false
                }
                try run("remove a gone holder's record", """
                    DELETE FROM \(unescaped: table("locks")) WHERE project = \(project) AND environment = \(environment) AND lock_id = \(holder.id)
                    """, on: connection)
                return true
            }
            if let outcome { return outcome }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    // MARK: History

    public func history() throws -> [StateHistoryEntry] {
        try mutex.withLock {
            let connection = try connected()
            guard try tablesExist(connection) else { return [] }
            let rows = try run("read the state's history", """
                SELECT lineage, serial, written_at, owner, host, operation, summary FROM \(unescaped: table("history"))
                WHERE project = \(project) AND environment = \(environment) ORDER BY written_at, serial
                """, on: connection).rows
            return try rows.map { row in
                do {
                    let (lineage, serial, written, owner, host, operation, summary) = try row.decode((String, Int, Date, String, String, String, String).self)
                    return StateHistoryEntry(lineage: lineage, serial: serial, written: written, owner: owner, host: host, operation: operation, summary: summary)
                } catch {
                    throw StateLockError.io("the history of environment \(environment) in \(location.display) is unreadable: \(error)")
                }
            }
        }
    }

    public func state(atSerial serial: Int) throws -> State? {
        try mutex.withLock { () throws -> State? in
            let connection = try connected()
            guard try tablesExist(connection) else { return nil }
            // The newest lineage's serial: a lineage started over (the state removed and made again) reuses serials.
            let rows = try run("read the state's history", """
                SELECT body FROM \(unescaped: table("history"))
                WHERE project = \(project) AND environment = \(environment) AND serial = \(serial) ORDER BY written_at DESC LIMIT 1
                """, on: connection).rows
            guard let row = rows.first else { return nil }
            let body = try decode(row, as: Data.self, doing: "read the state's history")
            do { return try codec.decodeState(body) } catch {
                throw StateLockError.io("serial \(serial) of environment \(environment) in \(location.display) is unreadable: \(JSONProblem.describe(error, in: body))")
            }
        }
    }

    // MARK: Connection

    /// The store's connection, opened once. When it has closed while this store held the lock,
    /// the lock went with it: that is an error, never a quiet reconnect.
    private func connected() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        if connection != nil, held != nil {
            held = nil
            throw StateLockError.io("the connection to the state database \(location.display) closed during the run, and the lock of environment \(environment) went with it; "
                                    + "no more state is written by this run (run again: the next apply adopts what was made)")
        }
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.username,
                                                             password: location.password, database: location.database, tls: try tls())
        configuration.options.connectTimeout = .seconds(10)
        let opened: PostgresConnection
        do {
            opened = try bounded(PostgresConnection.connect(on: group.next(), configuration: configuration, id: 1, logger: logger),
                                 timeout: .seconds(15)).wait()
        } catch {
            throw explain(error, doing: "connect")
        }
        connection = opened
        tablesReady = false
        journalReady = false
        return opened
    }

    private func disconnect() {
        if let connection { try? connection.close().wait() }
        connection = nil
        tablesReady = false
        journalReady = false
    }

    private func tls() throws -> PostgresConnection.Configuration.TLS {
        guard location.tls != .disable else { return .disable }
        do {
            let context = try NIOSSLContext(configuration: .makeClientConfiguration())
            return location.tls == .require ? .require(context) : .prefer(context)
        } catch {
            throw StateLockError.io("cannot set up TLS for the state database \(location.display): \(error)")
        }
    }

    // MARK: Tables

    /// Whether the tables of state, history and locks exist (and notes whether the journal's does).
    private func tablesExist(_ connection: PostgresConnection) throws -> Bool {
        if tablesReady { return true }
        let rows = try run("look for the state tables", """
            SELECT table_name::text FROM information_schema.tables
            WHERE table_schema = \(schema) AND table_name IN ('states', 'history', 'locks', 'journal')
            """, on: connection).rows
        let names = Set(try rows.map { try decode($0, as: String.self, doing: "look for the state tables") })
        journalReady = names.contains("journal")
        tablesReady = names.isSuperset(of: ["states", "history", "locks"])
        return tablesReady
    }

    /// Creates the schema and tables once, under a transaction-scoped advisory lock so two
    /// first runs do not race on `CREATE TABLE`.
    private func ensureTables(_ connection: PostgresConnection) throws {
        guard try !tablesExist(connection) || !journalReady else { return }
        let statements: [PostgresQuery] = [
            "BEGIN",
            "SELECT pg_advisory_xact_lock(\(Self.lockKey(schema: schema, project: "", environment: "")))",
            "CREATE SCHEMA IF NOT EXISTS \(unescaped: "\"\(schema)\"")",
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: table("states")) (
                project text NOT NULL, environment text NOT NULL, lineage text NOT NULL, serial bigint NOT NULL,
                body bytea NOT NULL, updated_at timestamptz NOT NULL, PRIMARY KEY (project, environment))
            """,
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: table("history")) (
                project text NOT NULL, environment text NOT NULL, lineage text NOT NULL, serial bigint NOT NULL,
                body bytea NOT NULL, written_at timestamptz NOT NULL, owner text NOT NULL, host text NOT NULL,
                operation text NOT NULL, summary text NOT NULL, PRIMARY KEY (project, environment, lineage, serial))
            """,
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: table("locks")) (
                project text NOT NULL, environment text NOT NULL, lock_id text NOT NULL, operation text NOT NULL,
                owner text NOT NULL, host text NOT NULL, pid integer NOT NULL, executable text, started timestamptz NOT NULL,
                session integer NOT NULL, PRIMARY KEY (project, environment))
            """,
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: table("journal")) (
                project text NOT NULL, environment text NOT NULL, lineage text NOT NULL, serial bigint NOT NULL,
                body bytea NOT NULL, PRIMARY KEY (project, environment, serial))
            """,
            "COMMIT",
        ]
        do {
            for statement in statements { try run("create the state tables in schema \(schema)", statement, on: connection) }
        } catch {
            _ = try? run("roll back", "ROLLBACK", on: connection)
            throw error
        }
        tablesReady = true
        journalReady = true
    }

    // MARK: Locks

    /// The holder of the environment's advisory lock, if a session holds it now: its row, or, when
    /// the row is not there yet (the holder is between taking the lock and recording itself),
    /// the session alone.
    private func liveLock(_ connection: PostgresConnection) throws -> LockInfo? {
        let high = Int64(UInt32(truncatingIfNeeded: lockKey >> 32))
        let low = Int64(UInt32(truncatingIfNeeded: lockKey))
        let rows = try run("read the lock", """
            SELECT k.pid, l.lock_id, l.operation, l.owner, l.host, l.pid, l.executable, l.started
            FROM pg_locks k
            LEFT JOIN \(unescaped: table("locks")) l ON l.project = \(project) AND l.environment = \(environment) AND l.session = k.pid
            WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1
              AND k.classid::bigint = \(high) AND k.objid::bigint = \(low)
              AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, on: connection).rows
        guard let row = rows.first else { return nil }
        do {
            let (session, id, operation, owner, host, pid, executable, started) =
                try row.decode((Int32, String?, String?, String?, String?, Int32?, String?, Date?).self)
            guard let id, let operation, let owner, let host, let pid, let started else {
                var unknown = unknownHolder()
                unknown.session = session
                return unknown
            }
            var info = LockInfo(operation: operation, owner: owner, host: host, pid: pid, started: started, executable: executable, id: id)
            info.session = session
            return info
        } catch {
            throw StateLockError.io("the lock of environment \(environment) in the postgres database \(location.display) is unreadable: \(error)")
        }
    }

    private func unknownHolder() -> LockInfo {
        LockInfo(operation: "unknown", owner: "unknown", host: "unknown", pid: 0, started: Date(), executable: nil, id: "unknown")
    }

    private func conflictDetail(_ connection: PostgresConnection, expected: State?) throws -> String {
        let rows = try run("read the state", """
            SELECT lineage, serial FROM \(unescaped: table("states")) WHERE project = \(project) AND environment = \(environment)
            """, on: connection).rows
        let now = try rows.first.map { try $0.decode((String, Int).self) }
        switch (expected, now) {
        case (nil, let now?): return "it was empty when this run started, and now holds serial \(now.1) (lineage \(now.0))"
        case (let expected?, let now?):
            return "this run read serial \(expected.serial) (lineage \(expected.lineage)); the database now holds serial \(now.1) (lineage \(now.0))"
        case (let expected?, nil): return "this run read serial \(expected.serial), and the state has since been removed"
        case (nil, nil): return "the write was not applied"
        }
    }

    // MARK: Queries

    @discardableResult
    private func run(_ what: String, _ query: PostgresQuery, on connection: PostgresConnection) throws -> PostgresQueryResult {
        do {
            return try bounded(connection.query(query, logger: logger), timeout: queryTimeout).wait()
        } catch {
            throw explain(error, doing: what)
        }
    }

    private func decode<T: PostgresDecodable>(_ row: PostgresRow?, as type: T.Type, doing what: String) throws -> T {
        guard let row else { throw StateLockError.io("the state database \(location.display) answered no row when asked to \(what)") }
        do { return try row.decode(T.self) } catch {
            throw StateLockError.io("the state database \(location.display) answered a value kryoform cannot read when asked to \(what): \(error)")
        }
    }

    /// `future`, failed after `timeout` (the connection is closed then: its lock goes, and
    /// nothing more is sent on it).
    private func bounded<T: Sendable>(_ future: EventLoopFuture<T>, timeout: TimeAmount) -> EventLoopFuture<T> {
        let promise = future.eventLoop.makePromise(of: T.self)
        let timer = future.eventLoop.scheduleTask(in: timeout) { [connection] in
            promise.fail(QueryTimeout())
            let closing: EventLoopFuture<Void>? = connection?.close()
            _ = closing
        }
        future.whenComplete { result in
            timer.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    private struct QueryTimeout: Error {}

    /// The error as one line that names the database and what was being done; never the URL.
    private func explain(_ error: Error, doing what: String) -> Error {
        if error is StateLockError { return error }
        let place = "the state database \(location.display)"
        if error is QueryTimeout {
            return StateLockError.io("\(place) did not answer within \(queryTimeout.nanoseconds / 1_000_000_000) s when asked to \(what); the connection was closed")
        }
        guard let psql = error as? PSQLError else { return StateLockError.io("cannot \(what) in \(place): \(error)") }
        if let message = psql.serverInfo?[.message] {
            let code = psql.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let hint = psql.serverInfo?[.hint].map { "; \($0)" } ?? ""
            return StateLockError.io("\(place) refused to \(what): \(message)\(code)\(hint)")
        }
        switch psql.code {
        case .connectionError:
            let text = psql.underlying.map { "\($0)" } ?? "no reason given"
            let cause = text.contains("Connection refused") ? "connection refused"
                : text.localizedCaseInsensitiveContains("timeout") || text.localizedCaseInsensitiveContains("timed out") ? "the connection timed out"
                : text
            return StateLockError.io("cannot reach \(place) to \(what): \(cause); check that the server runs and that state.url names it")
        case .sslUnsupported:
            return StateLockError.io("\(place) does not offer TLS, and state.url asks for it (sslmode=require); use sslmode=prefer or disable for a server without TLS")
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            return StateLockError.io("the connection to \(place) closed when asked to \(what)")
        default:
            return StateLockError.io("cannot \(what) in \(place): \(psql.code)\(psql.underlying.map { " (\($0))" } ?? "")")
        }
    }
}
