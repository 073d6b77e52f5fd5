import Foundation

/// Whether a lock's holder still runs, as far as this host can tell.
public enum LockHolderStatus: Hashable, Sendable {
    /// Taken on this host by a process that still runs.
    case running
    /// Taken on this host by a process that is gone; why, in words ("pid 4242 is not running").
    case gone(String)
    /// Taken on another host: whether it still runs cannot be seen from here.
    case elsewhere
}

/// Tells from `/proc` whether the process that took a lock on this host still runs: its pid must
/// exist, run the same program, and have started before the lock was taken (a pid reused by a
/// later process is not the holder). Anything it cannot read counts as running: a lock is only
/// ever broken on evidence.
public struct LockHolders: Sendable {
    public var hostName: String
    /// `/proc`; tests point it at a folder of their own.
    public var procRoot: URL

    public init(hostName: String = ProcessInfo.processInfo.hostName, procRoot: URL = URL(fileURLWithPath: "/proc")) {
        self.hostName = hostName
        self.procRoot = procRoot
    }

    /// This process's program, as `/proc/self/exe` names it.
    public static let currentExecutable: String? = {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        return programPath(path)
    }()

    public func status(of lock: LockInfo, now: Date = Date()) -> LockHolderStatus {
        if let expires = lock.expires, expires <= now {
            return .gone("its lock expired at \(ISO8601DateFormatter().string(from: expires)) without being renewed")
        }
        guard lock.host == hostName else { return .elsewhere }
        guard lock.pid > 0 else { return .gone("no process wrote it (the lock file was empty)") }
        // Without a mounted /proc nothing can be told: the holder counts as running.
        guard FileManager.default.fileExists(atPath: procRoot.appendingPathComponent("stat").path) else { return .running }
        let process = procRoot.appendingPathComponent("\(lock.pid)")
        guard FileManager.default.fileExists(atPath: process.path) else { return .gone("pid \(lock.pid) is not running") }
        let stat = self.stat(process)
        if stat?.state == "Z" || stat?.state == "X" { return .gone("pid \(lock.pid) has exited") }
        if let program = program(process), !Self.isHolder(program, lock) {
            return .gone("pid \(lock.pid) is now \(program.path), not kryoform")
        }
        if let ticks = stat?.startTicks, let started = startTime(ticks: ticks), started > lock.started.addingTimeInterval(2) {
            let formatter = ISO8601DateFormatter()
            return .gone("pid \(lock.pid) is another process, started \(formatter.string(from: started)), after the lock was taken")
        }
        return .running
    }

    /// The program a process runs: its `exe` link, or the first word of its command line when
    /// the link is not readable (another user's process).
    private func program(_ process: URL) -> (path: String, exact: Bool)? {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: process.appendingPathComponent("exe").path) {
            return (Self.programPath(path), true)
        }
        guard let data = FileManager.default.contents(atPath: process.appendingPathComponent("cmdline").path),
              let first = data.split(separator: 0).first, !first.isEmpty else { return nil }
        return (String(decoding: first, as: UTF8.self), false)
    }

    /// True when `program` may be the lock's holder: the very program the lock names (an `exe`
    /// link is exact), or, for a command line's first word or a lock that names no program,
    /// one called like it or like kryoform.
    static func isHolder(_ program: (path: String, exact: Bool), _ lock: LockInfo) -> Bool {
        if program.exact, let expected = lock.executable { return program.path == expected }
        let name = (program.path as NSString).lastPathComponent
        return name.contains("kryoform") || lock.executable.map { name == ($0 as NSString).lastPathComponent } == true
    }

    /// The process's state letter (field 3 of `/proc/<pid>/stat`) and its start in clock ticks
    /// after boot (field 22), counted after the parenthesised command name, which may hold spaces.
    private func stat(_ process: URL) -> (state: String, startTicks: Double?)? {
        guard let stat = try? String(contentsOf: process.appendingPathComponent("stat"), encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard let state = fields.first else { return nil }
        return (String(state), fields.count > 19 ? Double(fields[19]) : nil)
    }

    /// When a process started `ticks` clock ticks after boot (`/proc/stat` btime).
    private func startTime(ticks: Double) -> Date? {
        guard let system = try? String(contentsOf: procRoot.appendingPathComponent("stat"), encoding: .utf8),
              let line = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        let perSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return Date(timeIntervalSince1970: boot + ticks / (perSecond > 0 ? perSecond : 100))
    }

    /// A link target without the " (deleted)" the kernel adds once the file was replaced (a rebuild).
    static func programPath(_ path: String) -> String {
        path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
    }
}
