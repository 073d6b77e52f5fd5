import Foundation

/// Signs every request that passes with SigV4, at the moment it is sent: each attempt of a
/// retried request gets a fresh date. The `Host` header (with the port when the endpoint names
/// one) is set here so that what is signed is what is sent. The credentials stay inside the
/// signer, which redacts them from every description.
struct SigV4SigningTransport: HTTPTransport, CustomStringConvertible {
    let inner: HTTPTransport
    let signer: SigV4Signer
    let endpoint: URL
    let clock: TransportClock

    var description: String { "SigV4SigningTransport(\(signer))" }

    /// `host` or `host:port` of the endpoint.
    static func hostHeader(_ url: URL) -> String {
        let host = url.host ?? ""
        guard let port = url.port else { return host }
        let scheme = url.scheme?.lowercased()
        if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) { return host }
        return "\(host):\(port)"
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var basePath = endpoint.path
        while basePath.hasSuffix("/") { basePath.removeLast() }
        var headers = request.headers.filter { $0.name.lowercased() != "host" }
        headers.insert(("Host", Self.hostHeader(endpoint)), at: 0)
        let unsigned = SigV4Request(method: request.method, path: basePath + request.path, query: request.query, headers: headers,
                                    body: request.body ?? Data())
        let signed = signer.sign(unsigned, date: clock.now())
        var outgoing = request
        outgoing.headers = signed.headers
        return try await inner.send(outgoing)
    }
}

/// What EC2 said when it refused: its error code and message.
struct EC2Refusal: Sendable, Equatable {
    var code: String
    var message: String?
    var requestID: String?

    /// Codes that mean "slow down": nothing was done, and the same request may go again.
    static let throttlingCodes: Set<String> = ["RequestLimitExceeded", "EC2ThrottledException", "Throttling", "ThrottlingException"]

    var isThrottling: Bool { Self.throttlingCodes.contains(code) }

    /// The error envelope of an answer, or nil when it is not one.
    static func parse(_ body: Data) -> EC2Refusal? {
        guard !body.isEmpty, let envelope = try? EC2.decode(EC2.ErrorResponse.self, from: body),
              let first = envelope.errors.first else { return nil }
        return EC2Refusal(code: first.code, message: first.message, requestID: envelope.requestID)
    }

    /// Whether an answer carries a throttling code, whatever its status (EC2 uses 503 for
    /// `RequestLimitExceeded`, 400 for `Throttling`).
    static func isThrottling(_ response: HTTPResponse) -> Bool {
        guard !response.isSuccess else { return false }
        if response.status == 429 { return true }
        // Cheap test first: most failures are not throttling.
        let text = String(decoding: response.body.prefix(2_048), as: UTF8.self)
        guard throttlingCodes.contains(where: { text.contains("<Code>\($0)</Code>") }) else { return false }
        return parse(response.body)?.isThrottling ?? false
    }
}

/// EC2's Query API over a transport stack: form-encoded POSTs to `/`, XML answers decoded into
/// typed values, refusals turned into `HTTPFailure`s carrying EC2's error code.
struct EC2Client: Sendable {
    let api: APIClient

    init(transport: HTTPTransport) {
        api = APIClient(provider: "aws", transport: transport, errorBody: { data in
            let refusal = EC2Refusal.parse(data)
            return (refusal?.code, refusal?.message, refusal?.requestID)
        })
    }

    static let formType = "application/x-www-form-urlencoded; charset=utf-8"

    /// The HTTP request a query becomes. Reads, deletes and creates with a client token are
    /// idempotent; other creates are sent again only when EC2 refused them (throttling).
    static func httpRequest(_ query: EC2Query) -> HTTPRequest {
        HTTPRequest(method: "POST", path: "/", headers: [("Content-Type", formType), ("Accept", "text/xml")], body: query.body,
                    retry: query.idempotent ? .idempotent : .ifRefused)
    }

    /// Sends `query` and decodes the answer.
    func send<T: Decodable>(_ type: T.Type, _ query: EC2Query) async throws -> T {
        let response = try await sendIgnoringAnswer(query)
        do {
            return try EC2.decode(type, from: response.body)
        } catch {
            throw HTTPFailure(provider: "aws", method: "POST", path: "/ " + query.action, reason: .status(response.status),
                              message: "the answer is not what the EC2 API describes (\(APIClient.describe(error)))")
        }
    }

    /// Sends `query` for its effect (a delete, an attach).
    @discardableResult
    func sendIgnoringAnswer(_ query: EC2Query) async throws -> HTTPResponse {
        do {
            return try await api.send(Self.httpRequest(query))
        } catch var failure as HTTPFailure {
            // Name the action, not the path (always `/`).
            failure.path = "/ " + query.action
            throw failure
        }
    }
}

extension HTTPFailure {
    /// EC2's error code (`InvalidInstanceID.NotFound`, `DependencyViolation`, ...).
    var ec2Code: String? { errorID }

    /// Whether EC2 says the object is not there.
    var isNotFound: Bool {
        errorID?.hasSuffix(".NotFound") ?? false
    }
}
