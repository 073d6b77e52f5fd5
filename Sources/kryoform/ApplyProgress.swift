import Foundation
import Planner
@preconcurrency import Rainbow

/// Prints an apply as it goes: each action's start and finish with elapsed time, and on a
/// terminal a live line with the counts.
final class ApplyProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private let live: Bool
    private var done = 0
    private var failed = 0
    private var running = 0
    private let started = Date()

    init(total: Int) {
        self.total = total
        self.live = isatty(STDERR_FILENO) == 1 && Rainbow.enabled
    }

    func handle(_ event: ApplyEvent) {
        lock.withLock {
            switch event {
            case let .started(address, verb):
                running += 1
                emit("\(address): \(verb)…")
            case let .waiting(address, what):
                emit("\(address): waiting until \(what)…".dim)
            case let .retrying(address, after, reason):
                emit("\(address): \(reason); retrying in \(Self.seconds(after))".yellow)
            case let .finished(address, verb, seconds):
                running -= 1
                done += 1
                emit("\(address): ".green + "\(Self.pastTense(verb)) in \(Self.seconds(seconds))")
            case let .failed(address, verb, message, seconds):
                running -= 1
                failed += 1
                emit("\(address): ".red + "\(verb) failed after \(Self.seconds(seconds)): \(message)")
            case let .skipped(address, cause):
                emit("\(address): ".yellow + "skipped (\(cause))")
            }
        }
    }

    /// Prints `line`, keeping the live line under it on a terminal.
    func emit(_ line: String) {
        if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(line)
        fflush(nil)
        if live {
            let status = "[\(done + failed)/\(total) done, \(running) running, \(failed) failed, \(Self.seconds(Date().timeIntervalSince(started)))]"
            FileHandle.standardError.write(Data(status.dim.utf8))
        }
    }

    func finish() {
        lock.withLock { if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
    }

    static func seconds(_ value: Double) -> String {
        value < 60 ? String(format: "%.1fs", value) : "\(Int(value) / 60)m \(Int(value) % 60)s"
    }

    static func pastTense(_ verb: String) -> String {
        switch verb {
        case "creating": return "created"
        case "updating": return "updated"
        case "deleting": return "deleted"
        case "recording": return "recorded"
        default: return verb
        }
    }
}
