import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import XMLCoder

/// Where the s3 backend keeps an environment's objects: a bucket on a server, and the key
/// prefix `<prefix>/<project>/<environment>/`. Everything said about it names `display`; the
/// credentials are never part of it.
public struct S3Location: Hashable, Sendable {
    public var bucket: String
    /// The keys' common start, ending in `/`.
    public var folder: String
    public var region: String
    /// The server: AWS S3's regional endpoint unless `state.endpoint` names another.
    public var endpoint: URL
    /// Path-style requests (`endpoint/bucket/key`), as MinIO, Ceph and most other servers want;
    /// AWS S3 is addressed virtual-host style (`bucket.s3.region.amazonaws.com/key`).
    public var pathStyle: Bool

    public init(bucket: String, prefix: String, project: String, environment: String, region: String, endpoint: URL?) {
        self.bucket = bucket
        self.folder = ([prefix, project, environment].filter { !$0.isEmpty }).joined(separator: "/") + "/"
        self.region = region
        if let endpoint {
            self.endpoint = endpoint
            self.pathStyle = true
        } else {
            self.endpoint = URL(string: "https://\(bucket).s3.\(region).amazonaws.com") ?? URL(fileURLWithPath: "/")
            self.pathStyle = false
        }
    }

    /// `s3://bucket/prefix/project/env/ at https://host:port`.
    public var display: String {
        let server = pathStyle ? " at \(AsyncHTTPTransport.origin(of: endpoint))" : " (AWS S3, \(region))"
        return "s3://\(bucket)/\(folder)\(server)"
    }
}

/// One answer of the S3 server.
struct S3Answer: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: Data

    var etag: String? { headers.first(name: "ETag") }
    /// S3's error code (`PreconditionFailed`, `NoSuchBucket`, `AccessDenied`), when the answer is an error document.
    var code: String? { S3Objects.element("Code", in: body) }
    var message: String? { S3Objects.element("Message", in: body) }
}

/// Why a request to the S3 server failed: what was asked, and what came back, in a line that
/// names the bucket and never a credential.
public struct S3Failure: Error, Sendable {
    public var message: String
}

/// The S3 REST calls the state backend makes (GET, PUT and DELETE of an object, conditional
/// on its ETag; ListObjectsV2; DeleteObjects), signed with SigV4 and sent through kryoform's
/// HTTP client.
///
/// Synchronous, as `StateStore` is: each request is sent on the HTTP client's event loops and
/// waited for on the caller's thread, never on an event loop or by a task of the cooperative
/// pool (a caller that blocks a pool thread on work that needs the pool can deadlock it).
final class S3Objects: Sendable {
    let location: S3Location
    private let signer: SigV4Signer
    /// How long one request may take.
    let timeout: TimeAmount
    /// Attempts of a request that got no answer or a 500 / 503 (S3's "try again").
    let attempts: Int

    init(location: S3Location, accessKeyID: String, secretAccessKey: String, timeout: TimeAmount = .seconds(30), attempts: Int = 4) {
        self.location = location
        self.signer = SigV4Signer(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, region: location.region, service: "s3",
                                  options: SigV4Signer.Options(normalizePath: false, addContentSHA256Header: true))
        self.timeout = timeout
        self.attempts = attempts
    }

    /// The key of `name` inside the environment's folder.
    func key(_ name: String) -> String { location.folder + name }

    /// Sends one request, again after no answer or a 500 / 503 (a conditional PUT sent again
    /// after its first answer was lost may get 412 for its own effect: `put` checks for that).
    func send(_ method: String, key: String?, query: [(name: String, value: String)] = [], headers extra: [(name: String, value: String)] = [],
              body: Data = Data(), doing what: String) throws -> (answer: S3Answer, retried: Bool) {
        var lastProblem = ""
        for attempt in 1...attempts {
            if attempt > 1 { Thread.sleep(forTimeInterval: 0.2 * Double(1 << (attempt - 2))) }
            do {
                let answer = try sendOnce(method, key: key, query: query, headers: extra, body: body)
                if answer.status == 500 || answer.status == 503 {
                    lastProblem = "the server answered \(answer.status)\(answer.code.map { " \($0)" } ?? "")"
                    continue
                }
                return (answer, attempt > 1)
            } catch let failure as S3Failure {
                throw failure
            } catch where AsyncHTTPTransport.isRefusal(error) {
                // Nothing listens there: final, as for the providers' transport.
                throw S3Failure(message: "cannot \(what) in \(location.display): \(describe(error)); check that the server runs and that state.endpoint names it")
            } catch {
                lastProblem = describe(error)
            }
        }
        throw S3Failure(message: "cannot \(what) in \(location.display): \(lastProblem), \(attempts) times")
    }

    private func sendOnce(_ method: String, key: String?, query: [(name: String, value: String)], headers extra: [(name: String, value: String)],
                          body: Data) throws -> S3Answer {
        let path = (location.pathStyle ? "/" + location.bucket : "") + "/" + (key ?? "")
        var headers = [(name: "Host", value: SigV4SigningTransport.hostHeader(location.endpoint))] + extra
        if !body.isEmpty || method == "PUT" || method == "POST" { headers.append((name: "Content-Length", value: String(body.count))) }
        let signed = signer.sign(SigV4Request(method: method, path: path, query: query, headers: headers, body: body), date: Date())
        var components = URLComponents()
        components.scheme = location.endpoint.scheme
        components.host = location.endpoint.host
        components.port = location.endpoint.port
        components.percentEncodedPath = SigV4Canonical.canonicalPath(path, normalize: false)
        if !query.isEmpty {
            components.percentEncodedQuery = query.map { "\(SigV4Canonical.uriEncode($0.name))=\(SigV4Canonical.uriEncode($0.value))" }.joined(separator: "&")
        }
        guard let url = components.url?.absoluteString else { throw S3Failure(message: "cannot make a URL for \(location.display)") }
        var request = try HTTPClient.Request(url: url, method: HTTPMethod(rawValue: method))
        for header in signed.headers where header.name.lowercased() != "content-length" { request.headers.add(name: header.name, value: header.value) }
        request.headers.add(name: "User-Agent", value: "kryoform")
        if !body.isEmpty || method == "PUT" || method == "POST" { request.body = .bytes(body) }
        let response = try AsyncHTTPTransport.client.execute(request: request, deadline: .now() + timeout).wait()
        var data = Data()
        if var buffer = response.body, let bytes = buffer.readBytes(length: buffer.readableBytes) { data = Data(bytes) }
        return S3Answer(status: Int(response.status.code), headers: response.headers, body: data)
    }

    private func describe(_ error: Error) -> String {
        if AsyncHTTPTransport.isRefusal(error) { return "connection refused (nothing listens at \(AsyncHTTPTransport.origin(of: location.endpoint)))" }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: return "no answer within \(timeout.nanoseconds / 1_000_000_000) s"
            default: return error.shortDescription
            }
        }
        return String(describing: error)
    }

    /// The refusal as a line: what was asked, the status and S3's code and message.
    func refusal(_ answer: S3Answer, doing what: String) -> S3Failure {
        let place = location.display
        switch (answer.status, answer.code) {
        case (404, "NoSuchBucket"?):
            return S3Failure(message: "the bucket \(location.bucket) does not exist at \(place); create it, or name the right one in state.bucket")
        case (403, let code), (401, let code):
            return S3Failure(message: "\(place) refused to \(what): \(code ?? "\(answer.status)")\(answer.message.map { " (\($0))" } ?? ""); "
                             + "check the keys state.access_key_id and state.secret_access_key name, and that they may read and write that bucket")
        default:
            return S3Failure(message: "\(place) refused to \(what): \(answer.status)\(answer.code.map { " \($0)" } ?? "")\(answer.message.map { " (\($0))" } ?? "")")
        }
    }

    // MARK: Objects

    /// An object and its ETag; nil when there is none.
    func get(_ key: String, doing what: String) throws -> (body: Data, etag: String, answer: S3Answer)? {
        let (answer, _) = try send("GET", key: key, doing: what)
        if answer.status == 404, answer.code != "NoSuchBucket" { return nil }
        guard answer.status == 200 else { throw refusal(answer, doing: what) }
        return (answer.body, answer.etag ?? "", answer)
    }

    /// How a PUT is conditioned.
    enum Condition {
        /// Only when no object has the key (`If-None-Match: *`).
        case absent
        /// Only when the object's ETag is this one (`If-Match`).
        case matching(String)
        case none
    }

    /// The outcome of a conditional PUT.
    enum PutOutcome {
        case written(etag: String)
        /// 412: the condition did not hold; the object as it is now, if any.
        case preconditionFailed
    }

    /// PUTs `body` under `key` if `condition` holds. A 412 that answers a retried request is
    /// checked: when the object now holds exactly `body`, the first attempt wrote it.
    func put(_ key: String, _ body: Data, _ condition: Condition, doing what: String) throws -> PutOutcome {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        switch condition {
        case .absent: headers.append(("If-None-Match", "*"))
        case .matching(let etag): headers.append(("If-Match", etag))
        case .none: break
        }
        let (answer, retried) = try send("PUT", key: key, headers: headers, body: body, doing: what)
        switch answer.status {
        case 200, 201, 204: return .written(etag: answer.etag ?? "")
        case 412:
            if retried, let now = try get(key, doing: what), now.body == body { return .written(etag: now.etag) }
            return .preconditionFailed
        case 409 where answer.code == "ConditionalRequestConflict":
            // Another conditional write of the key was under way: this one did not happen.
            return .preconditionFailed
        case 404 where answer.code == "NoSuchKey":
            // If-Match on a key that is gone.
            return .preconditionFailed
        default: throw refusal(answer, doing: what)
        }
    }

    /// DELETEs `key`, only while its ETag is `etag` when one is given; false on 412.
    func delete(_ key: String, ifMatching etag: String?, doing what: String) throws -> Bool {
        let (answer, _) = try send("DELETE", key: key, headers: etag.map { [("If-Match", $0)] } ?? [], doing: what)
        switch answer.status {
        case 200, 204: return true
        case 404 where answer.code != "NoSuchBucket": return false
        case 412: return false
        default: throw refusal(answer, doing: what)
        }
    }

    /// Every key that starts with `prefix`, in key order (ListObjectsV2, page by page).
    func list(_ prefix: String, doing what: String) throws -> [String] {
        var keys: [String] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let (answer, _) = try send("GET", key: nil, query: query, doing: what)
            guard answer.status == 200 else { throw refusal(answer, doing: what) }
            let page: ListBucketResult
            do { page = try XMLDecoder().decode(ListBucketResult.self, from: answer.body) } catch {
                throw S3Failure(message: "\(location.display) answered a listing kryoform cannot read when asked to \(what): \(error)")
            }
            keys += (page.contents ?? []).map(\.key)
            token = page.isTruncated == true ? page.nextContinuationToken : nil
        } while token != nil
        return keys.sorted()
    }

    /// Deletes `keys`, a thousand per DeleteObjects request.
    func delete(keys: [String], doing what: String) throws {
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = keys[start..<min(start + 1000, keys.count)]
            let objects = batch.map { "<Object><Key>\(Self.escape($0))</Key></Object>" }.joined()
            let body = Data("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>\(objects)</Delete>".utf8)
            let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
            let (answer, _) = try send("POST", key: nil, query: [("delete", "")], headers: [("Content-Type", "application/xml"), ("Content-MD5", md5)],
                                       body: body, doing: what)
            guard answer.status == 200 else { throw refusal(answer, doing: what) }
            // Keys it could not delete come back as <Error> entries (deleted ones as <Deleted>, even when asked to be quiet).
            if let failed = Self.element("Error", in: answer.body) {
                throw S3Failure(message: "\(location.display) did not delete \(Self.element("Key", in: Data(failed.utf8)) ?? "a journal object") when asked to \(what)"
                                + "\(Self.element("Message", in: Data(failed.utf8)).map { ": \($0)" } ?? "")")
            }
        }
    }

    // MARK: XML

    private struct ListBucketResult: Decodable {
        struct Entry: Decodable {
            var key: String
            enum CodingKeys: String, CodingKey { case key = "Key" }
        }
        var contents: [Entry]?
        var isTruncated: Bool?
        var nextContinuationToken: String?
        enum CodingKeys: String, CodingKey {
            case contents = "Contents"
            case isTruncated = "IsTruncated"
            case nextContinuationToken = "NextContinuationToken"
        }
    }

    /// The text of the first `<name>` element of an XML answer.
    static func element(_ name: String, in body: Data) -> String? {
        guard !body.isEmpty else { return nil }
        let text = String(decoding: body.prefix(8_192), as: UTF8.self)
        guard let open = text.range(of: "<\(name)>"), let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex) else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
