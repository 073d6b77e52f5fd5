import Foundation
import Synchronization

/// One HTTP request to a provider's API, path relative to the API's base URL.
public struct HTTPRequest: Sendable {
    /// What may be done when the request fails on the way.
    public enum Retry: Sendable {
        /// Safe to send again: reads, deletes, actions that converge (retried on 429, 5xx, timeouts and drops).
        case idempotent
        /// A create: sent again only when the provider refused it before doing anything (429).
        /// After a 5xx, a timeout or a drop the caller looks the result up by tag instead.
        case ifRefused
    }

    public var method: String
    public var path: String
    public var query: [(name: String, value: String)]
    public var headers: [(name: String, value: String)]
    public var body: Data?
    public var retry: Retry

    public init(method: String, path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
                body: Data? = nil, retry: Retry? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.retry = retry ?? (method == "POST" ? .ifRefused : .idempotent)
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// A failure before any answer came back.
public enum TransportError: Error, Sendable, Equatable {
    /// No complete answer within the request timeout.
    case timeout
    /// The connection could not be made or was dropped.
    case connection(String)
    /// Nothing listens at the address (the connection was refused): not transient, so never retried.
    case refused(String)
}

/// Sends requests. The layers (authentication, rate limiting, retries) are transports around
/// the one that speaks HTTP.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// Time as the transport layers see it; injected so retry and rate-limit tests are instant.
public protocol TransportClock: Sendable {
    func now() -> Date
    func sleep(seconds: Double) async throws
}

public struct SystemClock: TransportClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(seconds: Double) async throws {
        guard seconds > 0, seconds.isFinite else { return }
        try await Task.sleep(nanoseconds: UInt64(min(seconds, 86_400) * 1e9))
    }
}

/// Uniform numbers in 0..<1 for jitter; seeded in tests so runs repeat.
public final class RandomSource: Sendable {
    private let seeded: Bool
    private let state: Mutex<UInt64>

    /// The system's random numbers.
    public static let system = RandomSource(seed: nil)

    /// A repeatable sequence (SplitMix64) when `seed` is given.
    public init(seed: UInt64?) {
        seeded = seed != nil
        state = Mutex(seed ?? 0)
    }

    public func next() -> Double {
        guard seeded else { return Double.random(in: 0..<1) }
        let value = state.withLock { seed -> UInt64 in
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return Double(value >> 11) / Double(1 << 53)
    }
}

/// Adds the credential to every request. The credential stays inside this layer: it is never
/// part of an error, a log line or a description.
public struct AuthenticatingTransport: HTTPTransport, CustomStringConvertible, CustomReflectable {
    let inner: HTTPTransport
    private let headerName: String
    private let headerValue: String

    public init(_ inner: HTTPTransport, bearerToken: String) {
        self.inner = inner
        self.headerName = "Authorization"
        self.headerValue = "Bearer " + bearerToken
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var request = request
        request.headers.append((headerName, headerValue))
        return try await inner.send(request)
    }

    public var description: String { "AuthenticatingTransport(\(headerName): <redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
