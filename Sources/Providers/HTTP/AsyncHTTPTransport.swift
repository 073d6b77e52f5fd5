import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Speaks HTTP/1.1 through async-http-client to `baseURL` (the provider's public API or the
/// environment's `endpoint:`).
public struct AsyncHTTPTransport: HTTPTransport {
    public let baseURL: URL
    public let timeout: Double
    public let userAgent: String
    /// The largest answer read, to bound memory on a misbehaving peer.
    public let maxBodyBytes: Int

    public init(baseURL: URL, timeout: Double = 60, userAgent: String = "kryoform", maxBodyBytes: Int = 64 << 20) {
        self.baseURL = baseURL
        self.timeout = timeout
        self.userAgent = userAgent
        self.maxBodyBytes = maxBodyBytes
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var outgoing = HTTPClientRequest(url: url(for: request))
        outgoing.method = HTTPMethod(rawValue: request.method)
        outgoing.headers.add(name: "User-Agent", value: userAgent)
        // JSON unless the request names its own types (EC2's Query API sends a form and reads XML).
        for header in request.headers { outgoing.headers.add(name: header.name, value: header.value) }
        if !outgoing.headers.contains(name: "Accept") { outgoing.headers.add(name: "Accept", value: "application/json") }
        if let body = request.body {
            if !outgoing.headers.contains(name: "Content-Type") { outgoing.headers.add(name: "Content-Type", value: "application/json") }
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await Self.client.execute(outgoing, timeout: .milliseconds(Int64(timeout * 1000)))
            let body = try await response.body.collect(upTo: maxBodyBytes)
            return HTTPResponse(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                                body: Data(body.readableBytesView))
        } catch let error where Self.isRefusal(error) {
            throw TransportError.refused("connection refused: nothing listens at \(Self.origin(of: baseURL))")
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: throw TransportError.timeout
            // The short description names the failure without the request's values (headers carry the credential).
            default: throw TransportError.connection(error.shortDescription)
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as TransportError {
            throw error
        } catch {
            // NIO's connection errors (refused, reset, closed mid-answer).
            throw TransportError.connection(String(describing: error))
        }
    }

    /// kryoform's one HTTP client. Unlike `HTTPClient.shared` it does not keep trying to
    /// connect until a request's deadline: a connection that cannot be made fails the request at
    /// once, and the retry layer decides (a refusal is final, a timeout is retried).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(15)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Whether the connection was refused (ECONNREFUSED), however NIO wraps it.
    static func isRefusal(_ error: Error) -> Bool {
        switch error {
        case let error as IOError: return error.errnoCode == ECONNREFUSED
        case let error as NIOConnectionError: return !error.connectionErrors.isEmpty && error.connectionErrors.allSatisfy { isRefusal($0.error) }
        default: return false
        }
    }

    /// `scheme://host:port` of `url`, for messages.
    static func origin(of url: URL) -> String {
        guard let scheme = url.scheme, let host = url.host else { return url.absoluteString }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }

    func url(for request: HTTPRequest) -> String {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var text = base + request.path
        if !request.query.isEmpty {
            text += "?" + request.query.map { "\(Self.encode($0.name))=\(Self.encode($0.value))" }.joined(separator: "&")
        }
        return text
    }

    static let queryAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~")
        return set
    }()

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: queryAllowed) ?? text
    }
}
