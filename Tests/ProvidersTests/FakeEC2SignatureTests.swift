import Foundation
import ProviderFakes
import XCTest
@testable import Providers

/// The fake EC2 checks SigV4 signatures, so `signatureFailures == 0` elsewhere means something:
/// a request signed with another secret, or whose body changed after it was signed, is refused
/// with 403 SignatureDoesNotMatch and counted; the same request signed rightly is served.
final class FakeEC2SignatureTests: XCTestCase {
    var fake: FakeEC2!

    override func setUp() async throws {
        fake = try await FakeEC2.start()
    }

    override func tearDown() async throws {
        await fake.stop()
    }

    static let body = Data("Action=DescribeVpcs&Version=2016-11-15".utf8)

    /// `body` signed with `secret` for the fake's key, region and service, sent with `sent` as its body.
    func send(signedWith secret: String, body sent: Data = body) async throws -> HTTPResponse {
        let baseURL = await fake.baseURL
        let host = "\(baseURL.host ?? "127.0.0.1"):\(baseURL.port ?? 80)"
        let signer = SigV4Signer(accessKeyID: fake.accessKeyID, secretAccessKey: secret, region: "us-east-1", service: "ec2")
        let unsigned = SigV4Request(method: "POST", path: "/",
                                    headers: [("Host", host), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                                    body: Self.body)
        let signed = signer.sign(unsigned, date: Date())
        let transport = AsyncHTTPTransport(baseURL: baseURL)
        return try await transport.send(HTTPRequest(method: "POST", path: "/", headers: signed.headers, body: sent, retry: .idempotent))
    }

    func expectRefused(_ response: HTTPResponse, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 403, String(decoding: response.body, as: UTF8.self), file: file, line: line)
        XCTAssertTrue(String(decoding: response.body, as: UTF8.self).contains("<Code>SignatureDoesNotMatch</Code>"),
                      String(decoding: response.body, as: UTF8.self), file: file, line: line)
    }

    func testARightlySignedRequestIsServed() async throws {
        let response = try await send(signedWith: fake.secretAccessKey)
        XCTAssertEqual(response.status, 200, String(decoding: response.body, as: UTF8.self))
        let failures = await fake.signatureFailures
        XCTAssertEqual(failures, 0)
    }

    func testARequestSignedWithAnotherSecretIsRefusedAndCounted() async throws {
        expectRefused(try await send(signedWith: fake.secretAccessKey + "-wrong"))
        let failures = await fake.signatureFailures
        XCTAssertEqual(failures, 1)
    }

    func testARequestWhoseBodyChangedAfterSigningIsRefusedAndCounted() async throws {
        let changed = Data("Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-0other".utf8)
        expectRefused(try await send(signedWith: fake.secretAccessKey, body: changed))
        let failures = await fake.signatureFailures
        XCTAssertEqual(failures, 1)
    }
}
