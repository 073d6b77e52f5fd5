import Foundation
import ProviderFakes
import Synchronization
import XCTest
@testable import Providers

/// A clock whose sleeps pass at once and are recorded: retry and rate-limit tests take no time.
final class VirtualClock: TransportClock {
    private let state = Mutex<(now: Date, sleeps: [Double])>((Date(timeIntervalSince1970: 1_800_000_000), []))

    func now() -> Date { state.withLock { $0.now } }

    func sleep(seconds: Double) async throws {
        state.withLock {
            $0.sleeps.append(seconds)
            $0.now = $0.now.addingTimeInterval(max(0, seconds))
        }
    }

    var sleeps: [Double] { state.withLock { $0.sleeps } }
}

/// A fake transport answering from a script, one step per request, recording what was sent.
final class ScriptedTransport: HTTPTransport {
    enum Step { case answer(Int, [(String, String)]), fail(TransportError) }
    private let state: Mutex<(steps: [Step], sent: [HTTPRequest])>

    init(_ steps: [Step]) { state = Mutex((steps, [])) }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let step = state.withLock { state -> Step in
            state.sent.append(request)
            return state.steps.isEmpty ? .answer(200, []) : state.steps.removeFirst()
        }
        switch step {
        case .answer(let status, let headers): return HTTPResponse(status: status, headers: headers.map { ($0.0, $0.1) }, body: Data("{}".utf8))
        case .fail(let error): throw error
        }
    }

    var sentCount: Int { state.withLock { $0.sent.count } }
    var sent: [HTTPRequest] { state.withLock { $0.sent } }
}

/// SplitMix64 (Steele, Lea and Flood, 2014; the constants of its reference implementation),
/// written here apart from the product's RandomSource: a fraction in [0, 1) from the top 53
/// bits of each output.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1.0p-53
    }
}

final class RetryingTransportTests: XCTestCase {
    func retrying(_ steps: [ScriptedTransport.Step], seed: UInt64 = 7) -> (RetryingTransport, ScriptedTransport, VirtualClock) {
        let script = ScriptedTransport(steps)
        let clock = VirtualClock()
        return (RetryingTransport(script, policy: RetryPolicy(maxAttempts: 5, baseDelay: 0.5, maxDelay: 8), clock: clock, random: RandomSource(seed: seed)), script, clock)
    }

    func testHonoursRetryAfterOn429() async throws {
        let (transport, script, clock) = retrying([.answer(429, [("Retry-After", "3")]), .answer(200, [])])
        let response = try await transport.send(HTTPRequest(method: "GET", path: "/v2/droplets"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(script.sentCount, 2)
        XCTAssertEqual(clock.sleeps.count, 1)
        XCTAssertGreaterThanOrEqual(clock.sleeps[0], 3)
        XCTAssertLessThan(clock.sleeps[0], 3.5)
    }

    func testWaitsForRateLimitResetWhenTheBudgetIsSpent() async throws {
        let clock = VirtualClock()
        let reset = Int(clock.now().timeIntervalSince1970) + 40
        let script = ScriptedTransport([.answer(429, [("ratelimit-remaining", "0"), ("ratelimit-reset", String(reset))]), .answer(200, [])])
        let transport = RetryingTransport(script, clock: clock, random: RandomSource(seed: 1))
        _ = try await transport.send(HTTPRequest(method: "GET", path: "/v2/sizes"))
        XCTAssertEqual(clock.sleeps.count, 1)
        XCTAssertGreaterThanOrEqual(clock.sleeps[0], 40)
    }

    func testAWaitLongerThanAllowedGoesBackToTheCaller() async throws {
        let (transport, script, _) = retrying([.answer(429, [("Retry-After", "3600")])])
        let response = try await transport.send(HTTPRequest(method: "GET", path: "/v2/sizes"))
        XCTAssertEqual(response.status, 429)
        XCTAssertEqual(script.sentCount, 1)
    }

    func testReadsAreRetriedOnServerErrorsTimeoutsAndDrops() async throws {
        let (transport, script, clock) = retrying([.answer(500, []), .fail(.timeout), .fail(.connection("reset")), .answer(503, []), .answer(200, [])])
        let response = try await transport.send(HTTPRequest(method: "GET", path: "/v2/droplets"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(script.sentCount, 5)
        // Exponential ceilings 0.5, 1, 2, 4 with full jitter: each wait is the next draw of the
        // seeded source times its ceiling. The draws are SplitMix64's, computed here apart.
        var draws = SplitMix64(seed: 7)
        let expected = [0.5, 1, 2, 4].map { ceiling in draws.next() * ceiling }
        XCTAssertTrue(clock.sleeps.allSatisfy { $0 > 0 }, "\(clock.sleeps)")
        XCTAssertEqual(clock.sleeps.count, 4)
        for (delay, wanted) in zip(clock.sleeps, expected) {
            XCTAssertEqual(delay, wanted, accuracy: 1e-9, "waits \(clock.sleeps), wanted \(expected)")
        }
    }

    func testTheCeilingStopsAtTheLongestDelay() async throws {
        let script = ScriptedTransport(Array(repeating: .answer(500, []), count: 7))
        let clock = VirtualClock()
        let transport = RetryingTransport(script, policy: RetryPolicy(maxAttempts: 7, baseDelay: 0.5, maxDelay: 3), clock: clock, random: RandomSource(seed: 11))
        _ = try await transport.send(HTTPRequest(method: "GET", path: "/v2/droplets"))
        var draws = SplitMix64(seed: 11)
        let expected = [0.5, 1, 2, 3, 3, 3].map { ceiling in draws.next() * ceiling }
        XCTAssertEqual(clock.sleeps.count, 6)
        for (delay, wanted) in zip(clock.sleeps, expected) { XCTAssertEqual(delay, wanted, accuracy: 1e-9) }
    }

    func testACreateIsNotSentAgainAfterAFailureWhoseOutcomeIsUnknown() async throws {
        for step in [ScriptedTransport.Step.answer(500, []), .fail(.timeout), .fail(.connection("closed"))] {
            let (transport, script, _) = retrying([step, .answer(202, [])])
            let create = HTTPRequest(method: "POST", path: "/v2/droplets", body: Data("{}".utf8))
            do {
                let response = try await transport.send(create)
                XCTAssertEqual(response.status, 500)
            } catch let error as TransportError {
                XCTAssertTrue(error == .timeout || error == .connection("closed"))
            }
            XCTAssertEqual(script.sentCount, 1, "a create must not be sent blindly again")
        }
    }

    func testACreateRefusedWith429IsSentAgain() async throws {
        let (transport, script, _) = retrying([.answer(429, [("retry-after", "1")]), .answer(202, [])])
        let response = try await transport.send(HTTPRequest(method: "POST", path: "/v2/droplets", body: Data("{}".utf8)))
        XCTAssertEqual(response.status, 202)
        XCTAssertEqual(script.sentCount, 2)
    }

    func testGivesUpAfterMaxAttempts() async throws {
        let (transport, script, clock) = retrying(Array(repeating: .answer(500, []), count: 10))
        let response = try await transport.send(HTTPRequest(method: "GET", path: "/v2/droplets"))
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(script.sentCount, 5)
        XCTAssertEqual(clock.sleeps.count, 4)
    }

    func testJitterIsRepeatableForASeed() async throws {
        let (first, _, firstClock) = retrying(Array(repeating: .answer(502, []), count: 4), seed: 42)
        let (second, _, secondClock) = retrying(Array(repeating: .answer(502, []), count: 4), seed: 42)
        _ = try await first.send(HTTPRequest(method: "GET", path: "/"))
        _ = try await second.send(HTTPRequest(method: "GET", path: "/"))
        XCTAssertEqual(firstClock.sleeps, secondClock.sleeps)
        XCTAssertEqual(Set(firstClock.sleeps).count, firstClock.sleeps.count, "jitter varies the waits")
    }
}

final class RateLimiterTests: XCTestCase {
    func testKeepsToTheMinuteWindow() async throws {
        let clock = VirtualClock()
        let limiter = RateLimiter(windows: [.init(limit: 250, seconds: 60), .init(limit: 5_000, seconds: 3_600)], clock: clock)
        for _ in 0..<250 { try await limiter.acquire() }
        XCTAssertEqual(clock.sleeps, [], "250 requests fit in a minute")
        try await limiter.acquire()
        XCTAssertEqual(clock.sleeps.count, 1)
        XCTAssertEqual(clock.sleeps[0], 60, accuracy: 0.001, "the 251st waits for the first to leave the window")
    }

    func testKeepsToTheHourWindow() async throws {
        let clock = VirtualClock()
        let limiter = RateLimiter(windows: [.init(limit: 250, seconds: 60), .init(limit: 5_000, seconds: 3_600)], clock: clock)
        for _ in 0..<5_001 { try await limiter.acquire() }
        let waited = clock.sleeps.reduce(0, +)
        // 5,000 in the first hour at 250 a minute: 19 waits of a minute, then the 5,001st waits for the hour to roll.
        XCTAssertEqual(waited, 3_600, accuracy: 0.01)
        let elapsed = clock.now().timeIntervalSince(Date(timeIntervalSince1970: 1_800_000_000))
        XCTAssertGreaterThanOrEqual(elapsed, 3_600)
    }

    func testFollowsTheProvidersCount() async throws {
        let clock = VirtualClock()
        let limiter = RateLimiter(windows: [.init(limit: 250, seconds: 60)], clock: clock)
        await limiter.update(remaining: 0, reset: clock.now().timeIntervalSince1970 + 90)
        try await limiter.acquire()
        XCTAssertEqual(clock.sleeps.count, 1)
        XCTAssertEqual(clock.sleeps[0], 90, accuracy: 0.001)
    }

    func testTheTransportReadsRateLimitHeaders() async throws {
        let clock = VirtualClock()
        let limiter = RateLimiter(windows: [.init(limit: 250, seconds: 60)], clock: clock)
        let reset = Int(clock.now().timeIntervalSince1970) + 30
        let script = ScriptedTransport([.answer(200, [("RateLimit-Remaining", "0"), ("RateLimit-Reset", String(reset))]), .answer(200, [])])
        let transport = RateLimitedTransport(script, limiter: limiter)
        _ = try await transport.send(HTTPRequest(method: "GET", path: "/a"))
        _ = try await transport.send(HTTPRequest(method: "GET", path: "/b"))
        XCTAssertEqual(clock.sleeps.count, 1)
        XCTAssertEqual(clock.sleeps[0], 30, accuracy: 0.001)
    }
}

final class HTTPOverLoopbackTests: XCTestCase {
    func testSendsAuthenticatedJSONAndReadsTheAnswer() async throws {
        let seen = Mutex<[ReceivedRequest]>([])
        let server = try await LoopbackHTTPServer.start { request in
            seen.withLock { $0.append(request) }
            return .respond(status: 200, headers: [("ratelimit-remaining", "4999")], body: Data(#"{"ok":true}"#.utf8))
        }
        defer { Task { await server.stop() } }
        let transport = AuthenticatingTransport(AsyncHTTPTransport(baseURL: server.baseURL, timeout: 5), bearerToken: "s3cret-token")
        let response = try await transport.send(HTTPRequest(method: "POST", path: "/v2/tags", query: [("tag_name", "kf-scope:a b")],
                                                            body: Data(#"{"name":"x"}"#.utf8)))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("RATELIMIT-REMAINING"), "4999")
        let request = try XCTUnwrap(seen.withLock { $0.first })
        XCTAssertEqual(request.header("Authorization"), "Bearer s3cret-token")
        XCTAssertEqual(request.header("Content-Type"), "application/json")
        XCTAssertEqual(request.query.first?.value, "kf-scope:a b")
        XCTAssertEqual(String(decoding: request.body, as: UTF8.self), #"{"name":"x"}"#)
        XCTAssertFalse(String(describing: transport).contains("s3cret"))
    }

    func testADroppedConnectionAndATimeoutAreTransportErrors() async throws {
        let server = try await LoopbackHTTPServer.start { request in
            if request.path == "/slow" { try? await Task.sleep(nanoseconds: 2_000_000_000) }
            return request.path == "/drop" ? .drop : .respond(status: 200, headers: [], body: Data())
        }
        defer { Task { await server.stop() } }
        let transport = AsyncHTTPTransport(baseURL: server.baseURL, timeout: 0.3)
        do {
            _ = try await transport.send(HTTPRequest(method: "GET", path: "/drop"))
            XCTFail("a dropped connection must fail")
        } catch let error as TransportError {
            guard case .connection = error else { return XCTFail("expected a connection error, got \(error)") }
        }
        do {
            _ = try await transport.send(HTTPRequest(method: "GET", path: "/slow"))
            XCTFail("a slow answer must time out")
        } catch let error as TransportError {
            XCTAssertEqual(error, .timeout)
        }
    }

    func testFailuresCarryWhatTheProviderSaidAndNoToken() async throws {
        let server = try await LoopbackHTTPServer.start { _ in
            .respond(status: 422, headers: [], body: Data(#"{"id":"unprocessable_entity","message":"Size is not available in this region.","request_id":"req-123"}"#.utf8))
        }
        defer { Task { await server.stop() } }
        let client = APIClient(provider: "digitalocean",
                               transport: AuthenticatingTransport(AsyncHTTPTransport(baseURL: server.baseURL), bearerToken: "dop_v1_SECRET"),
                               errorBody: DigitalOceanProvider.errorBody)
        do {
            try await client.send(HTTPRequest(method: "POST", path: "/v2/droplets", body: Data("{}".utf8)))
            XCTFail("422 must fail")
        } catch let failure as HTTPFailure {
            XCTAssertEqual(failure.status, 422)
            XCTAssertEqual(failure.method, "POST")
            XCTAssertEqual(failure.path, "/v2/droplets")
            XCTAssertEqual(failure.errorID, "unprocessable_entity")
            XCTAssertEqual(failure.requestID, "req-123")
            XCTAssertEqual(failure.description, "digitalocean: POST /v2/droplets: 422 unprocessable_entity: Size is not available in this region. (request id req-123)")
            XCTAssertFalse(failure.description.contains("SECRET"))
            let explained = DigitalOceanErrors.explain(failure, doing: "creating node.app.1")
            XCTAssertEqual(explained.kind, .invalidRequest)
            XCTAssertTrue(explained.fix?.contains("size offered in the environment's region") ?? false)
        }
    }
}
