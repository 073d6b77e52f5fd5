import Foundation
import Planner

/// The s3 state backend (`state: {backend: s3, bucket, prefix, region, endpoint, access_key_id,
/// secret_access_key}`), on any server that honours S3's conditional requests. Under
/// `<prefix>/<project>/<environment>/`:
///
/// - `state.json`: the current state, replaced only with `If-Match` on the ETag this store read
///   (the first with `If-None-Match: *`), so a writer that lost its lock never overwrites another's;
/// - `lock.json`: who holds the lock, taken with `If-None-Match: *`. It expires `lockTTL` after
///   it was last written (by the server's clock) and is renewed while the command runs; it is
///   released, and a stale one broken, with `DELETE` + `If-Match` on its ETag, so a lock taken
///   over after it expired is never removed by its old owner;
/// - `history/<serial>-<lineage>.json`: every state written whole, never replaced;
/// - `journal/<serial>.json`: the steps of the apply under way (or of one that was killed),
///   each PUT with `If-None-Match: *`, folded into `state.json` when the apply ends.
///
/// Before the first lock, the store checks that the server honours the conditions (a probe
/// object written twice: the second write must be refused), and refuses to run on one that
/// ignores them: with such a server two applies could run at once.
public final class S3StateStore: StateHistory, StateHistoryImporting, @unchecked Sendable {
    public let location: S3Location
    public let project: String
    public let environment: String
    /// How long a lock lasts without being renewed.
    public var lockTTL: TimeInterval = 120
    /// How often the holder renews it.
    public var renewEvery: TimeInterval = 30
    /// JSON, or sealed with `state.encryption`'s key.
    public var codec: StateCodec = .plain

    let objects: S3Objects
    /// Guards everything below.
    private let mutex = NSLock()
    /// The ETag of `state.json` as this store last read or wrote it; nil when there was none.
    private var stateETag: String?
    private var seen: State?
    private var probed = false
    private var renewal: Renewal?
    /// The journal records this store wrote, by key: folding them in reads only the others.
    private var appended: [String: StateJournalRecord] = [:]

    public init(location: S3Location, accessKeyID: String, secretAccessKey: String, project: String, environment: String) {
        self.location = location
        self.project = project
        self.environment = environment
        self.objects = S3Objects(location: location, accessKeyID: accessKeyID, secretAccessKey: secretAccessKey)
    }

    deinit { renewal?.stop() }

    private var stateKey: String { objects.key("state.json") }
    private var lockKey: String { objects.key("lock.json") }
    private var journalFolder: String { objects.key("journal/") }
    private var historyFolder: String { objects.key("history/") }

    static func padded(_ serial: Int) -> String {
        let digits = String(serial)
        return String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    // MARK: State

    public func read() throws -> State? {
        try mutex.withLock { () throws -> State? in
            try guarded {
                guard let base = try readBase() else { return nil }
                return try replay(onto: base, try journal())
            }
        }
    }

    /// `state.json` as it is now, remembered as what the next write compares against.
    private func readBase() throws -> State? {
        guard let found = try objects.get(stateKey, doing: "read the state") else {
            stateETag = nil
            seen = nil
            return nil
        }
        let state = try decodeState(found.body, what: "the state \(stateKey)")
        stateETag = found.etag
        seen = state
        return state
    }

    private func decodeState(_ body: Data, what: String) throws -> State {
        do { return try codec.decodeState(body) } catch {
            throw StateLockError.io("\(what) in \(location.display) is unreadable: \(JSONProblem.describe(error, in: body)); every earlier serial is kept under \(historyFolder)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: Data, what: String) throws -> T {
        do { return try LocalStateStore.decoder.decode(T.self, from: body) } catch {
            throw StateLockError.io("\(what) in \(location.display) is unreadable: \(JSONProblem.describe(error, in: body)); every earlier serial is kept under \(historyFolder)")
        }
    }

    private func encode<T: Encodable>(_ value: T) throws -> Data {
        do { return try LocalStateStore.encoder.encode(value) } catch { throw StateLockError.io("cannot encode the state: \(error)") }
    }

    private func journal() throws -> [(key: String, record: StateJournalRecord)] {
        let keys = try objects.list(journalFolder, doing: "list the state's journal")
        return try keys.map { key in
            if let mine = appended[key] { return (key, mine) }
            guard let found = try objects.get(key, doing: "read the state's journal") else {
                throw StateLockError.unreadableJournal(file: "\(key) in \(location.display)", problem: "it was listed, and is gone")
            }
            do { return (key, try codec.decodeRecord(found.body)) } catch {
                throw StateLockError.unreadableJournal(file: "\(key) in \(location.display)", problem: JSONProblem.describe(error, in: found.body))
            }
        }
    }

    private func replay(onto base: State?, _ records: [(key: String, record: StateJournalRecord)]) throws -> State? {
        guard !records.isEmpty else { return base }
        do { return try StateJournalRecord.replay(records.map(\.record), onto: base, stateName: stateKey) } catch let mismatch as StateJournalRecord.Mismatch {
            throw StateLockError.unreadableJournal(file: "\(journalFolder) in \(location.display)", problem: mismatch.problem)
        }
    }

    public func write(_ state: State) throws {
        try mutex.withLock {
            try guarded {
                try checkLock()
                try writeLocked(state, journal: (try? objects.list(journalFolder, doing: "list the state's journal")) ?? [])
            }
        }
    }

    /// The compare-and-set PUT of `state.json`, then its history object, then the journal's
    /// records removed (`state` holds them). A crash between these steps leaves records the
    /// state already has, which the next read passes over.
    private func writeLocked(_ state: State, journal keys: [String]) throws {
        let body = try sealed(state)
        let condition: S3Objects.Condition = stateETag.map { .matching($0) } ?? .absent
        switch try objects.put(stateKey, body, condition, doing: "write the state") {
        case .written(let etag):
            let summary = state.changeSummary(since: seen)
            stateETag = etag
            seen = state
            let who = renewal?.info
            let entry = StateHistoryEntry(lineage: state.lineage, serial: state.serial, written: Date(), owner: who?.owner ?? LockInfo.currentUser,
                                          host: who?.host ?? ProcessInfo.processInfo.hostName, operation: who?.operation ?? "write", summary: summary)
            let historyBody = try encode(HistoryObject(entry: entry, body: String(decoding: body, as: UTF8.self)))
            _ = try objects.put(historyFolder + "\(Self.padded(state.serial))-\(state.lineage).json", historyBody, .absent, doing: "record the state's history")
            if !keys.isEmpty {
                try objects.delete(keys: keys, doing: "empty the state's journal")
                for key in keys { appended[key] = nil }
            }
        case .preconditionFailed:
            throw StateLockError.conflict(environment: environment, detail: try conflictDetail())
        }
    }

    private func conflictDetail() throws -> String {
        let found = try? objects.get(stateKey, doing: "read the state")
        let now: State? = found.flatMap { $0 }.flatMap { try? codec.decodeState($0.body) }
        switch (seen, now) {
        case (nil, let now?): return "it was empty when this run started, and now holds serial \(now.serial) (lineage \(now.lineage))"
        case (let seen?, let now?):
            return "this run read serial \(seen.serial) (lineage \(seen.lineage)); \(stateKey) now holds serial \(now.serial) (lineage \(now.lineage))"
        case (let seen?, _): return "this run read serial \(seen.serial), and \(stateKey) has since been removed or cannot be read"
        case (nil, _): return "the write was refused"
        }
    }

    /// One object per step, PUT only if no object has its key: two records of one serial
    /// cannot both be kept.
    public func append(_ record: StateJournalRecord, state: () -> State) throws {
        try mutex.withLock {
            try guarded {
                try checkLock()
                let body: Data
                do { body = try codec.encode(record) } catch { throw StateLockError.io("cannot encode a journal record: \(error)") }
                let key = journalFolder + Self.padded(record.serial) + ".json"
                if case .preconditionFailed = try objects.put(key, body, .absent, doing: "record a step in the state's journal") {
                    throw StateLockError.conflict(environment: environment, detail: "the journal already holds a record of serial \(record.serial), written by another run")
                }
                appended[key] = record
            }
        }
    }

    public func compact() throws {
        try mutex.withLock {
            try guarded {
                let records = try journal()
                guard !records.isEmpty else { return }
                guard let base = try readBase() else {
                    throw StateLockError.unreadableJournal(file: "\(journalFolder) in \(location.display)",
                                                           problem: "it holds records of an apply, and the state they follow (\(stateKey)) is missing")
                }
                try checkLock()
                guard let folded = try replay(onto: base, records) else { return }
                try writeLocked(folded, journal: records.map(\.key))
            }
        }
    }

    // MARK: History

    /// What a history object holds: who wrote the serial, and the state as `codec` wrote it
    /// (JSON, or a sealed line).
    struct HistoryObject: Codable {
        var entry: StateHistoryEntry
        var body: String
    }

    private func sealed(_ state: State) throws -> Data {
        do { return try codec.encode(state) } catch { throw StateLockError.io("cannot encode the state: \(error)") }
    }

    public func history() throws -> [StateHistoryEntry] {
        try mutex.withLock {
            try guarded {
                try objects.list(historyFolder, doing: "list the state's history").compactMap { key in
                    try objects.get(key, doing: "read the state's history").map { try decode(HistoryObject.self, $0.body, what: key).entry }
                }.sorted { ($0.written, $0.serial) < ($1.written, $1.serial) }
            }
        }
    }

    public func state(atSerial serial: Int) throws -> State? {
        try mutex.withLock { () throws -> State? in
            try guarded {
                let objectsOfSerial = try objects.list(historyFolder + Self.padded(serial) + "-", doing: "read the state's history")
                let found = try objectsOfSerial.compactMap { key in
                    try objects.get(key, doing: "read the state's history").map { (key, try decode(HistoryObject.self, $0.body, what: key)) }
                }
                // A lineage started over reuses serials: the newest write of the serial.
                guard let newest = found.max(by: { $0.1.entry.written < $1.1.entry.written }) else { return nil }
                return try decodeState(Data(newest.1.body.utf8), what: newest.0)
            }
        }
    }

    /// The history objects as they were, then `state.json`, written only if there is none.
    public func adopt(current: State, history: [(entry: StateHistoryEntry, state: State)]) throws {
        try mutex.withLock {
            try guarded {
                try checkLock()
                let replacing = seen?.movedTo != nil ? stateETag : nil
                if replacing == nil, try objects.get(stateKey, doing: "read the state") != nil {
                    throw StateLockError.conflict(environment: environment, detail: "\(location.display) holds a state of this environment already; "
                                                  + "state migrate moves state only into a backend that has none")
                }
                for (entry, state) in history {
                    let body = String(decoding: try sealed(state), as: UTF8.self)
                    _ = try objects.put(historyFolder + "\(Self.padded(entry.serial))-\(entry.lineage).json", try encode(HistoryObject(entry: entry, body: body)),
                                        .absent, doing: "copy the state's history")
                }
                switch try objects.put(stateKey, try sealed(current), replacing.map { .matching($0) } ?? .absent, doing: "write the state") {
                case .written(let etag):
                    stateETag = etag
                    seen = current
                case .preconditionFailed:
                    throw StateLockError.conflict(environment: environment, detail: "another run wrote \(stateKey) during the migration")
                }
            }
        }
    }

    // MARK: Lock

    /// What `lock.json` holds.
    struct LockObject: Codable {
        var lock: LockInfo
        /// Seconds after the object was last written (its `Last-Modified`) that the lock lasts.
        var ttl: Double
    }

    public func lock(_ info: LockInfo) throws {
        try mutex.withLock {
            try guarded {
                try probeConditionalWrites()
                let body = try encode(LockObject(lock: info, ttl: lockTTL))
                for _ in 0..<3 {
                    switch try objects.put(lockKey, body, .absent, doing: "take the lock") {
                    case .written(let etag):
                        renewal?.stop()
                        let renewal = Renewal(store: self, info: info, body: body, etag: etag, every: renewEvery, ttl: lockTTL)
                        self.renewal = renewal
                        renewal.start()
                        return
                    case .preconditionFailed:
                        // Held: named, unless it went between the PUT and this read (then try again).
                        if let holder = try readLock() { throw StateLockError.held(environment: environment, by: holder.info) }
                    }
                }
                throw StateLockError.io("the lock of environment \(environment) in \(location.display) kept changing while it was being taken; run again")
            }
        }
    }

    /// The lock object, its ETag, and its holder with `expires` on this host's clock (the
    /// server's `Last-Modified` and `Date` say how long it has left, whatever the clocks of the
    /// holder and this host say).
    private func readLock() throws -> (info: LockInfo, etag: String)? {
        guard let found = try objects.get(lockKey, doing: "read the lock") else { return nil }
        var object: LockObject
        do { object = try LocalStateStore.decoder.decode(LockObject.self, from: found.body) } catch {
            throw StateLockError.io("the lock \(lockKey) in \(location.display) is unreadable: \(JSONProblem.describe(error, in: found.body)); "
                                    + "if no run holds it, remove that object")
        }
        let serverNow = found.answer.headers.first(name: "Date").flatMap(Self.httpDate) ?? Date()
        let written = found.answer.headers.first(name: "Last-Modified").flatMap(Self.httpDate) ?? serverNow
        let left = written.addingTimeInterval(object.ttl).timeIntervalSince(serverNow)
        object.lock.expires = Date().addingTimeInterval(left)
        return (object.lock, found.etag)
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    public func unlock(id: String) throws {
        let renewal: Renewal? = mutex.withLock {
            guard let renewal = self.renewal, renewal.info.id == id else { return nil }
            self.renewal = nil
            return renewal
        }
        guard let renewal else {
            if let live = try? mutex.withLock({ try readLock() }), live.info.id != id { throw StateLockError.held(environment: environment, by: live.info) }
            return
        }
        renewal.stop()
        // Only while the lock is still the one this run wrote: one taken over after it
        // expired is the new holder's.
        if let etag = renewal.currentETag { _ = try? objects.delete(lockKey, ifMatching: etag, doing: "release the lock") }
    }

    public func currentLock() throws -> LockInfo? {
        try mutex.withLock { () throws -> LockInfo? in
            if let renewal { return renewal.info }
            return try guarded { try readLock()?.info }
        }
    }

    /// Deletes the lock only while it is the one `holder` took (`If-Match` on the ETag read).
    public func breakLock(_ holder: LockInfo) throws -> Bool {
        try mutex.withLock {
            try guarded {
                guard let live = try readLock(), live.info.id == holder.id else { return false }
                return try objects.delete(lockKey, ifMatching: live.etag, doing: "remove a gone holder's lock")
            }
        }
    }

    /// Refuses to write once the lock is lost (not renewed in time, or taken over).
    private func checkLock() throws {
        guard let renewal, let lost = renewal.lost else { return }
        throw StateLockError.io("the lock of environment \(environment) in \(location.display) was lost during the run: \(lost); "
                                + "no more state is written by this run (run again: the next apply adopts what was made)")
    }

    // MARK: Probe

    /// Writes a probe object twice with `If-None-Match: *`, then deletes it with a wrong
    /// `If-Match`: a server that honours conditions refuses both. Once per store.
    private func probeConditionalWrites() throws {
        guard !probed else { return }
        let key = objects.key("probe-\(UUID().uuidString.lowercased()).json")
        let body = Data("{\"probe\":\"kryoform checks that this server honours conditional writes\"}".utf8)
        defer { _ = try? objects.delete(key, ifMatching: nil, doing: "remove the probe object") }
        guard case .written = try objects.put(key, body, .absent, doing: "write a probe object") else {
            throw StateLockError.io("\(location.display) refused a new probe object with If-None-Match: *; kryoform needs a server that honours conditional writes")
        }
        let server = location.pathStyle ? AsyncHTTPTransport.origin(of: location.endpoint) : "AWS S3 (\(location.region))"
        let refuse = "so two runs could both take the lock or both write the state; kryoform does not use such a server for state. "
            + "Use one that supports conditional writes (AWS S3, MinIO since 2024, Ceph RGW), or backend: postgres"
        if case .written = try objects.put(key, body, .absent, doing: "write a probe object again") {
            throw StateLockError.io("the state server \(server) ignores If-None-Match: it wrote the probe \(key) a second time where it must answer 412, \(refuse)")
        }
        if try objects.delete(key, ifMatching: "\"kryoform-probe-no-such-etag\"", doing: "delete the probe object with a wrong If-Match") {
            throw StateLockError.io("the state server \(server) ignores If-Match on DELETE: it deleted the probe \(key) whose ETag did not match, \(refuse)")
        }
        probed = true
    }

    /// Runs `body`, turning the S3 client's failures into the state errors every command prints.
    private func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let failure as S3Failure { throw StateLockError.io(failure.message) }
    }

    // MARK: Renewal

    /// Keeps `lock.json` alive while the command runs: a PUT with `If-Match` on the last ETag
    /// every `renewEvery`. A renewal refused (the lock was taken over) or not made before the
    /// lock expires marks it lost, and the store writes nothing more.
    final class Renewal: @unchecked Sendable {
        let info: LockInfo
        private let body: Data
        private weak var store: S3StateStore?
        private let condition = NSCondition()
        private var etag: String?
        private let every: TimeInterval
        private let ttl: TimeInterval
        private var stopped = false
        private var finished = false
        private var lostReason: String?

        init(store: S3StateStore, info: LockInfo, body: Data, etag: String, every: TimeInterval, ttl: TimeInterval) {
            self.store = store
            self.info = info
            self.body = body
            self.etag = etag
            self.every = every
            self.ttl = ttl
        }

        var currentETag: String? { condition.withLock { etag } }
        var lost: String? { condition.withLock { lostReason } }

        func start() {
            let thread = Thread { [self] in
                run()
                condition.withLock {
                    finished = true
                    condition.broadcast()
                }
            }
            thread.name = "kryoform-s3-lock-renewal"
            thread.start()
        }

        /// Stops renewing, and waits (at most `wait`) for a renewal in flight to end, so the
        /// ETag read after it is the lock's last one.
        func stop(wait: TimeInterval = 10) {
            condition.withLock {
                stopped = true
                condition.broadcast()
                let until = Date().addingTimeInterval(wait)
                while !finished, Date() < until { _ = condition.wait(until: until) }
            }
        }

        private func run() {
            var renewed = Date()
            while true {
                let carryOn = condition.withLock { () -> Bool in
                    let until = Date().addingTimeInterval(every)
                    while !stopped, Date() < until { _ = condition.wait(until: until) }
                    return !stopped && lostReason == nil
                }
                guard carryOn, let store, let etag = currentETag else { return }
                do {
                    switch try store.objects.put(store.lockKey, body, .matching(etag), doing: "renew the lock") {
                    case .written(let next):
                        renewed = Date()
                        condition.withLock { self.etag = next }
                    case .preconditionFailed:
                        condition.withLock { lostReason = "another run took it over after it expired (it was last renewed at \(ISO8601DateFormatter().string(from: renewed)))" }
                        return
                    }
                } catch {
                    if Date().timeIntervalSince(renewed) >= ttl {
                        condition.withLock { lostReason = "it could not be renewed before it expired (\(error))" }
                        return
                    }
                }
            }
        }
    }
}
