import Foundation
import Logging

/// How often and how long to try again.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The first backoff ceiling; it doubles with each attempt, up to `maxDelay`.
    public var baseDelay: Double
    public var maxDelay: Double
    /// The longest wait the provider may ask for; past it the failure goes back to the user
    /// (DigitalOcean's hourly budget can reset an hour away).
    public var maxAskedDelay: Double

    public init(maxAttempts: Int = 8, baseDelay: Double = 0.5, maxDelay: Double = 30, maxAskedDelay: Double = 300) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAskedDelay = maxAskedDelay
    }

    public static let standard = RetryPolicy()
}

/// One retry, for progress reports and tests.
public struct RetryEvent: Sendable, Hashable {
    public var method: String
    public var path: String
    /// The status, or nil for a timeout or a dropped connection.
    public var status: Int?
    public var attempt: Int
    public var delay: Double
}

/// Sends a request again on 429, 5xx, timeouts and dropped connections, waiting with
/// exponential backoff and full jitter, or as long as the provider asks (`retry-after`, or
/// `ratelimit-reset` when the budget is spent). A create (`Retry.ifRefused`) is sent again only
/// after a 429, which the provider answers before doing anything; its other failures go back to
/// the caller, which looks up by tag what was made.
public struct RetryingTransport: HTTPTransport {
    let inner: HTTPTransport
    public let policy: RetryPolicy
    let clock: TransportClock
    let random: RandomSource
    let onRetry: @Sendable (RetryEvent) -> Void
    /// Whether an answer is the provider refusing for throttling, before doing anything: a 429,
    /// or (EC2) an error code such as `RequestLimitExceeded` whatever status carries it.
    let isThrottled: @Sendable (HTTPResponse) -> Bool

    public init(_ inner: HTTPTransport, policy: RetryPolicy = .standard, clock: TransportClock = SystemClock(),
                random: RandomSource = .system, onRetry: @escaping @Sendable (RetryEvent) -> Void = { _ in },
                isThrottled: @escaping @Sendable (HTTPResponse) -> Bool = { $0.status == 429 }) {
        self.inner = inner
        self.policy = policy
        self.clock = clock
        self.random = random
        self.onRetry = onRetry
        self.isThrottled = isThrottled
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var attempt = 1
        while true {
            let response: HTTPResponse
            do {
                response = try await inner.send(request)
                // The method and path only: bodies and headers may carry what is not to be shown.
                Self.logger.debug("\(request.method) \(request.path) answered \(response.status) (attempt \(attempt))")
            } catch let error as TransportError {
                Self.logger.debug("\(request.method) \(request.path) got no answer (attempt \(attempt)): \(error)")
                // A refused connection is an address where nothing listens: waiting will not fix it.
                if case .refused = error { throw error }
                guard request.retry == .idempotent, attempt < policy.maxAttempts else { throw error }
                try await wait(request, status: nil, attempt: attempt, asked: nil)
                attempt += 1
                continue
            }
            let retryable = isThrottled(response) || (request.retry == .idempotent && (500...599).contains(response.status))
            let asked = Self.askedDelay(response, now: clock.now())
            guard retryable, attempt < policy.maxAttempts, (asked ?? 0) <= policy.maxAskedDelay else { return response }
            try await wait(request, status: response.status, attempt: attempt, asked: asked)
            attempt += 1
        }
    }

    /// The backoff before attempt `attempt + 1`.
    public func backoff(attempt: Int) -> Double {
        let ceiling = min(policy.maxDelay, policy.baseDelay * pow(2, Double(attempt - 1)))
        return random.next() * ceiling
    }

    private func wait(_ request: HTTPRequest, status: Int?, attempt: Int, asked: Double?) async throws {
        var delay = backoff(attempt: attempt)
        // What the provider asked for, plus a little jitter so parallel requests do not return together.
        if let asked { delay = asked + random.next() * policy.baseDelay }
        onRetry(RetryEvent(method: request.method, path: request.path, status: status, attempt: attempt, delay: delay))
        let why = status.map { "answered \($0)" } ?? "no answer (timeout or dropped connection)"
        Self.logger.info("retrying \(request.method) \(request.path) in \(String(format: "%.1f", delay)) s, attempt \(attempt + 1) of \(policy.maxAttempts): \(why)",
                         metadata: ["progress": "true"])
        try await clock.sleep(seconds: delay)
    }

    static let logger = Logger(label: "kryoform.http")

    /// `retry-after` (seconds or an HTTP date), else `ratelimit-reset` when nothing is left.
    static func askedDelay(_ response: HTTPResponse, now: Date) -> Double? {
        if let value = response.header("retry-after")?.trimmingCharacters(in: .whitespaces) {
            if let seconds = Double(value) { return max(0, seconds) }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            if let date = formatter.date(from: value) { return max(0, date.timeIntervalSince(now)) }
        }
        if response.status == 429, response.header("ratelimit-remaining") == "0",
           let reset = response.header("ratelimit-reset").flatMap(Double.init) {
            return max(0, reset - now.timeIntervalSince1970)
        }
        return nil
    }
}
