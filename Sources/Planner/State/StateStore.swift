import Foundation

/// Where an environment's state is kept and locked. The local store keeps a JSON file per
/// environment; a shared backend (S3, PostgreSQL) implements the same protocol.
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
    /// Removes the lock whoever holds it (`kryoform state unlock`).
    func forceUnlock() throws -> LockInfo?
}

/// Who holds an environment's lock.
public struct LockInfo: Hashable, Sendable, Codable {
    public var id: String
    /// plan, apply, destroy.
    public var operation: String
    public var owner: String
    public var host: String
    public var pid: Int32
    public var started: Date

    public init(operation: String, owner: String = LockInfo.currentUser, host: String = ProcessInfo.processInfo.hostName,
                pid: Int32 = ProcessInfo.processInfo.processIdentifier, started: Date = Date()) {
        self.id = UUID().uuidString.lowercased()
        self.operation = operation
        self.owner = owner
        self.host = host
        self.pid = pid
        self.started = started
    }

    /// Who runs kryoform: `USER`, `LOGNAME`, or the account name of the process's uid (CI
    /// runners and containers often set neither variable).
    public static var currentUser: String {
        if let name = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"], !name.isEmpty { return name }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(getuid())"
    }

    /// True when the lock was taken on this host by a process that no longer runs.
    public var isStale: Bool {
        guard host == ProcessInfo.processInfo.hostName else { return false }
        guard pid > 0 else { return true }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// "apply by alice on build-3 (pid 4242), started 2026-11-21 10:04:05 UTC, 3m 12s ago".
    public func describe(now: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        let age = Int(now.timeIntervalSince(started))
        let ageText = age >= 3600 ? "\(age / 3600)h \(age % 3600 / 60)m" : age >= 60 ? "\(age / 60)m \(age % 60)s" : "\(max(age, 0))s"
        return "\(operation) by \(owner) on \(host) (pid \(pid)), started \(formatter.string(from: started)), \(ageText) ago"
    }
}

/// Why the lock could not be taken.
public enum StateLockError: Error, Sendable {
    case held(environment: String, by: LockInfo)
    case io(String)

    public var message: String {
        switch self {
        case let .held(environment, info):
            if info.isStale {
                return "error: the state of environment \(environment) is locked by \(info.describe()); that process is gone, so the lock is stale\n  = fix: make sure no kryoform runs for \(environment), then run: kryoform state unlock -e \(environment)"
            }
            return "error: the state of environment \(environment) is locked by \(info.describe())\n  = fix: wait for it to finish; if it was stopped on another machine, run: kryoform state unlock -e \(environment)"
        case .io(let message): return "error: \(message)"
        }
    }
}
