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
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(RequestHandler(handler: handler))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return LoopbackHTTPServer(channel: channel, group: group, port: channel.localAddress?.port ?? 0)
    }

    private init(channel: Channel, group: MultiThreadedEventLoopGroup, port: Int) {
        self.channel = channel
        self.group = group
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
    private var head: HTTPRequestHead?
    private var body = Data()

    init(handler: @escaping @Sendable (ReceivedRequest) async -> FakeAnswer) {
        self.handler = handler
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
            Task {
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
