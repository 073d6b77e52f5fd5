import Foundation

/// The kill point of a crash test, kept by a fake: the next request of one operation takes
/// effect, then its answer is held back (the client is inside that request) until the test has
/// killed the client, and is then lost (the connection is closed).
///
/// The test waits on the event itself (`waitUntilHeld`), never on a clock; the fake's record of
/// what it held (`heldRequests`) lets the test assert that the kill landed inside the request.
/// Owned by one fake actor, so its state needs no lock of its own.
struct AnswerHold {
    /// The operation whose next request is held, as the fake names operations (`POST /v2/vpcs`).
    private var armed: String?
    /// Every request held so far, as `METHOD /path`, in order.
    private(set) var heldRequests: [String] = []
    /// The HTTP status each held answer would have had, in order (nil: the fake had only a dropped
    /// connection), so a test can tell a request that took effect from one refused with a 4xx.
    private(set) var heldStatuses: [Int?] = []
    /// Whether a held answer is still waiting to be let go.
    var isHolding: Bool { release != nil }
    private var release: CheckedContinuation<Void, Never>?
    private var waiters: [Int: CheckedContinuation<String?, Never>] = [:]
    private var nextWaiter = 0
    /// The client exited: waits from now on end at once, until the next `arm`.
    private var clientGone = false

    mutating func arm(_ operation: String) {
        armed = operation
        clientGone = false
    }

    /// Whether this request is the one to hold; disarms, so only one request is held.
    mutating func takes(_ operation: String) -> Bool {
        guard armed == operation else { return false }
        armed = nil
        return true
    }

    /// Records the held request, tells whoever waits for it, and keeps `release` to resume later.
    mutating func hold(_ request: String, answer: FakeAnswer, release: CheckedContinuation<Void, Never>) {
        heldRequests.append(request)
        heldStatuses.append(answer.status)
        self.release = release
        for waiter in waiters.values { waiter.resume(returning: request) }
        waiters = [:]
    }

    /// Lets the held answer go (it is then lost: the fake drops the connection).
    mutating func letGo() {
        release?.resume()
        release = nil
    }

    /// A ticket for a waiter, so it can be given up on by number.
    mutating func addWaiter(_ continuation: CheckedContinuation<String?, Never>) -> Int? {
        if let held = heldRequests.last, isHolding {
            continuation.resume(returning: held)
            return nil
        }
        if clientGone {
            continuation.resume(returning: nil)
            return nil
        }
        nextWaiter += 1
        waiters[nextWaiter] = continuation
        return nextWaiter
    }

    /// Ends one wait (its bound passed) or every wait (the client exited) with no held request.
    mutating func giveUp(_ ticket: Int? = nil) {
        if ticket == nil { clientGone = true }
        let ended = ticket.map { ticket in waiters.filter { $0.key == ticket } } ?? waiters
        for (ticket, waiter) in ended {
            waiter.resume(returning: nil)
            waiters[ticket] = nil
        }
    }
}

/// A fake that can hold one request's answer for a crash test (see `AnswerHold`).
public protocol AnswerHoldingFake: Actor {
    /// Holds the answer to the next request of `operation` once it has taken effect.
    func holdNextAnswer(_ operation: String)
    /// The held request (`POST /v2/vpcs`) once it is held; nil after `bound` seconds or `stopWaiting()`.
    func waitUntilHeld(bound: Double) async -> String?
    /// Ends every wait with nil: the client exited.
    func stopWaiting()
    /// Whether an answer is held right now.
    var isHoldingAnswer: Bool { get }
    /// The HTTP status of the last held answer (nil when none was held, or it was a dropped connection).
    var heldAnswerStatus: Int? { get }
    /// Closes the held request's connection without an answer.
    func loseHeldAnswer()
}
