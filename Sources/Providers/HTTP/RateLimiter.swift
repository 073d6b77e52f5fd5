import Foundation

/// A provider's request budget, kept on this side so kryoform slows down before the provider
/// refuses: sliding windows of recent requests (DigitalOcean: 250 a minute, 5,000 an hour),
/// corrected by what the provider reports in `ratelimit-remaining` / `ratelimit-reset`.
public actor RateLimiter {
    public struct Window: Sendable, Hashable {
        public var limit: Int
        public var seconds: Double

        public init(limit: Int, seconds: Double) {
            self.limit = limit
            self.seconds = seconds
        }
    }

    public let windows: [Window]
    private let clock: TransportClock
    /// Start times of recent requests, oldest first, as seconds since 1970.
    private var sent: [Double] = []
    private var start = 0
    /// What the provider last said is left, and when that budget resets.
    private var providerRemaining: Int?
    private var providerReset: Double?
    /// Seconds spent waiting for the budget, for reports.
    public private(set) var waited: Double = 0

    /// The longest wait the provider's own count may impose; past it requests go on, and the
    /// provider's 429s reach the retry layer, which reports them.
    public let maxProviderWait: Double

    public init(windows: [Window], clock: TransportClock = SystemClock(), maxProviderWait: Double = 300) {
        self.windows = windows
        self.clock = clock
        self.maxProviderWait = maxProviderWait
    }

    /// Waits until one more request fits every window, then counts it.
    public func acquire() async throws {
        while true {
            let now = clock.now().timeIntervalSince1970
            let wait = delay(at: now)
            if wait <= 0 {
                record(at: now)
                return
            }
            waited += wait
            try await clock.sleep(seconds: wait)
        }
    }

    /// Takes the provider's own count from an answer's headers.
    public func update(remaining: Int?, reset: Double?) {
        if let remaining { providerRemaining = remaining }
        if let reset, reset.isFinite { providerReset = reset }
    }

    private func delay(at now: Double) -> Double {
        var wait = 0.0
        let live = sent[start...]
        for window in windows {
            let cutoff = now - window.seconds
            // Requests inside this window: those after the cutoff.
            let inside = live.count - countBefore(cutoff, in: live)
            if inside >= window.limit {
                // The oldest request still inside must leave the window first.
                let leaving = live[live.endIndex - window.limit]
                wait = max(wait, leaving + window.seconds - now)
            }
        }
        if let remaining = providerRemaining, remaining <= 0, let reset = providerReset, reset > now {
            wait = max(wait, min(reset - now, maxProviderWait))
        }
        return wait
    }

    private func record(at now: Double) {
        sent.append(now)
        if let remaining = providerRemaining { providerRemaining = remaining - 1 }
        if let reset = providerReset, reset <= now { providerRemaining = nil; providerReset = nil }
        let longest = windows.map(\.seconds).max() ?? 0
        let cutoff = now - longest
        while start < sent.count, sent[start] <= cutoff { start += 1 }
        if start > 4096, start * 2 > sent.count {
            sent.removeFirst(start)
            start = 0
        }
    }

    private func countBefore(_ cutoff: Double, in times: ArraySlice<Double>) -> Int {
        var low = times.startIndex, high = times.endIndex
        while low < high {
            let middle = (low + high) / 2
            if times[middle] <= cutoff { low = middle + 1 } else { high = middle }
        }
        return low - times.startIndex
    }
}

/// Takes a place in the provider's budget before each request and reads the provider's count
/// back from each answer.
public struct RateLimitedTransport: HTTPTransport {
    let inner: HTTPTransport
    public let limiter: RateLimiter

    public init(_ inner: HTTPTransport, limiter: RateLimiter) {
        self.inner = inner
        self.limiter = limiter
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await limiter.acquire()
        let response = try await inner.send(request)
        await limiter.update(remaining: response.header("ratelimit-remaining").flatMap { Int($0) },
                             reset: response.header("ratelimit-reset").flatMap { Double($0) })
        return response
    }
}
