import Foundation
import ProviderFakes
import TestSupport
import XCTest
@testable import Providers

/// The proxy in front of a real `moto_server` handing out real test hosts: each instance
/// `RunInstances` launches takes a host, EC2's answers show it at the host's address, its
/// `UserData` host key is installed there, and `TerminateInstances` frees the host.
final class EC2NodeHostTests: XCTestCase {
    static let image = "ami-04681a1dbd79675a5"

    func testRunInstances_instancesTakeTestHostsAndPresentTheirHostKey() async throws {
        let hosts = try NodeHostSupport.up()
        defer { hosts.down() }
        let moto = try MotoServer.start()
        defer { moto.stop() }
        let proxy = try await HoldingProxy.start(upstream: moto.baseURL, operation: HoldingProxy.ec2Action)
        await proxy.handOut(NodeHostSupport.fakeHosts(hosts))
        let ec2 = Self.transport(await proxy.baseURL)
        let key = try NodeHostSupport.newHostKey()
        let expected = NodeHostSupport.keyFields(key.publicKey)
        let addresses = hosts.hosts.map(\.address)

        let run = try await ec2.send(EC2Client.httpRequest(Self.runInstances(count: 2, name: "web", userData: NodeHostSupport.userData(hostKey: key))))
        let answer = String(decoding: run.body, as: UTF8.self)
        XCTAssertEqual(run.status, 200, answer)
        let ids = Self.values("instanceId", in: answer)
        XCTAssertEqual(ids.count, 2, answer)
        XCTAssertEqual(Self.values("ipAddress", in: answer), addresses)
        for address in addresses {
            XCTAssertEqual(try NodeHostSupport.presentedKey(address, expecting: expected), expected, address)
        }

        let described = String(decoding: try await ec2.send(EC2Client.httpRequest(EC2Query("DescribeInstances", idempotent: true))).body, as: UTF8.self)
        XCTAssertEqual(Set(Self.values("instanceId", in: described)), Set(ids))
        XCTAssertEqual(Self.values("ipAddress", in: described), addresses)
        XCTAssertEqual(Set(Self.values("privateIpAddress", in: described)), Set(addresses))
        XCTAssertEqual(Set(Self.values("publicIp", in: described)), Set(addresses))

        let refused = try await ec2.send(EC2Client.httpRequest(Self.runInstances(count: 1, name: "web-3", userData: NodeHostSupport.userData(hostKey: key))))
        XCTAssertEqual(refused.status, 400)
        XCTAssertEqual(EC2Refusal.parse(refused.body)?.code, "InstanceLimitExceeded")
        XCTAssertTrue(EC2Refusal.parse(refused.body)?.message?.contains("no test host left") ?? false)

        var terminate = EC2Query("TerminateInstances", idempotent: true)
        terminate.list("InstanceId", [ids[0]])
        let terminated = try await ec2.send(EC2Client.httpRequest(terminate))
        XCTAssertEqual(terminated.status, 200)
        let again = String(decoding: try await ec2.send(EC2Client.httpRequest(Self.runInstances(count: 1, name: "web-3", userData: nil))).body, as: UTF8.self)
        XCTAssertEqual(Self.values("ipAddress", in: again), [addresses[0]])

        let records = await proxy.bootRecords()
        XCTAssertEqual(records.map(\.nodeName), ["web", "web", "web-3"])
        XCTAssertEqual(records.map(\.address), addresses + [addresses[0]])
        XCTAssertEqual(records.first?.users, ["default", "deploy"])
        XCTAssertEqual(records.last?.hadSSHKeys, false)
        await proxy.stop()
    }

    func testRunInstances_skipHostKeyLeavesTheHostsOwnKey() async throws {
        let hosts = try NodeHostSupport.up()
        defer { hosts.down() }
        let moto = try MotoServer.start()
        defer { moto.stop() }
        let proxy = try await HoldingProxy.start(upstream: moto.baseURL, operation: HoldingProxy.ec2Action)
        await proxy.handOut(NodeHostSupport.fakeHosts(hosts))
        await proxy.skipHostKey(forNodeNamed: "web-1")
        let own = try NodeHostSupport.ownKey(hosts.hosts[0])

        let run = try await Self.transport(await proxy.baseURL).send(EC2Client.httpRequest(
            Self.runInstances(count: 1, name: "web-1", userData: NodeHostSupport.userData(hostKey: try NodeHostSupport.newHostKey()))))
        XCTAssertEqual(run.status, 200)
        XCTAssertEqual(try NodeHostSupport.presentedKey(hosts.hosts[0].address, expecting: own), own)
        let record = await proxy.bootRecords().first
        XCTAssertEqual(record?.hadSSHKeys, true)
        XCTAssertNil(record?.installedHostKey)
        await proxy.stop()
    }

    // MARK: Requests

    /// Signed as the adapter signs (moto reads the region and service from the signature).
    static func transport(_ endpoint: URL) -> HTTPTransport {
        SigV4SigningTransport(inner: AsyncHTTPTransport(baseURL: endpoint, timeout: 30),
                              signer: SigV4Signer(accessKeyID: "testing", secretAccessKey: "testing-secret", region: "us-east-1", service: "ec2"),
                              endpoint: endpoint, clock: SystemClock())
    }

    static func runInstances(count: Int, name: String, userData: String?) -> EC2Query {
        var query = EC2Query("RunInstances")
        query["ImageId"] = image
        query["InstanceType"] = "t3.micro"
        query["MinCount"] = String(count)
        query["MaxCount"] = String(count)
        query["UserData"] = userData.map { Data($0.utf8).base64EncodedString() }
        query.tagSpecification("instance", [EC2Tag(key: "Name", value: name)])
        return query
    }

    /// The text of every `<tag>` element directly holding text, in order (enough for EC2's answers).
    static func values(_ tag: String, in xml: String) -> [String] {
        xml.components(separatedBy: "<\(tag)>").dropFirst().compactMap { $0.components(separatedBy: "</\(tag)>").first }
    }
}
