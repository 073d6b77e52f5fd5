import Providers

/// A fault a fake injects into one request.
public enum InjectedFault: Sendable, Hashable {
    /// Refused for throttling, before anything is done.
    case throttle
    /// Answer 500, or drop the connection, before or after the request takes effect.
    case serverError(afterEffect: Bool)
    case drop(afterEffect: Bool)

    /// What the fake answers: `now` instead of carrying the request out, or `after` once it has.
    func outcome(throttled: () -> FakeAnswer, serverError: () -> FakeAnswer) -> (now: FakeAnswer?, after: FakeAnswer?) {
        switch self {
        case .throttle: return (throttled(), nil)
        case .serverError(let afterEffect): return afterEffect ? (nil, serverError()) : (serverError(), nil)
        case .drop(let afterEffect): return afterEffect ? (nil, .drop) : (.drop, nil)
        }
    }
}

/// Decides each request's fault for the fakes: the next fault scripted for its operation, else a
/// roll of seeded dice against the shares of throttles, 500s and drops; half of the 500s and drops
/// happen after the request took effect, as on a real network.
struct FaultDice {
    private var dice: RandomSource
    private var scripted: [String: [InjectedFault]] = [:]
    /// Faults injected so far, scripted or rolled.
    private(set) var injected = 0

    init(seed: UInt64) {
        dice = RandomSource(seed: seed)
    }

    /// Starts the dice again from `seed`; scripted faults stay.
    mutating func reseed(_ seed: UInt64) {
        dice = RandomSource(seed: seed)
    }

    mutating func script(_ operation: String, _ fault: InjectedFault) {
        scripted[operation, default: []].append(fault)
    }

    mutating func next(for operation: String, throttleRate: Double, errorRate: Double, dropRate: Double) -> InjectedFault? {
        if var queue = scripted[operation], !queue.isEmpty {
            let fault = queue.removeFirst()
            scripted[operation] = queue
            injected += 1
            return fault
        }
        let roll = dice.next()
        let fault: InjectedFault
        if roll < throttleRate {
            fault = .throttle
        } else if roll < throttleRate + errorRate {
            fault = .serverError(afterEffect: dice.next() >= 0.5)
        } else if roll < throttleRate + errorRate + dropRate {
            fault = .drop(afterEffect: dice.next() >= 0.5)
        } else {
            return nil
        }
        injected += 1
        return fault
    }
}
