import Crypto
import Foundation
import Providers
import Testing

/// The SigV4 signer against the aws-c-auth suite and its own guarantees (determinism, redaction).
///
/// Only the suite's header-signing files (`header-*.txt`) are checked; its `query-*.txt` files are for
/// presigned URLs, which kryoform does not use. No case is excluded.
@Suite("SigV4 signer")
struct SigV4Tests {
    static let accessKeyID = "AKIDEXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    /// 2015-08-30T12:36:00Z, the suite's signing time.
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)

    /// The suite is found and complete, so the parameterised test below cannot pass by running nothing.
    @Test func vectorsArePresent() throws {
        let root = try #require(SigV4VectorFiles.root(), "SigV4 vectors not found: set KRYOFORM_SHARED to the shared folder")
        let names = SigV4VectorFiles.caseNames()
        #expect(names.count >= 38, "only \(names.count) cases under \(root)")
    }

    /// Each case: canonical request, string to sign, signature, Authorization and the whole signed request match.
    @Test(arguments: SigV4VectorFiles.caseNames())
    func vector(_ name: String) throws {
        let vector = try SigV4VectorFiles.load(name)
        let date = try #require(vector.date)
        let signer = vector.signer

        let canonical = signer.canonicalRequest(signer.prepared(vector.request, date: date))
        #expect(canonical == vector.canonicalRequest)
        let toSign = signer.stringToSign(canonicalRequest: canonical, date: date)
        #expect(toSign == vector.stringToSign)
        #expect(signer.signature(stringToSign: toSign, date: date) == vector.signature)

        let signed = signer.sign(vector.request, date: date)
        let expectedAuthorization = try #require(vector.authorization)
        #expect(signed.values(ofHeader: "Authorization") == [expectedAuthorization])
        #expect(SigV4VectorFiles.serialize(requestLine: vector.requestLine, signed) == vector.signedRequest)
    }

    /// Session tokens: signed by default (get-vanilla-with-session-token, post-sts-header-before), sent but
    /// unsigned when asked (post-sts-header-after), as the suite has no `post-sts-token` case.
    @Test(arguments: ["get-vanilla-with-session-token", "post-sts-header-before", "post-sts-header-after"])
    func sessionToken(_ name: String) throws {
        let vector = try SigV4VectorFiles.load(name)
        let token = try #require(vector.context.credentials.token)
        let signed = vector.signer.sign(vector.request, date: try #require(vector.date))
        #expect(signed.values(ofHeader: "X-Amz-Security-Token") == [token])
        let authorization = try #require(signed.values(ofHeader: "Authorization").first)
        #expect(authorization.contains("x-amz-security-token") == !(vector.context.omit_session_token ?? false))
        #expect(signed.values(ofHeader: "Authorization") == [try #require(vector.authorization)])
    }

    /// The same request and date give the same result, and signing a signed request again changes nothing.
    @Test func signingIsDeterministic() {
        let signer = SigV4Signer(accessKeyID: Self.accessKeyID, secretAccessKey: Self.secret, sessionToken: "tok",
                                 region: "us-east-1", service: "ec2", options: .init(addContentSHA256Header: true))
        let request = SigV4Request(method: "POST", path: "/",
                                   headers: [(name: "Host", value: "ec2.us-east-1.amazonaws.com"),
                                             (name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")],
                                   body: Data("Action=DescribeInstances&Version=2016-11-15".utf8))
        let first = signer.sign(request, date: Self.suiteDate)
        #expect(signer.sign(request, date: Self.suiteDate) == first)
        #expect(signer.sign(first, date: Self.suiteDate) == first)
        let later = signer.sign(request, date: Self.suiteDate.addingTimeInterval(1))
        #expect(later.values(ofHeader: "Authorization") != first.values(ofHeader: "Authorization"))
        #expect(first.values(ofHeader: "x-amz-content-sha256")
                == ["6171eb09865e32b0602af0f7957e26573a51f53caaedff02ff88883cb0275885"])
        #expect(first.values(ofHeader: "X-Amz-Security-Token") == ["tok"])
    }

    /// The secret and session token never show in description, debug description, mirror or dump.
    @Test func secretIsRedacted() {
        let token = "SESSION-TOKEN-\(UUID().uuidString)"
        let signer = SigV4Signer(accessKeyID: Self.accessKeyID, secretAccessKey: Self.secret, sessionToken: token,
                                 region: "us-east-1", service: "ec2")
        var dumped = ""
        dump(signer, to: &dumped)
        let mirrored = Mirror(reflecting: signer).children.map { "\($0.label ?? ""): \($0.value)" }.joined(separator: "\n")
        let renderings = [String(describing: signer), String(reflecting: signer), "\(signer)", dumped, mirrored,
                          String(describing: [signer]), String(reflecting: Optional(signer))]
        for text in renderings {
            #expect(!text.contains(Self.secret), "secret in \(text)")
            #expect(!text.contains("wJalrXUtnFEMI"), "part of the secret in \(text)")
            #expect(!text.contains(token), "session token in \(text)")
            #expect(text.contains(Self.accessKeyID))
        }
    }

    /// The signing key matches AWS's published derivation example (20120215, us-east-1, iam).
    @Test func signingKeyMatchesAWSExample() {
        let signer = SigV4Signer(accessKeyID: Self.accessKeyID, secretAccessKey: Self.secret, region: "us-east-1", service: "iam")
        let key = signer.signingKey(date: Date(timeIntervalSince1970: 1_329_264_000)) // 2012-02-15T00:00:00Z
        let hex = key.withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
        #expect(hex == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    /// Timestamps and scope days are UTC calendar dates, including leap days and times before 1970.
    @Test(arguments: [
        (1_440_938_160.0, "20150830T123600Z"),
        (1_709_251_199.0, "20240229T235959Z"),
        (951_782_400.0, "20000229T000000Z"),
        (-1.0, "19691231T235959Z"),
        (0.5, "19700101T000000Z"),
    ])
    func timestamp(_ seconds: Double, _ expected: String) {
        let signer = SigV4Signer(accessKeyID: Self.accessKeyID, secretAccessKey: Self.secret, region: "r", service: "s")
        let date = Date(timeIntervalSince1970: seconds)
        let lines = signer.stringToSign(canonicalRequest: "", date: date).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.dropFirst().first.map(String.init) == expected)
        #expect(signer.credentialScope(date: date) == "\(expected.prefix(8))/r/s/aws4_request")
    }

    /// Paths are normalised and encoded once; query names and values are encoded and sorted.
    @Test func canonicalPathAndQuery() {
        let signer = SigV4Signer(accessKeyID: Self.accessKeyID, secretAccessKey: Self.secret, region: "r", service: "s")
        let request = SigV4Request(method: "get", path: "/a b/./c/../d%/é/",
                                   query: [(name: "b", value: "2 3"), (name: "a", value: "z"), (name: "a", value: "y/+="),
                                           (name: "flag", value: "")])
        let lines = signer.canonicalRequest(request).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.prefix(3) == ["GET", "/a%20b/d%25/%C3%A9/", "a=y%2F%2B%3D&a=z&b=2%203&flag="])
    }
}
