import Foundation

/// Where an environment's state is kept and locked. The local store keeps a JSON file per
/// environment; a shared backend (S3, PostgreSQL) implements the same protocol. The store only
/// takes, reads and removes locks; whether a holder still runs is decided by `LockHolders`,
/// which a shared backend reuses as it is.
public protocol StateStore: Sendable {
    /// The state, or nil when nothing was ever recorded.
    func read() throws -> State?
    /// Replaces the state atomically: after a crash at any instant, either the old or the new one is there.
    func write(_ state: State) throws
    /// Takes the environment's exclusive lock, or throws `StateLockError.held`.
    func lock(_ info: LockInfo) throws
    /// Releases the lock `id` took. Releasing a lock another run holds is refused.
    func unlock(id: String) throws
    /// The lock as it is now, if any.
    func currentLock() throws -> LockInfo?
    /// Removes the lock `holder` took, and only that one: false when it is gone already or another
    /// run holds the lock now (compare-and-delete, so two runs breaking one stale lock cannot
    /// remove each other's fresh one).
    func breakLock(_ holder: LockInfo) throws -> Bool
    /// Adds one step of an apply to the state, durably, before the walk goes on: a backend with a
    /// journal appends `record` alone (so an apply costs in proportion to what it does, not to
    /// the size of the state); one without writes `state()`, the whole state after it.
    func append(_ record: StateJournalRecord, state: () -> State) throws
    /// Folds the journal into the state with one full write, and empties it; nothing when the
    /// journal is empty. `read()` already sees what the journal holds.
    func compact() throws
}

extension StateStore {
    public func append(_ record: StateJournalRecord, state: () -> State) throws { try write(state()) }
    public func compact() throws {}
}

/// A backend that keeps every serial it ever wrote (postgres).
public protocol StateHistory: StateStore {
    /// Every serial written, oldest first.
    func history() throws -> [StateHistoryEntry]
    /// The state as it was written at `serial`, nil when no such serial was written.
    func state(atSerial serial: Int) throws -> State?
}

/// A backend that can take in another backend's history as it was (`state migrate`).
public protocol StateHistoryImporting: StateStore {
    /// Into a backend with no state, or only the read-only copy a migration away left (which the
    /// store last read): `history` (each entry with the state it wrote, oldest first) as it was
    /// written, by whom and when, entries it holds already kept; then `current` as the state,
    /// with no history row of its own (its write is in `history`). The caller holds the lock.
    func adopt(current: State, history: [(entry: StateHistoryEntry, state: State)]) throws
}

extension StateHistory {
    /// Every history entry with the state it wrote, oldest first (entries whose state cannot be
    /// found under their lineage are left out).
    public func historyStates() throws -> [(entry: StateHistoryEntry, state: State)] {
        try history().compactMap { entry in
            guard let state = try state(atSerial: entry.serial), state.lineage == entry.lineage else { return nil }
            return (entry, state)
        }
    }
}

/// One write of an environment's state.
public struct StateHistoryEntry: Hashable, Sendable, Codable {
    public var lineage: String
    public var serial: Int
    public var written: Date
    /// Who wrote it: the lock holder's user and host.
    public var owner: String
    public var host: String
    /// The command that wrote it: apply, destroy, ...
    public var operation: String
    /// "2 added, 1 changed".
    public var summary: String

    public init(lineage: String, serial: Int, written: Date, owner: String, host: String, operation: String, summary: String) {
        self.lineage = lineage
        self.serial = serial
        self.written = written
        self.owner = owner
        self.host = host
        self.operation = operation
        self.summary = summary
    }
}

/// Who holds an environment's lock.
public struct LockInfo: Hashable, Sendable, Codable {
    public var id: String
    /// plan, apply, destroy, drift.
    public var operation: String
    public var owner: String
    public var host: String
    public var pid: Int32
    public var started: Date
    /// The holder's program (`/proc/self/exe`), so a pid reused by another program is told apart;
    /// nil in locks written before it was recorded.
    public var executable: String?
    /// A lock kept by a database session (the postgres backend): the server's process id of that
    /// session. Such a lock lasts exactly as long as the session: it cannot go stale, and it is
    /// released when its holder's connection closes, however the holder ended.
    public var session: Int32?
    /// A lock that lasts only while its holder renews it (the s3 backend): when it runs out, on
    /// this host's clock. Past it, the lock is stale, wherever its holder ran.
    public var expires: Date?

    public init(operation: String, owner: String = LockInfo.currentUser, host: String = ProcessInfo.processInfo.hostName,
                pid: Int32 = ProcessInfo.processInfo.processIdentifier, started: Date = Date(),
                executable: String? = LockHolders.currentExecutable, id: String = UUID().uuidString.lowercased()) {
        self.id = id
        self.operation = operation
        self.owner = owner
        self.host = host
        self.pid = pid
        self.started = started
        self.executable = executable
    }

    /// Who runs kryoform: `USER`, `LOGNAME`, or the account name of the process's uid (CI
    /// runners and containers often set neither variable).
    public static var currentUser: String {
        if let name = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"], !name.isEmpty { return name }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(getuid())"
    }

    /// "apply by alice on build-3 (pid 4242), started 2026-11-21T10:04:05Z, 3m 12s ago".
    public func describe(now: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        let age = Int(now.timeIntervalSince(started))
        let ageText = age >= 3600 ? "\(age / 3600)h \(age % 3600 / 60)m" : age >= 60 ? "\(age / 60)m \(age % 60)s" : "\(max(age, 0))s"
        return "\(operation) by \(owner) on \(host) (pid \(pid)), started \(formatter.string(from: started)), \(ageText) ago"
    }
}

/// Why the lock could not be taken, or the state not read.
public enum StateLockError: Error, Sendable {
    case held(environment: String, by: LockInfo)
    /// The state file exists but cannot be decoded: where, what, and the backup to restore from.
    case unreadableState(file: String, problem: String, backup: String?)
    /// The journal of an apply cannot be applied to the state file: where, and what is wrong.
    case unreadableJournal(file: String, problem: String)
    case io(String)
    /// A shared backend's state is not the one this run read: another writer got in between.
    case conflict(environment: String, detail: String)
    /// `state migrate` moved the state elsewhere; this backend keeps a read-only copy.
    case moved(environment: String, to: String)

    public var message: String {
        switch self {
        case let .held(environment, info):
            if let session = info.session {
                return "error: the state of environment \(environment) is locked by \(info.describe()), whose connection to the state database (session \(session)) is open\n"
                    + "  = fix: wait for it to finish: the lock is released when that run ends, however it ends, because it goes with its connection"
            }
            if let expires = info.expires, expires > Date() {
                return "error: the state of environment \(environment) is locked by \(info.describe()), which renews its lock while it runs\n"
                    + "  = fix: wait for it to finish; if that run is gone, its lock expires by itself at \(ISO8601DateFormatter().string(from: expires)) "
                    + "and the next run after that takes it (or, once you know it is gone: kryoform state unlock -e \(environment) --force)"
            }
            switch LockHolders().status(of: info) {
            case .running:
                return "error: the state of environment \(environment) is locked by \(info.describe()), which is still running\n"
                    + "  = fix: wait for it to finish, or stop it (kill \(info.pid)): its lock is released when it stops"
            case .elsewhere:
                return "error: the state of environment \(environment) is locked by \(info.describe()), on another host\n"
                    + "  = fix: wait for it to finish; if that run is gone (its machine or container stopped), run: kryoform state unlock -e \(environment) --force"
            case .gone(let why):
                return "error: the state of environment \(environment) is locked by \(info.describe()); \(why), so the lock is stale\n"
                    + "  = fix: run again, or run: kryoform state unlock -e \(environment)"
            }
        case let .unreadableState(file, problem, backup):
            let restore = backup.map { "restore the state before the last write with: cp \($0) \(file) (then kryoform plan shows what differs), or fix the file by hand" }
                ?? "fix the file by hand, or restore it from a copy of your own: there is no backup yet (kryoform writes \(file).backup before each state write)"
            return "error: the state file \(file) is unreadable: \(problem)\n  = fix: \(restore)"
        case let .unreadableJournal(file, problem):
            return "error: the state journal \(file) is unreadable: \(problem)\n"
                + "  = fix: fix the line by hand, or move the journal aside to go back to the state as it was before the apply that wrote it "
                + "(kryoform plan then finds what that apply made by its tags and adopts it)"
        case .io(let message): return "error: \(message)"
        case let .moved(environment, to):
            return "error: the state of environment \(environment) was moved to \(to) by kryoform state migrate; this backend keeps only a read-only copy\n"
                + "  = fix: point the state: block of kryoform.yaml at the new backend (state migrate printed it); nothing writes the old copy any more"
        case let .conflict(environment, detail):
            return "error: the state of environment \(environment) changed under this run: \(detail); nothing was overwritten\n"
                + "  = fix: run kryoform plan -e \(environment) again to plan against the state as it is now"
        }
    }
}
