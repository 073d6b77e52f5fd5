import Foundation
import Providers
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built binary as from a terminal: stdin from /dev/null or from a pseudo-terminal on
/// which an answer has been typed, and stdout and stderr to files or to the pseudo-terminal.
enum TerminalRun {
    /// What kryoform's stdin is.
    enum Input {
        /// /dev/null: there is no terminal to ask on.
        case noTerminal
        /// A pseudo-terminal on which `typed` waits in the line buffer until kryoform reads it.
        case terminal(typed: String)
    }

    /// Runs `kryoform arguments --no-color -C root` (without `--no-color` when `outputOnTerminal`)
    /// and waits for it to exit: at most `limit` seconds, then it is killed and the test fails,
    /// so a run waiting for an answer never typed cannot hang the suite. With `outputOnTerminal`,
    /// stdout and stderr are the pseudo-terminal and both come back, as a user sees them, in `stdout`.
    static func run(_ arguments: [String], input: Input = .noTerminal, outputOnTerminal: Bool = false, in root: URL,
                    environment: [String: String] = [:], limit: Double = 300) throws -> CommandRun {
        let folder = root.appendingPathComponent("run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outPath = folder.appendingPathComponent("stdout").path, errPath = folder.appendingPathComponent("stderr").path

        let needsTerminal: Bool
        if case .terminal = input { needsTerminal = true } else { needsTerminal = outputOnTerminal }
        let terminal = needsTerminal ? try PseudoTerminal() : nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if case .terminal = input, let terminal {
            posix_spawn_file_actions_adddup2(&actions, terminal.device, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if outputOnTerminal, let terminal {
            posix_spawn_file_actions_adddup2(&actions, terminal.device, 1)
            posix_spawn_file_actions_adddup2(&actions, terminal.device, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        let variables = ProcessInfo.processInfo.environment.merging([SandboxFaults.variable: "provision=30ms"]) { $1 }.merging(environment) { $1 }
        let all = [CommandRun.binary.path] + arguments + (outputOnTerminal ? [] : ["--no-color"]) + ["-C", root.path]
        let argv: [UnsafeMutablePointer<CChar>?] = all.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, CommandRun.binary.path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw TerminalRunError(description: "posix_spawn \(CommandRun.binary.path): \(String(cString: strerror(spawned)))") }

        if case .terminal(let typed) = input { terminal?.type(typed) }
        let exited = Shared(false)
        let screen = outputOnTerminal ? terminal?.startReading(until: exited) : nil
        let status = waitForExit(pid, limit: limit, what: arguments.joined(separator: " "))
        exited.value = true
        let stdout = screen.map { $0.wait(limit: limit) } ?? ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "")
        return CommandRun(status: status, stdout: stdout, stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Waits for `pid` on a thread of its own; kills it after `limit` seconds. Returns the exit
    /// code, 128 + the signal when it was killed.
    private static func waitForExit(_ pid: pid_t, limit: Double, what: String) -> Int32 {
        let exited = DispatchSemaphore(value: 0)
        let status = Shared<Int32>(0)
        DispatchQueue.global().async {
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            status.value = raw
            exited.signal()
        }
        if exited.wait(timeout: .now() + limit) == .timedOut {
            kill(pid, SIGKILL)
            exited.wait()
            Issue.record("kryoform \(what) did not exit within \(Int(limit)) s; killed")
        }
        let raw = status.value
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }
}

struct TerminalRunError: Error, CustomStringConvertible {
    var description: String
}

/// A pseudo-terminal: `device` is the terminal a child gets as stdin (and stdout, stderr), the
/// controller is where the test types and reads. Both are closed on exec; the child gets
/// `device` through dup2.
final class PseudoTerminal: @unchecked Sendable {
    let controller: Int32
    let device: Int32

    init() throws {
        var controller: Int32 = -1, device: Int32 = -1
        guard openpty(&controller, &device, nil, nil, nil) == 0 else {
            throw TerminalRunError(description: "no pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(controller, F_SETFD, FD_CLOEXEC)
        _ = fcntl(device, F_SETFD, FD_CLOEXEC)
        self.controller = controller
        self.device = device
    }

    deinit {
        close(controller)
        close(device)
    }

    /// Types `text` on the terminal, as a user at its keyboard would.
    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(controller, $0.baseAddress, $0.count) }
    }

    /// Reads what the child writes to the terminal, on a thread of its own so the child never
    /// blocks on a full buffer, until `exited` is set and nothing more is waiting to be read.
    /// `device` stays open here, so what the child wrote is still there after it exits.
    func startReading(until exited: Shared<Bool>) -> Screen {
        let screen = Screen()
        DispatchQueue.global().async { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            var waiting = pollfd(fd: controller, events: Int16(POLLIN), revents: 0)
            while true {
                let done = exited.value
                // Wait for output (or, once the child has exited, only take what is already there).
                let ready = poll(&waiting, 1, done ? 0 : 100)
                if ready > 0 {
                    let count = read(controller, &buffer, buffer.count)
                    if count > 0 { screen.append(buffer[0..<count]); continue }
                }
                if ready < 0 && errno == EINTR { continue }
                if done { break }
            }
            screen.finished.signal()
        }
        return screen
    }

    /// What the child wrote to the terminal.
    final class Screen: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        let finished = DispatchSemaphore(value: 0)

        func append(_ more: ArraySlice<UInt8>) { lock.withLock { bytes += more } }

        /// Everything written, once the child has exited and all it wrote is read (at most `limit` seconds).
        func wait(limit: Double) -> String {
            if finished.wait(timeout: .now() + limit) == .timedOut { Issue.record("the terminal was not closed within \(Int(limit)) s") }
            return lock.withLock { String(decoding: bytes, as: UTF8.self) }
        }
    }
}

/// A value handed from one thread to another.
final class Shared<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
