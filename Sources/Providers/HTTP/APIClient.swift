import Foundation

/// A failed request, with what the provider said. Carries no credential: requests' headers are
/// never part of it.
public struct HTTPFailure: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case status(Int)
        case timeout
        case connection(String)
    }

    public var provider: String
    public var method: String
    public var path: String
    public var reason: Reason
    /// The provider's error id (`not_found`, `unprocessable_entity`, `too_many_requests`, ...).
    public var errorID: String?
    public var message: String?
    public var requestID: String?
    public var retryAfter: Double?

    public var status: Int? {
        if case .status(let status) = reason { return status }
        return nil
    }

    public var description: String {
        var text = "\(provider): \(method) \(path): "
        switch reason {
        case .status(let status): text += "\(status)"
        case .timeout: text += "no answer in time"
        case .connection(let detail): text += "connection failed (\(detail))"
        }
        if let errorID { text += " \(errorID)" }
        if let message, !message.isEmpty { text += ": \(message)" }
        if let requestID { text += " (request id \(requestID))" }
        return text
    }
}

/// JSON requests to one provider's API through a transport stack, turning non-2xx answers and
/// network failures into `HTTPFailure`s.
public struct APIClient: Sendable {
    public let provider: String
    public let transport: HTTPTransport
    /// Reads the provider's error body: (id, message, request id).
    let errorBody: @Sendable (Data) -> (id: String?, message: String?, requestID: String?)

    public init(provider: String, transport: HTTPTransport,
                errorBody: @escaping @Sendable (Data) -> (id: String?, message: String?, requestID: String?)) {
        self.provider = provider
        self.transport = transport
        self.errorBody = errorBody
    }

    /// Sends `request` and returns the body of a 2xx answer.
    @discardableResult
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch let error as TransportError {
            let reason: HTTPFailure.Reason
            switch error {
            case .timeout: reason = .timeout
            case .connection(let detail), .refused(let detail): reason = .connection(detail)
            }
            throw HTTPFailure(provider: provider, method: request.method, path: request.path, reason: reason)
        }
        guard response.isSuccess else {
            let said = errorBody(response.body)
            throw HTTPFailure(provider: provider, method: request.method, path: request.path, reason: .status(response.status),
                              errorID: said.id, message: said.message,
                              requestID: said.requestID ?? response.header("x-request-id"),
                              retryAfter: RetryingTransport.askedDelay(response, now: Date()))
        }
        return response
    }

    public func get<T: Decodable>(_ type: T.Type, _ path: String, query: [(name: String, value: String)] = []) async throws -> T {
        let response = try await send(HTTPRequest(method: "GET", path: path, query: query))
        return try decode(type, response, request: "GET \(path)")
    }

    public func send<T: Decodable, Body: Encodable>(_ type: T.Type, _ method: String, _ path: String, body: Body,
                                                    retry: HTTPRequest.Retry? = nil) async throws -> T {
        let response = try await send(HTTPRequest(method: method, path: path, body: try Self.encoder.encode(body), retry: retry))
        return try decode(type, response, request: "\(method) \(path)")
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, request: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw HTTPFailure(provider: provider, method: String(request.prefix { $0 != " " }), path: String(request.drop { $0 != " " }.dropFirst()),
                              reason: .status(response.status), message: "the answer is not what the API describes (\(Self.describe(error)))")
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default:
            return String(describing: error)
        }
    }
}
