import Foundation
import Planner
@preconcurrency import Rainbow

/// SIGINT and SIGTERM while kryoform holds an environment's lock. Planning, asking and what
/// follows an apply have nothing in flight worth saving: the lock is released, what was done is
/// said, and kryoform exits 128 + the signal (130, 143). During an apply walk the first signal
/// stops new actions and lets those in flight finish and be saved; the second releases the lock
/// and exits at once. Without a lock held a signal does what it always does.
final class InterruptHandling: @unchecked Sendable {
    enum Mode {
        /// Nothing runs that a signal should wait for; `done` says what has been changed.
        case stop(done: String)
        /// An apply walk runs, stopped by `interruption`.
        case drain(Interruption, ApplyProgress)
    }

    /// The lock this process holds, and the store to release it in.
    private struct Held {
        var store: StateStore
        var info: LockInfo
        var environment: String
    }

    static let shared = InterruptHandling()

    /// Held while a lock is taken or released and by a signal's handler until it exits, so a
    /// signal never falls between taking the lock and knowing it.
    private let mutex = NSLock()
    private var sources: [DispatchSourceSignal] = []
    private var held: Held?
    private var mode: Mode = .stop(done: "nothing was changed")
    private var received: Int32?

    /// 128 + the first signal received, if one was.
    var exitCode: Int32? { mutex.withLock { received.map { 128 + $0 } } }

    func set(_ mode: Mode) { mutex.withLock { self.mode = mode } }

    /// Takes the lock with `take` and remembers it, the handlers installed first.
    func taking(_ info: LockInfo, environment: String, store: StateStore, _ take: () throws -> Void) throws {
        installOnce()
        try mutex.withLock {
            try take()
            held = Held(store: store, info: info, environment: environment)
            mode = .stop(done: "nothing was changed")
        }
    }

    /// Releases the lock `id` with `release`; after a signal, says so.
    func releasing(id: String, _ release: () throws -> Void) throws {
        let (environment, interrupted): (String?, Bool) = try mutex.withLock {
            defer { if held?.info.id == id { held = nil } }
            try release()
            return (held?.environment, received != nil)
        }
        if interrupted, let environment {
            FileHandle.standardError.write(Data("The lock of environment \(environment) was released.\n".utf8))
        }
    }

    private func installOnce() {
        mutex.withLock {
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [self] in handle(number) }
                source.resume()
                sources.append(source)
            }
        }
    }

    private func handle(_ number: Int32) {
        mutex.lock()
        if received == nil { received = number }
        guard let held else {
            mutex.unlock()
            signal(number, SIG_DFL)
            kill(getpid(), number)
            return
        }
        let name = number == SIGINT ? "SIGINT" : "SIGTERM"
        switch mode {
        case .drain(let interruption, let progress) where !interruption.isRequested:
            interruption.request()
            mutex.unlock()
            progress.emit(("Interrupt received (\(name)): no new actions will start; waiting for those in flight to finish and be saved "
                           + "(Ctrl-C again to exit at once).").yellow)
            return
        case .drain(_, let progress):
            progress.emit(("Interrupted again (\(name)): exiting now. Actions in flight may be unrecorded; the next plan adopts them by their tags; "
                           + release(held) + ".").red)
        case .stop(let done):
            FileHandle.standardError.write(Data("Interrupted (\(name)) during \(held.info.operation): \(done); \(release(held)).\n".utf8))
        }
        // _exit, not exit: atexit handlers (OpenSSL's clean-up among them) would race SSH sessions
        // still working on other threads. State files are already written whole (temporary
        // file, then rename). The mutex stays held: no lock is taken or released after this.
        fflush(nil)
        _exit(128 + number)
    }

    /// Releases `held`'s lock from the handler; says how that went.
    private func release(_ held: Held) -> String {
        do {
            try held.store.unlock(id: held.info.id)
            return "the lock of environment \(held.environment) was released"
        } catch {
            return "the lock of environment \(held.environment) could not be released; run: kryoform state unlock -e \(held.environment)"
        }
    }
}

/// The session's state store: the lock it takes and releases is known to `InterruptHandling`,
/// so a signal releases it.
struct SignalSafeStateStore: StateStore {
    var base: StateStore
    var environment: String

    func read() throws -> State? { try base.read() }
    func write(_ state: State) throws { try base.write(state) }
    func append(_ record: StateJournalRecord, state: () -> State) throws { try base.append(record, state: state) }
    func compact() throws { try base.compact() }
    func currentLock() throws -> LockInfo? { try base.currentLock() }
    func breakLock(_ holder: LockInfo) throws -> Bool { try base.breakLock(holder) }

    func lock(_ info: LockInfo) throws {
        try InterruptHandling.shared.taking(info, environment: environment, store: base) { try base.lock(info) }
    }

    func unlock(id: String) throws {
        try InterruptHandling.shared.releasing(id: id) { try base.unlock(id: id) }
    }
}
