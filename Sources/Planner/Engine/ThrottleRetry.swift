import Foundation

/// How a call refused for throttling is tried again: the one rule the apply walk and
/// observation (`plan`, `drift`) share. A refusal counts only when the provider did nothing
/// (`nothingWasDone`), so sending the call again is always safe.
public struct ThrottleRetry: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// Waits that many seconds; tests make it instant.
    public var sleep: @Sendable (Double) async -> Void

    public init(maxAttempts: Int = 6,
                sleep: @escaping @Sendable (Double) async -> Void = { try? await Task.sleep(nanoseconds: UInt64($0 * 1e9)) }) {
        self.maxAttempts = max(1, maxAttempts)
        self.sleep = sleep
    }

    /// The wait before attempt `attempt + 1` when the provider named none.
    public static func backoff(_ attempt: Int) -> Double {
        min(0.25 * Double(1 << min(attempt, 6)), 10)
    }

    /// Whether `error` is a throttling refusal that attempt `attempt` may answer with another try.
    public func allowsAnother(after error: Error, attempt: Int) -> Bool {
        guard let error = error as? ProviderError else { return false }
        return error.kind == .throttled && error.nothingWasDone && attempt < maxAttempts
    }

    /// Runs `body`, again after a wait while the provider refuses it for throttling;
    /// `onRetry(wait, attempt)` is told before each wait.
    public func run<T>(onRetry: (Double, Int) -> Void, _ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do { return try await body() } catch where allowsAnother(after: error, attempt: attempt) {
                let wait = (error as? ProviderError)?.retryAfter ?? Self.backoff(attempt)
                onRetry(wait, attempt)
                await sleep(wait)
                attempt += 1
            }
        }
    }
}
