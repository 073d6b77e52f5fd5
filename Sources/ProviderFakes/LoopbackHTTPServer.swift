import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as a fake server receives it.
public struct ReceivedRequest: Sendable {
    public var method: String
    /// The path without the query.
    public var path: String
    public var query: [(name: String, value: String)]
    public var headers: [(name: String, value: String)]
    public var body: Data

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// What a fake server does with a request.
public enum FakeAnswer: Sendable {
    case respond(status: Int, headers: [(name: String, value: String)], body: Data)
    /// Closes the connection without answering: a dropped connection.
    case drop

    /// The answer's HTTP status; nil for a dropped connection.
    public var status: Int? {
        guard case .respond(let status, _, _) = self else { return nil }
        return status
    }
}

/// An HTTP/1.1 server on 127.0.0.1 and a free port, over SwiftNIO, answering with an async
/// handler. Test support for the provider fakes.
public final class LoopbackHTTPServer: Sendable {
    public let port: Int
    private let channel: Channel
    private let group: MultiThreadedEventLoopGroup

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)") ?? URL(fileURLWithPath: "/") }

    public static func start(handler: @escaping @Sendable (ReceivedRequest) async -> FakeAnswer) async throws -> LoopbackHTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let executor = FakeServerExecutor(name: "kryoform-fake-server")
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(RequestHandler(handler: handler, executor: executor))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return LoopbackHTTPServer(channel: channel, group: group, executor: executor, port: channel.localAddress?.port ?? 0)
    }

    private let executor: FakeServerExecutor

    private init(channel: Channel, group: MultiThreadedEventLoopGroup, executor: FakeServerExecutor, port: Int) {
        self.channel = channel
        self.group = group
        self.executor = executor
        self.port = port
    }

    public func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let handler: @Sendable (ReceivedRequest) async -> FakeAnswer
    let executor: FakeServerExecutor
    private var head: HTTPRequestHead?
    private var body = Data()

    init(handler: @escaping @Sendable (ReceivedRequest) async -> FakeAnswer, executor: FakeServerExecutor) {
        self.handler = handler
        self.executor = executor
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = Data()
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            let components = URLComponents(string: head.uri)
            let request = ReceivedRequest(
                method: head.method.rawValue, path: components?.path ?? head.uri,
                query: (components?.queryItems ?? []).map { ($0.name, $0.value ?? "") },
                headers: head.headers.map { ($0.name, $0.value) }, body: body)
            let keepAlive = head.isKeepAlive
            let version = head.version
            self.head = nil
            let handler = self.handler
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            Task(executorPreference: executor) {
                let answer = await handler(request)
                loop.execute {
                    let (this, context) = bound.value
                    this.write(answer, version: version, keepAlive: keepAlive, context: context)
                }
            }
        }
    }

    private func write(_ answer: FakeAnswer, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        switch answer {
        case .drop:
            context.close(promise: nil)
        case .respond(let status, let headers, let body):
            var responseHeaders = HTTPHeaders(headers.map { ($0.name, $0.value) })
            responseHeaders.replaceOrAdd(name: "Content-Length", value: String(body.count))
            if !body.isEmpty, !responseHeaders.contains(name: "Content-Type") {
                responseHeaders.add(name: "Content-Type", value: "application/json; charset=utf-8")
            }
            responseHeaders.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
            let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: responseHeaders)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if !body.isEmpty {
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
        }
    }
}

/// Runs the tasks a fake server starts for its requests on a thread of its own, not on the
/// cooperative pool. The pool has one thread per core, and a synchronous test blocks one for as
/// long as it waits (on a kryoform run, a server): with every pool thread blocked so, a fake
/// whose handler needed the pool stopped answering, and the kryoform talking to it timed out.
/// Actors the handler calls (the fakes are actors) run here too, as a task executor preference
/// makes them. The thread lives as long as the process: a request task still suspended when its
/// server stops (a held answer) may resume later, and an actor it was running on must be able to
/// finish, or the test's own calls to that fake would wait forever.
final class FakeServerExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    private func run() {
        while true {
            let next: UnownedJob = condition.withLock {
                while jobs.isEmpty { condition.wait() }
                return jobs.removeFirst()
            }
            next.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
