import Foundation
import ProviderFakes
import Testing

/// The fakes' own SigV4 verifier (`Sources/ProviderFakes/SigV4Verifier.swift`, written from the
/// specification, sharing nothing with the product's signer) against the aws-c-auth suite: each
/// signed request of the suite verifies, its canonical request and string to sign are the suite's,
/// and the same request with one byte changed does not verify.
@Suite("SigV4 verifier of the fakes")
struct SigV4VerifierTests {
    /// The suite is there, so the parameterised tests cannot pass by running nothing.
    @Test func vectorsArePresent() {
        #expect(SigV4VectorFiles.caseNames().count >= 38)
    }

    /// A case's signed request (`header-signed-request.txt`) as the fake would receive it.
    struct Received {
        var method: String
        var path: String
        var query: [(name: String, value: String)]
        var headers: [(name: String, value: String)]
        var body: Data
    }

    static func received(_ vector: SigV4Vector) throws -> Received {
        let (_, request) = try SigV4VectorFiles.parseRequest(vector.signedRequest)
        return Received(method: request.method, path: request.path, query: request.query, headers: request.headers, body: request.body)
    }

    static func verifier(_ vector: SigV4Vector, secret: String? = nil) -> SigV4Verifier {
        SigV4Verifier(accessKeyID: vector.context.credentials.access_key_id, secretAccessKey: secret ?? vector.context.credentials.secret_access_key,
                      region: vector.context.region, service: vector.context.service, normalizePath: vector.context.normalize)
    }

    static func verify(_ verifier: SigV4Verifier, _ request: Received) -> Result<Void, SigV4Verifier.Failure> {
        verifier.verify(method: request.method, path: request.path, query: request.query, headers: request.headers, body: request.body)
    }

    @Test(arguments: SigV4VectorFiles.caseNames())
    func signedRequestVerifiesAndMatchesTheSuite(_ name: String) throws {
        let vector = try SigV4VectorFiles.load(name)
        let request = try Self.received(vector)
        let verifier = Self.verifier(vector)
        let authorization = try #require(request.headers.first { $0.name.lowercased() == "authorization" }?.value)
        let parsed = try #require(SigV4Verifier.parseAuthorization(authorization))
        let canonical = verifier.canonicalRequest(method: request.method, path: request.path, query: request.query, headers: request.headers,
                                                  signedHeaders: parsed.signedHeaders, body: request.body)
        #expect(canonical == vector.canonicalRequest)
        let amzDate = try #require(request.headers.first { $0.name.lowercased() == "x-amz-date" }?.value)
        let toSign = verifier.stringToSign(canonicalRequest: canonical, amzDate: amzDate)
        #expect(toSign == vector.stringToSign)
        #expect(verifier.signature(stringToSign: toSign) == vector.signature)
        let result = Self.verify(verifier, request)
        #expect((try? result.get()) != nil, "\(result)")
    }

    @Test(arguments: SigV4VectorFiles.caseNames())
    func aChangedRequestOrAnotherSecretDoesNotVerify(_ name: String) throws {
        let vector = try SigV4VectorFiles.load(name)
        let request = try Self.received(vector)
        var body = request
        body.body.append(UInt8(ascii: "x"))
        var query = request
        query.query.append((name: "extra", value: "1"))
        var method = request
        method.method = request.method == "GET" ? "POST" : "GET"
        for changed in [body, query, method] {
            guard case .failure(.signatureMismatch) = Self.verify(Self.verifier(vector), changed) else {
                Issue.record("a changed request verified")
                continue
            }
        }
        guard case .failure(.signatureMismatch) = Self.verify(Self.verifier(vector, secret: "another-secret"), request) else {
            Issue.record("a request signed with another secret verified")
            return
        }
    }

    @Test func unsignedHostOrAMissingSignedHeaderIsRefused() throws {
        let vector = try SigV4VectorFiles.load("get-vanilla")
        var request = try Self.received(vector)
        request.headers.removeAll { $0.name.lowercased() == "host" }
        #expect(throws: SigV4Verifier.Failure.signedHeaderMissing("host")) { try Self.verify(Self.verifier(vector), request).get() }
        var unsignedHost = try Self.received(vector)
        let index = try #require(unsignedHost.headers.firstIndex { $0.name == "Authorization" })
        unsignedHost.headers[index].value = unsignedHost.headers[index].value.replacingOccurrences(of: "SignedHeaders=host;x-amz-date", with: "SignedHeaders=x-amz-date")
        #expect(throws: SigV4Verifier.Failure.signedHeaderMissing("host")) { try Self.verify(Self.verifier(vector), unsignedHost).get() }
    }
}
