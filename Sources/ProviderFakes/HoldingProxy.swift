import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A loopback HTTP proxy in front of another test server (moto_server) with the fakes' kill
/// point: every request is passed on and its answer passed back, except that the next request
/// of one operation, once the server has carried it out, has its answer held until the test has
/// killed the client, and then lost. For servers that cannot hold an answer themselves.
/// Given real test hosts (`handOut`), the instances EC2's `RunInstances` launches take them as
/// their addresses, as `EC2NodeAddressing` says.
public actor HoldingProxy: AnswerHoldingFake, NodeHostingFake {
    public nonisolated let upstream: URL
    private let operation: @Sendable (ReceivedRequest) -> String
    private var server: LoopbackHTTPServer?
    /// Kill points (`holdNextAnswer` and the rest: `AnswerHoldingFake`).
    public nonisolated let answerHold = AnswerHold()
    /// Test hosts for new instances (`handOut` and the rest: `NodeHostingFake`).
    public nonisolated let nodeHosts = NodeHostPool()

    init(upstream: URL, operation: @escaping @Sendable (ReceivedRequest) -> String) {
        self.upstream = upstream
        self.operation = operation
    }

    /// Starts a proxy to `upstream` on a free loopback port; `operation` names a request as
    /// `holdNextAnswer` is given it.
    public static func start(upstream: URL, operation: @escaping @Sendable (ReceivedRequest) -> String) async throws -> HoldingProxy {
        let proxy = HoldingProxy(upstream: upstream, operation: operation)
        let server = try await LoopbackHTTPServer.start { request in await proxy.handle(request) }
        await proxy.attach(server)
        return proxy
    }

    /// EC2's Query API names the operation in the form body's `Action` (`RunInstances`).
    public static let ec2Action: @Sendable (ReceivedRequest) -> String = { request in
        FakeEC2.form(request.body)["Action"] ?? "?"
    }

    private func attach(_ server: LoopbackHTTPServer) { self.server = server }

    public var baseURL: URL { server?.baseURL ?? URL(fileURLWithPath: "/") }

    public func stop() async { await server?.stop() }

    // MARK: Forwarding

    func handle(_ request: ReceivedRequest) async -> FakeAnswer {
        var addressing = EC2NodeAddressing(pool: nodeHosts, request: request)
        if let refusal = addressing?.admit() { return refusal }
        var answer = await forward(request)
        if let addressing { answer = addressing.rewrite(answer) }
        let name = operation(request)
        if answerHold.takes(name) {
            await withCheckedContinuation { answerHold.hold("\(name) \(request.path)", answer: answer, release: $0) }
            return .drop
        }
        return answer
    }

    private static let hopByHop: Set<String> = ["host", "content-length", "connection", "transfer-encoding", "keep-alive"]

    private func forward(_ request: ReceivedRequest) async -> FakeAnswer {
        var components = URLComponents(url: upstream, resolvingAgainstBaseURL: false)
        components?.path = request.path
        components?.queryItems = request.query.isEmpty ? nil : request.query.map { URLQueryItem(name: $0.name, value: $0.value) }
        var outgoing = HTTPClientRequest(url: components?.string ?? upstream.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for header in request.headers where !Self.hopByHop.contains(header.name.lowercased()) {
            outgoing.headers.add(name: header.name, value: header.value)
        }
        outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        do {
            let response = try await HTTPClient.shared.execute(outgoing, timeout: .seconds(300))
            let body = try await response.body.collect(upTo: 64 << 20)
            let headers = response.headers.filter { !Self.hopByHop.contains($0.name.lowercased()) }.map { (name: $0.name, value: $0.value) }
            return .respond(status: Int(response.status.code), headers: headers, body: Data(body.readableBytesView))
        } catch {
            return .drop
        }
    }
}
