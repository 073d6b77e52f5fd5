import Foundation
import Synchronization

/// A fake S3-compatible server that ignores conditional requests, as some S3-compatible stores
/// do: `If-None-Match` and `If-Match` are accepted and have no effect, so every PUT and DELETE
/// is carried out. What a real peer cannot be made to do (moto honours the conditions), for the
/// s3 state backend's start-up probe to be tested against.
///
/// Objects are kept in memory, path-style (`/bucket/key`). Every request's SigV4 signature is
/// checked by the fakes' own `SigV4Verifier` (service `s3`, paths not normalised): a request
/// that does not verify is answered 403 `SignatureDoesNotMatch`, as S3 does.
public final class FakeUnconditionalS3: Sendable {
    public let bucket: String
    public let accessKeyID: String
    private let secretAccessKey: String
    public let region: String
    private let objects = Mutex<[String: Data]>([:])
    private let seen = Mutex<[String]>([])
    private let server = Mutex<LoopbackHTTPServer?>(nil)

    public init(bucket: String, accessKeyID: String, secretAccessKey: String, region: String) {
        self.bucket = bucket
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
    }

    public static func start(bucket: String = "kryoform-state", accessKeyID: String = "AKIAFAKES3", secretAccessKey: String = "fake-s3-secret",
                             region: String = "us-east-1") async throws -> FakeUnconditionalS3 {
        let fake = FakeUnconditionalS3(bucket: bucket, accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, region: region)
        let server = try await LoopbackHTTPServer.start { request in fake.handle(request) }
        fake.server.withLock { $0 = server }
        return fake
    }

    public var baseURL: URL { server.withLock { $0?.baseURL } ?? URL(fileURLWithPath: "/") }

    public func stop() async { await server.withLock { $0 }?.stop() }

    /// Every request as `METHOD /path`, in order.
    public var requests: [String] { seen.withLock { $0 } }

    /// The keys held now.
    public var keys: [String] { objects.withLock { $0.keys.sorted() } }

    func handle(_ request: ReceivedRequest) -> FakeAnswer {
        seen.withLock { $0.append("\(request.method) \(request.path)") }
        let verifier = SigV4Verifier(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, region: region, service: "s3", normalizePath: false)
        if case .failure(let failure) = verifier.verify(method: request.method, path: request.path, query: request.query,
                                                         headers: request.headers, body: request.body) {
            return error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided (\(failure))")
        }
        let prefix = "/\(bucket)/"
        guard request.path.hasPrefix(prefix) else { return error(404, "NoSuchBucket", "The specified bucket does not exist") }
        let key = String(request.path.dropFirst(prefix.count))
        switch request.method {
        case "PUT":
            objects.withLock { $0[key] = request.body }
            return .respond(status: 200, headers: [("ETag", Self.etag(request.body))], body: Data())
        case "GET":
            guard let body = objects.withLock({ $0[key] }) else { return error(404, "NoSuchKey", "The specified key does not exist.") }
            return .respond(status: 200, headers: [("ETag", Self.etag(body)), ("Content-Type", "application/json")], body: body)
        case "DELETE":
            objects.withLock { _ = $0.removeValue(forKey: key) }
            return .respond(status: 204, headers: [], body: Data())
        default:
            return error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        }
    }

    /// A stand-in ETag: the body's length and a simple checksum (not S3's MD5; nothing here compares it with one).
    static func etag(_ body: Data) -> String {
        var sum: UInt64 = 1469598103934665603
        for byte in body { sum = (sum ^ UInt64(byte)) &* 1099511628211 }
        return "\"\(body.count)-\(String(sum, radix: 16))\""
    }

    private func error(_ status: Int, _ code: String, _ message: String) -> FakeAnswer {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>\(message)</Message></Error>"
        return .respond(status: status, headers: [("Content-Type", "application/xml")], body: Data(body.utf8))
    }
}
