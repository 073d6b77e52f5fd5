import Foundation
import XCTest
@testable import ProviderFakes

/// How the fakes' pool of test hosts hands them out, and what a first boot reads from user
/// data, without hosts: nodes here have no host key in their user data, so nothing is touched.
final class NodeHostPoolTests: XCTestCase {
    let hosts = (1...2).map { FakeNodeHost(address: "10.231.99.\($0 + 1)", hostKeyPath: "/nonexistent/\($0)/key", sshdPIDFile: "/nonexistent/\($0)/pid") }

    func testWithoutHandOut_thePoolTakesNoPart() throws {
        let pool = NodeHostPool()
        XCTAssertNil(try pool.boot([("1", "web-1")], userData: nil))
        XCTAssertEqual(pool.firstBoot.records, [])
    }

    func testAFreedHostIsTakenAgainInTheOrderHandedOut() throws {
        let pool = NodeHostPool()
        pool.handOut(hosts)
        XCTAssertEqual(try pool.boot([("1", "web-1"), ("2", "web-2")], userData: nil), hosts)
        XCTAssertThrowsError(try pool.boot([("3", "web-3")], userData: nil)) { error in
            XCTAssertTrue("\(error)".contains("no test host left"), "\(error)")
        }
        pool.release("1")
        XCTAssertEqual(try pool.boot([("3", "web-3")], userData: nil), [hosts[0]])
        XCTAssertEqual(pool.host(of: "3"), hosts[0])
        XCTAssertEqual(pool.firstBoot.records.map(\.nodeName), ["web-1", "web-2", "web-3"])
    }

    func testReservedHostsCannotBeTakenByAnotherCreate() throws {
        let pool = NodeHostPool()
        pool.handOut(hosts)
        let first = try XCTUnwrap(try pool.reserve(1))
        _ = try pool.reserve(1)
        XCTAssertThrowsError(try pool.reserve(1))
        XCTAssertEqual(try pool.boot([("i-1", "web")], userData: nil, on: first), [hosts[0]])
        XCTAssertEqual(pool.freeCount, 0)
    }

    func testCloudConfig_readsTheHostKeyAndTheUsers() throws {
        let config = try CloudConfig("""
            #cloud-config
            ssh_keys:
              ed25519_private: |
                -----BEGIN OPENSSH PRIVATE KEY-----
                abc
                -----END OPENSSH PRIVATE KEY-----
              ed25519_public: ssh-ed25519 AAAAkey kryoform-host
            users:
              - default
              - name: deploy
                shell: /bin/sh
            """)
        XCTAssertEqual(config.hostKey?.privateKey, "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
        XCTAssertEqual(config.hostKey?.publicKey, "ssh-ed25519 AAAAkey kryoform-host")
        XCTAssertEqual(config.users, ["default", "deploy"])
        XCTAssertTrue(config.hasSSHKeys)
    }

    func testCloudConfig_userDataThatIsNotCloudConfigHasNothing() throws {
        let script = try CloudConfig("#!/bin/sh\necho hi\n")
        XCTAssertNil(script.hostKey)
        XCTAssertFalse(script.hasSSHKeys)
        XCTAssertThrowsError(try CloudConfig("#cloud-config\nssh_keys: [unclosed\n"))
    }
}
