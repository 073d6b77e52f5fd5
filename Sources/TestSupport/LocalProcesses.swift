import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure of the test fixture itself (a tool that did not run, a server that did not start).
public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The result of running a local tool.
public struct ToolResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// A child process started with `posix_spawn`.
///
/// Foundation's `Process` is not used: on Linux it decides that a child has exited when a
/// socket the child inherited is closed, then blocks in `waitpid` on it. sshd closes every
/// inherited descriptor at start-up, so `Process` would block on the running sshd, and every
/// other `Process` (ssh-keygen, ...) would then never be seen to finish.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private var exitStatus: Int32?

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `executable` with stdin from /dev/null and stdout/stderr appended to the given
    /// files (or /dev/null).
    public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                      stdoutPath: String? = nil, stderrPath: String? = nil) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let variables = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { _, new in new }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw FixtureError("could not start \(executable): \(String(cString: strerror(result)))") }
        return ChildProcess(pid: pid)
    }

    /// Whether the process still runs (reaping it if it has exited).
    public var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { exitStatus = status; return false }
        return result == 0
    }

    /// Waits for the process to exit and returns its exit code (128 + signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        if exitStatus == nil {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus = status
        }
        let status = exitStatus ?? 0
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Waits at most `seconds` for the process to exit, polling every 10 ms; true when it did.
    public func exits(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// Sends SIGTERM and waits for the process to exit: at most 10 s, then SIGKILL.
    public func terminate() {
        if isRunning { kill(pid, SIGTERM) }
        if !exits(within: 10) { kill(pid, SIGKILL) }
        wait()
    }
}

/// Runs local programs (ssh-keygen, sha256sum, ...) for the tests.
public enum LocalTool {
    /// Runs `executable` with `arguments` and waits for it; throws if it cannot start or, when
    /// `check` is set, exits non-zero.
    @discardableResult
    /// A tool still running after `timeout` seconds is killed and reported as a fixture error.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    check: Bool = true, timeout: Double = 600) throws -> ToolResult {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-tool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outPath = folder.appendingPathComponent("stdout").path
        let errPath = folder.appendingPathComponent("stderr").path
        let child = try ChildProcess.spawn(executable, arguments, environment: environment, stdoutPath: outPath, stderrPath: errPath)
        guard child.exits(within: timeout) else {
            kill(child.pid, SIGKILL)
            child.wait()
            throw FixtureError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s and was killed")
        }
        let status = child.wait()
        let result = ToolResult(status: status,
                                stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                                stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
        if check && result.status != 0 {
            throw FixtureError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result
    }
}

/// Loopback networking helpers for the tests.
public enum LoopbackNetwork {
    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw FixtureError("socket() failed") }
        defer { close(descriptor) }
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw FixtureError("bind() failed: \(errno)") }
        return try boundPort(of: descriptor)
    }

    /// A socket listening on 127.0.0.1 that never accepts or sends anything: the kernel
    /// completes TCP connections to it, but no SSH banner ever comes. Returns the descriptor
    /// (close it when done) and the port.
    public static func silentListener() throws -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw FixtureError("socket() failed") }
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw FixtureError("bind/listen failed: \(errno)")
        }
        return (descriptor, try boundPort(of: descriptor))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = loopbackAddress(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    private static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    private static func boundPort(of descriptor: Int32) throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { throw FixtureError("getsockname() failed: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}


/// Runs `body` on a thread of its own and waits for it without holding a thread of the
/// cooperative pool. For a blocking call (a synchronous state store, a kryoform run) made by a
/// test while a fake in this process must go on answering: the pool has one thread per core,
/// and a test that blocks them all stops every fake in the process.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "kryoform-test-blocking"
        thread.start()
    }
}
