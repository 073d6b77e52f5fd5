import Crypto
import Foundation

/// Checks an AWS Signature Version 4 `Authorization` header the way a server does, written from
/// AWS's specification ("Create a signed AWS API request": canonical request, string to sign,
/// signing key) and sharing no code with the product's signer, so a bug in the signer cannot
/// verify itself.
///
/// The fakes use it on every request; `Tests/ProvidersTests/SigV4VerifierTests.swift` holds it to
/// the aws-c-auth test vectors.
public struct SigV4Verifier: Sendable {
    /// What a signed request carries in its `Authorization` header.
    public struct Authorization: Sendable, Equatable {
        public var accessKeyID: String
        /// `yyyymmdd/region/service/aws4_request`.
        public var scope: String
        /// Lowercase header names, in the order the header lists them.
        public var signedHeaders: [String]
        public var signature: String
    }

    /// Why a request does not verify.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missingHeader(String)
        case malformedAuthorization(String)
        case wrongCredential(String)
        case signedHeaderMissing(String)
        case signatureMismatch(expected: String, received: String)

        public var description: String {
            switch self {
            case .missingHeader(let name): return "no \(name) header"
            case .malformedAuthorization(let text): return "Authorization is not AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…: \(text)"
            case .wrongCredential(let text): return "the credential scope is not this fake's: \(text)"
            case .signedHeaderMissing(let name): return "SignedHeaders names \(name), which the request does not carry (or host / x-amz-date is not signed)"
            case .signatureMismatch(let expected, let received): return "signature \(received), expected \(expected)"
            }
        }
    }

    public let accessKeyID: String
    public let region: String
    public let service: String
    /// Remove `.`, `..` and empty path segments before encoding (every service but S3).
    public let normalizePath: Bool
    private let secretAccessKey: String

    public init(accessKeyID: String, secretAccessKey: String, region: String, service: String, normalizePath: Bool = true) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
        self.normalizePath = normalizePath
    }

    /// Verifies a request as received: `path` and `query` percent-decoded, headers as sent.
    public func verify(method: String, path: String, query: [(name: String, value: String)],
                       headers: [(name: String, value: String)], body: Data) -> Result<Void, Failure> {
        guard let authorizationText = Self.values(of: "authorization", in: headers).first else { return .failure(.missingHeader("Authorization")) }
        guard let amzDate = Self.values(of: "x-amz-date", in: headers).first else { return .failure(.missingHeader("X-Amz-Date")) }
        guard let authorization = Self.parseAuthorization(authorizationText) else { return .failure(.malformedAuthorization(authorizationText)) }
        let expectedScope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        guard authorization.accessKeyID == accessKeyID, authorization.scope == expectedScope else {
            return .failure(.wrongCredential("\(authorization.accessKeyID)/\(authorization.scope)"))
        }
        for required in ["host", "x-amz-date"] where !authorization.signedHeaders.contains(required) {
            return .failure(.signedHeaderMissing(required))
        }
        for name in authorization.signedHeaders where Self.values(of: name, in: headers).isEmpty {
            return .failure(.signedHeaderMissing(name))
        }
        let canonical = canonicalRequest(method: method, path: path, query: query, headers: headers,
                                         signedHeaders: authorization.signedHeaders, body: body)
        let expected = signature(stringToSign: stringToSign(canonicalRequest: canonical, amzDate: amzDate))
        guard expected == authorization.signature else {
            return .failure(.signatureMismatch(expected: expected, received: authorization.signature))
        }
        return .success(())
    }

    // MARK: The steps of the specification

    /// Step 1: method, canonical URI, canonical query, canonical headers, signed headers, payload hash.
    public func canonicalRequest(method: String, path: String, query: [(name: String, value: String)],
                                 headers: [(name: String, value: String)], signedHeaders: [String], body: Data) -> String {
        let names = signedHeaders.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let headerLines = names.map { name in
            name + ":" + Self.values(of: name, in: headers).map(Self.trimmed).joined(separator: ",") + "\n"
        }.joined()
        return [method, canonicalURI(path), Self.canonicalQuery(query), headerLines, names.joined(separator: ";"), Self.hexSHA256(body)]
            .joined(separator: "\n")
    }

    /// Step 2: the algorithm, the request time, the credential scope and the canonical request's hash.
    public func stringToSign(canonicalRequest: String, amzDate: String) -> String {
        ["AWS4-HMAC-SHA256", amzDate, "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request", Self.hexSHA256(Data(canonicalRequest.utf8))]
            .joined(separator: "\n")
    }

    /// Steps 3 and 4: the signing key `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request")`,
    /// then the hex HMAC of the string to sign under it.
    public func signature(stringToSign: String) -> String {
        let day = String(stringToSign.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).first?.prefix(8) ?? "")
        var key = Data("AWS4\(secretAccessKey)".utf8)
        for part in [day, region, service, "aws4_request"] {
            key = Self.hmac(key: key, Data(part.utf8))
        }
        return Self.hex(Self.hmac(key: key, Data(stringToSign.utf8)))
    }

    /// The path, dot segments and empty segments removed unless told not to, each segment encoded once.
    func canonicalURI(_ path: String) -> String {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.first == "" { segments.removeFirst() }
        if normalizePath {
            var kept: [String] = []
            for segment in segments {
                if segment == ".." { _ = kept.popLast() } else if segment != "." && !segment.isEmpty { kept.append(segment) }
            }
            // "/a/" and "/a/." name a directory, and keep their trailing slash.
            let directory = ["", ".", ".."].contains(segments.last ?? "") && !kept.isEmpty
            return "/" + kept.map(Self.encode).joined(separator: "/") + (directory ? "/" : "")
        }
        return "/" + segments.map(Self.encode).joined(separator: "/")
    }

    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (encode($0.name), encode($0.value)) }
            .sorted { ($0.0 == $1.0) ? Array($0.1.utf8).lexicographicallyPrecedes(Array($1.1.utf8)) : Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// The three fields of an `Authorization` header, or nil when it is not SigV4's.
    public static func parseAuthorization(_ text: String) -> Authorization? {
        let prefix = "AWS4-HMAC-SHA256 "
        guard text.hasPrefix(prefix) else { return nil }
        var fields: [String: String] = [:]
        for part in text.dropFirst(prefix.count).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            fields[String(pair[0])] = String(pair[1])
        }
        guard let credential = fields["Credential"], let signed = fields["SignedHeaders"], let signature = fields["Signature"],
              let slash = credential.firstIndex(of: "/") else { return nil }
        return Authorization(accessKeyID: String(credential[..<slash]), scope: String(credential[credential.index(after: slash)...]),
                             signedHeaders: signed.split(separator: ";").map(String.init), signature: signature)
    }

    // MARK: Encoding and hashing

    /// RFC 3986 percent-encoding: every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`, uppercase hex.
    static func encode(_ text: String) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        return text.utf8.map { unreserved.contains($0) ? String(UnicodeScalar($0)) : String(format: "%%%02X", $0) }.joined()
    }

    /// A header value with its ends trimmed and every run of spaces, tabs and line breaks made one space.
    static func trimmed(_ value: String) -> String {
        value.components(separatedBy: CharacterSet(charactersIn: " \t\r\n")).filter { !$0.isEmpty }.joined(separator: " ")
    }

    static func values(of name: String, in headers: [(name: String, value: String)]) -> [String] {
        headers.filter { $0.name.lowercased() == name }.map(\.value)
    }

    static func hexSHA256(_ data: Data) -> String { hex(Data(SHA256.hash(data: data))) }

    static func hmac(key: Data, _ message: Data) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
}
