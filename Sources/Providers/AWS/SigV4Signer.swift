import Crypto
import Foundation

/// Signs requests for one AWS service and region with Signature Version 4 in the `Authorization` header.
///
/// A pure value: the date is passed in, nothing is random, and the same request and date always give
/// the same signed request. The secret and session token never appear in `description`, `debugDescription`,
/// or `Mirror`/`dump` output.
public struct SigV4Signer: Sendable {
    /// Choices on which services (and the aws-c-auth test suite) differ.
    public struct Options: Sendable, Equatable {
        /// Remove `.`, `..` and empty segments from the path before encoding; right for every service but S3.
        public var normalizePath: Bool
        /// Add and sign `x-amz-content-sha256` with the payload hash (the test suite's `sign_body`).
        public var addContentSHA256Header: Bool
        /// Sign `X-Amz-Security-Token`; when false it is still sent but left out of the signature
        /// (the test suite's `omit_session_token`, wanted by a few services such as IoT).
        public var signSessionToken: Bool

        /// Options with the defaults: normalise the path, no content-hash header, sign the session token.
        public init(normalizePath: Bool = true, addContentSHA256Header: Bool = false, signSessionToken: Bool = true) {
            self.normalizePath = normalizePath
            self.addContentSHA256Header = addContentSHA256Header
            self.signSessionToken = signSessionToken
        }
    }

    /// The signing algorithm named in the string to sign and the `Authorization` header.
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// The access key ID (not secret; it appears in every `Authorization` header).
    public let accessKeyID: String
    /// The region in the credential scope, e.g. `us-east-1`.
    public let region: String
    /// The service in the credential scope, e.g. `ec2`.
    public let service: String
    /// How this signer treats paths, payload hashes and session tokens.
    public let options: Options
    private let secretAccessKey: String
    private let sessionToken: String?

    /// Makes a signer for one set of credentials, region and service.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil,
                region: String, service: String, options: Options = Options()) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
        self.options = options
    }

    /// Whether this signer carries a session token (temporary credentials).
    public var hasSessionToken: Bool { sessionToken != nil }

    /// The request signed: `X-Amz-Date`, maybe `X-Amz-Security-Token` and `x-amz-content-sha256`, then `Authorization`.
    ///
    /// Any of those headers already present are replaced, so signing a signed request again (a retry) is safe.
    public func sign(_ request: SigV4Request, date: Date) -> SigV4Request {
        let signable = prepared(request, date: date)
        var signed = prepared(request, date: date, includingUnsignedToken: true)
        signed.headers.append((name: "Authorization", value: authorization(forPrepared: signable, date: date)))
        return signed
    }

    /// The request with the headers that are signed added (no `Authorization`): what `canonicalRequest(_:)` expects.
    public func prepared(_ request: SigV4Request, date: Date) -> SigV4Request {
        prepared(request, date: date, includingUnsignedToken: false)
    }

    /// The `Authorization` header value for a request already passed through `prepared(_:date:)`.
    public func authorization(forPrepared request: SigV4Request, date: Date) -> String {
        let canonical = canonicalRequest(request)
        let toSign = stringToSign(canonicalRequest: canonical, date: date)
        return "\(Self.algorithm) Credential=\(accessKeyID)/\(credentialScope(date: date)), "
            + "SignedHeaders=\(signedHeaders(request)), Signature=\(signature(stringToSign: toSign, date: date))"
    }

    /// The canonical request of a request exactly as given (every header is signed; nothing is added).
    public func canonicalRequest(_ request: SigV4Request) -> String {
        let headers = SigV4Canonical.canonicalHeaders(request.headers)
        return [
            request.method.uppercased(),
            SigV4Canonical.canonicalPath(request.path, normalize: options.normalizePath),
            SigV4Canonical.canonicalQuery(request.query),
            headers.block,
            headers.signed,
            SigV4Canonical.sha256Hex(request.body),
        ].joined(separator: "\n")
    }

    /// The `;`-separated lowercase names of the headers a request as given would sign.
    public func signedHeaders(_ request: SigV4Request) -> String {
        SigV4Canonical.canonicalHeaders(request.headers).signed
    }

    /// The credential scope `yyyymmdd/region/service/aws4_request` for a date (UTC).
    public func credentialScope(date: Date) -> String {
        "\(SigV4Canonical.timestamps(date).day)/\(region)/\(service)/aws4_request"
    }

    /// The string to sign: algorithm, timestamp, credential scope and the hex SHA-256 of the canonical request.
    public func stringToSign(canonicalRequest: String, date: Date) -> String {
        [
            Self.algorithm,
            SigV4Canonical.timestamps(date).amzDate,
            credentialScope(date: date),
            SigV4Canonical.sha256Hex(Data(canonicalRequest.utf8)),
        ].joined(separator: "\n")
    }

    /// The signing key for a day: HMAC-SHA256 chained over the day, region, service and `aws4_request`.
    public func signingKey(date: Date) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [SigV4Canonical.timestamps(date).day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// The lowercase hex HMAC-SHA256 of a string to sign under the day's signing key.
    public func signature(stringToSign: String, date: Date) -> String {
        SigV4Canonical.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(date: date)))
    }

    /// Adds the SigV4 headers after removing stale ones; the unsigned session token only when asked.
    private func prepared(_ request: SigV4Request, date: Date, includingUnsignedToken: Bool) -> SigV4Request {
        var result = request
        var replaced: Set<String> = ["authorization", "x-amz-date", "x-amz-security-token"]
        if options.addContentSHA256Header { replaced.insert("x-amz-content-sha256") }
        result.headers.removeAll { replaced.contains($0.name.lowercased()) }
        if let sessionToken, options.signSessionToken || includingUnsignedToken {
            result.headers.append((name: "X-Amz-Security-Token", value: sessionToken))
        }
        result.headers.append((name: "X-Amz-Date", value: SigV4Canonical.timestamps(date).amzDate))
        if options.addContentSHA256Header {
            result.headers.append((name: "x-amz-content-sha256", value: SigV4Canonical.sha256Hex(request.body)))
        }
        return result
    }
}

extension SigV4Signer: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// A one-line summary with the secret and session token redacted.
    public var description: String {
        "SigV4Signer(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>, "
            + "sessionToken: \(sessionToken == nil ? "nil" : "<redacted>"), region: \(region), service: \(service))"
    }

    /// The same redacted summary, for `String(reflecting:)` and `debugPrint`.
    public var debugDescription: String { description }

    /// A mirror with the secret and session token redacted, for `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "accessKeyID": accessKeyID,
            "secretAccessKey": "<redacted>",
            "sessionToken": sessionToken == nil ? "nil" : "<redacted>",
            "region": region,
            "service": service,
            "options": options,
        ], displayStyle: .struct)
    }
}
