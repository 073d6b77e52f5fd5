import Foundation
import Synchronization

/// The kill point of a crash test, kept by a fake: the next request of one operation takes
/// effect, then its answer is held back (the client is inside that request) until the test has
/// killed the client, and is then lost (the connection is closed).
///
/// The test waits on the event itself (`waitUntilHeld`), never on a clock; the record of what
/// was held (`heldRequests`, `heldStatuses`) lets the test assert that the kill landed inside
/// the request. One per fake; its state is behind its own lock, so the fake's handlers and the
/// test's waits reach it from anywhere.
public final class AnswerHold: Sendable {
    private struct Holding {
        /// The operation whose next request is held, as the fake names operations (`POST /v2/vpcs`).
        var armed: String?
        /// Every request held so far, as `METHOD /path`, in order.
        var heldRequests: [String] = []
        /// The HTTP status each held answer would have had, in order (nil: the fake had only a
        /// dropped connection), so a test can tell a request that took effect from one refused.
        var heldStatuses: [Int?] = []
        var release: CheckedContinuation<Void, Never>?
        var waiters: [Int: CheckedContinuation<String?, Never>] = [:]
        var nextWaiter = 0
        /// The client exited: waits from now on end at once, until the next `arm`.
        var clientGone = false
    }

    private let state = Mutex(Holding())

    public init() {}

    /// Holds the answer to the next request of `operation` once it has taken effect.
    public func arm(_ operation: String) {
        state.withLock {
            $0.armed = operation
            $0.clientGone = false
        }
    }

    /// Every request held so far, as `METHOD /path`, in order.
    public var heldRequests: [String] { state.withLock { $0.heldRequests } }

    /// The HTTP status of the last held answer (nil when none was held, or it was a dropped connection).
    public var lastStatus: Int? { state.withLock { $0.heldStatuses.last ?? nil } }

    /// Whether a held answer is still waiting to be let go.
    public var isHolding: Bool { state.withLock { $0.release != nil } }

    /// Whether this request is the one to hold; disarms, so only one request is held.
    func takes(_ operation: String) -> Bool {
        state.withLock {
            guard $0.armed == operation else { return false }
            $0.armed = nil
            return true
        }
    }

    /// Records the held request, tells whoever waits for it, and keeps `release` to resume later.
    func hold(_ request: String, answer: FakeAnswer, release: CheckedContinuation<Void, Never>) {
        state.withLock {
            $0.heldRequests.append(request)
            $0.heldStatuses.append(answer.status)
            $0.release = release
            for waiter in $0.waiters.values { waiter.resume(returning: request) }
            $0.waiters = [:]
        }
    }

    /// Lets the held answer go (it is then lost: the fake drops the connection).
    public func letGo() {
        state.withLock {
            $0.release?.resume()
            $0.release = nil
        }
    }

    /// The held request (`POST /v2/vpcs`) once it is held; nil after `bound` seconds or `stopWaiting()`.
    public func waitUntilHeld(bound: Double) async -> String? {
        await withCheckedContinuation { continuation in
            guard let ticket = addWaiter(continuation) else { return }
            Task {
                try? await Task.sleep(nanoseconds: UInt64(bound * 1e9))
                self.giveUp(ticket)
            }
        }
    }

    /// Ends every wait with nil: the client exited.
    public func stopWaiting() { giveUp(nil) }

    /// A ticket for a waiter, so it can be given up on by number; nil when it was answered at once.
    private func addWaiter(_ continuation: CheckedContinuation<String?, Never>) -> Int? {
        state.withLock {
            if let held = $0.heldRequests.last, $0.release != nil {
                continuation.resume(returning: held)
                return nil
            }
            if $0.clientGone {
                continuation.resume(returning: nil)
                return nil
            }
            $0.nextWaiter += 1
            $0.waiters[$0.nextWaiter] = continuation
            return $0.nextWaiter
        }
    }

    /// Ends one wait (its bound passed) or every wait (the client exited) with no held request.
    private func giveUp(_ ticket: Int?) {
        state.withLock { holding in
            if ticket == nil { holding.clientGone = true }
            let ended = ticket.map { ticket in holding.waiters.filter { $0.key == ticket } } ?? holding.waiters
            for (ticket, waiter) in ended {
                waiter.resume(returning: nil)
                holding.waiters[ticket] = nil
            }
        }
    }
}

/// A fake that can hold one request's answer for a crash test: its `AnswerHold`, reached
/// through the same calls on every fake.
public protocol AnswerHoldingFake: Actor {
    nonisolated var answerHold: AnswerHold { get }
}

extension AnswerHoldingFake {
    /// Holds the answer to the next request of `operation` once it has taken effect.
    public func holdNextAnswer(_ operation: String) { answerHold.arm(operation) }
    /// The held request (`POST /v2/vpcs`) once it is held; nil after `bound` seconds or `stopWaiting()`.
    public func waitUntilHeld(bound: Double) async -> String? { await answerHold.waitUntilHeld(bound: bound) }
    /// Ends every wait with nil: the client exited.
    public func stopWaiting() { answerHold.stopWaiting() }
    /// Whether an answer is held right now.
    public var isHoldingAnswer: Bool { answerHold.isHolding }
    /// The HTTP status of the last held answer (nil when none was held, or it was a dropped connection).
    public var heldAnswerStatus: Int? { answerHold.lastStatus }
    /// Every request whose answer was held, as `METHOD /path`, in order.
    public var heldRequests: [String] { answerHold.heldRequests }
    /// Closes the held request's connection without an answer.
    public func loseHeldAnswer() { answerHold.letGo() }
}
