import Foundation
import ProviderFakes
import TestSupport
import XCTest
@testable import Providers

/// The fake DigitalOcean and the fake Vultr handing out real test hosts: each new node takes a
/// host as its address, its user data's host key is installed there (the real `ssh-keyscan`
/// sees it), and deleting the node frees the host. The requests go over the fakes' HTTP APIs.
final class NodeHostHandoutTests: XCTestCase {
    // MARK: DigitalOcean

    func testDigitalOcean_dropletTakesATestHostAndPresentsItsHostKey() async throws {
        let hosts = try NodeHostSupport.up()
        defer { hosts.down() }
        let fake = try await FakeDigitalOcean.start(contract: try ProviderDescriptions.digitalOcean())
        await fake.handOut(NodeHostSupport.fakeHosts(hosts))
        let api = Self.api(await fake.baseURL, token: await fake.token)
        let key = try NodeHostSupport.newHostKey()

        let first = try await api.send(Self.createDroplet("web-1", userData: NodeHostSupport.userData(hostKey: key)))
        XCTAssertEqual(first.status, 202, String(decoding: first.body, as: UTF8.self))
        let droplet = try XCTUnwrap(Self.json(first)["droplet"] as? [String: Any])
        XCTAssertEqual(Self.addresses(droplet), ["private": hosts.hosts[0].address, "public": hosts.hosts[0].address])
        XCTAssertEqual(try NodeHostSupport.presentedKey(hosts.hosts[0].address, expecting: NodeHostSupport.keyFields(key.publicKey)),
                       NodeHostSupport.keyFields(key.publicKey))
        XCTAssertEqual(hosts.hosts.map(\.user), ["kfbuser", "kfbuser"])
        let login = try NodeHostSupport.login(hosts, hosts.hosts[0].address, trusting: NodeHostSupport.keyFields(key.publicKey))
        XCTAssertEqual(login.status, 0, login.stderr)
        let read = try await api.send(HTTPRequest(method: "GET", path: "/v2/droplets/\(droplet["id"] as? Int ?? 0)"))
        XCTAssertEqual(Self.addresses(try XCTUnwrap(Self.json(read)["droplet"] as? [String: Any]))["public"], hosts.hosts[0].address)

        let second = try await api.send(Self.createDroplet("web-2", userData: NodeHostSupport.userData(hostKey: key)))
        XCTAssertEqual(Self.addresses(try XCTUnwrap(Self.json(second)["droplet"] as? [String: Any]))["public"], hosts.hosts[1].address)
        let third = try await api.send(Self.createDroplet("web-3", userData: NodeHostSupport.userData(hostKey: key)))
        XCTAssertEqual(third.status, 422)
        XCTAssertTrue((Self.json(third)["message"] as? String ?? "").contains("no test host left"), "\(Self.json(third))")

        let deleted = try await api.send(HTTPRequest(method: "DELETE", path: "/v2/droplets/\(droplet["id"] as? Int ?? 0)"))
        XCTAssertEqual(deleted.status, 204)
        let again = try await api.send(Self.createDroplet("web-3", userData: NodeHostSupport.userData(hostKey: key)))
        XCTAssertEqual(Self.addresses(try XCTUnwrap(Self.json(again)["droplet"] as? [String: Any]))["public"], hosts.hosts[0].address)

        let records = await fake.bootRecords()
        XCTAssertEqual(records.map(\.nodeName), ["web-1", "web-2", "web-3"])
        XCTAssertEqual(records.map(\.address), [hosts.hosts[0].address, hosts.hosts[1].address, hosts.hosts[0].address])
        XCTAssertEqual(records.first?.users, ["default", "deploy"])
        XCTAssertEqual(records.first?.hadSSHKeys, true)
        XCTAssertEqual(records.first?.installedHostKey.map(NodeHostSupport.keyFields), NodeHostSupport.keyFields(key.publicKey))
        let violations = await fake.violations
        XCTAssertEqual(violations, [])
        await fake.stop()
    }

    func testDigitalOcean_skipHostKeyLeavesTheHostsOwnKey() async throws {
        let hosts = try NodeHostSupport.up()
        defer { hosts.down() }
        let fake = try await FakeDigitalOcean.start(contract: try ProviderDescriptions.digitalOcean())
        await fake.handOut(NodeHostSupport.fakeHosts(hosts))
        await fake.skipHostKey(forNodeNamed: "web-1")
        let own = try NodeHostSupport.ownKey(hosts.hosts[0])
        let key = try NodeHostSupport.newHostKey()

        let created = try await Self.api(await fake.baseURL, token: await fake.token).send(Self.createDroplet("web-1", userData: NodeHostSupport.userData(hostKey: key)))
        XCTAssertEqual(created.status, 202)
        XCTAssertEqual(try NodeHostSupport.presentedKey(hosts.hosts[0].address, expecting: own), own)
        XCTAssertNotEqual(own, NodeHostSupport.keyFields(key.publicKey))
        // A client trusting only the key of the user data refuses the host.
        let login = try NodeHostSupport.login(hosts, hosts.hosts[0].address, trusting: NodeHostSupport.keyFields(key.publicKey))
        XCTAssertNotEqual(login.status, 0)
        XCTAssertTrue(login.stderr.contains("Host key verification failed"), login.stderr)
        let record = await fake.bootRecords().first
        XCTAssertEqual(record?.hadSSHKeys, true)
        XCTAssertNil(record?.installedHostKey)
        await fake.stop()
    }

    // MARK: Vultr

    func testVultr_instanceTakesATestHostAndPresentsItsHostKey() async throws {
        let hosts = try NodeHostSupport.up()
        defer { hosts.down() }
        let fake = try await FakeVultr.start()
        await fake.handOut(NodeHostSupport.fakeHosts(hosts))
        let api = Self.api(await fake.baseURL, token: await fake.apiKey)
        let key = try NodeHostSupport.newHostKey()
        let userData = Data(NodeHostSupport.userData(hostKey: key).utf8).base64EncodedString()

        let first = try await api.send(Self.createInstance("web-1", userData: userData))
        XCTAssertEqual(first.status, 202, String(decoding: first.body, as: UTF8.self))
        let instance = try XCTUnwrap(Self.json(first)["instance"] as? [String: Any])
        XCTAssertEqual(instance["main_ip"] as? String, hosts.hosts[0].address)
        XCTAssertEqual(instance["internal_ip"] as? String, hosts.hosts[0].address)
        XCTAssertEqual(try NodeHostSupport.presentedKey(hosts.hosts[0].address, expecting: NodeHostSupport.keyFields(key.publicKey)),
                       NodeHostSupport.keyFields(key.publicKey))
        let id = instance["id"] as? String ?? ""
        let read = try await api.send(HTTPRequest(method: "GET", path: "/v2/instances/\(id)"))
        XCTAssertEqual((Self.json(read)["instance"] as? [String: Any])?["main_ip"] as? String, hosts.hosts[0].address)

        let second = try await api.send(Self.createInstance("web-2", userData: userData))
        XCTAssertEqual((Self.json(second)["instance"] as? [String: Any])?["main_ip"] as? String, hosts.hosts[1].address)
        let third = try await api.send(Self.createInstance("web-3", userData: userData))
        XCTAssertEqual(third.status, 400)
        XCTAssertTrue((Self.json(third)["error"] as? String ?? "").contains("no test host left"), "\(Self.json(third))")

        let deleted = try await api.send(HTTPRequest(method: "DELETE", path: "/v2/instances/\(id)"))
        XCTAssertEqual(deleted.status, 204)
        let again = try await api.send(Self.createInstance("web-3", userData: userData))
        XCTAssertEqual((Self.json(again)["instance"] as? [String: Any])?["main_ip"] as? String, hosts.hosts[0].address)

        let records = await fake.bootRecords()
        XCTAssertEqual(records.map(\.nodeName), ["web-1", "web-2", "web-3"])
        XCTAssertEqual(records.first?.users, ["default", "deploy"])
        XCTAssertEqual(records.first?.installedHostKey.map(NodeHostSupport.keyFields), NodeHostSupport.keyFields(key.publicKey))
        let violations = await fake.violations
        XCTAssertEqual(violations, [])
        await fake.stop()
    }

    func testWithoutHandOut_nodesKeepTheFakesOwnAddresses() async throws {
        let fake = try await FakeVultr.start()
        let created = try await Self.api(await fake.baseURL, token: await fake.apiKey).send(Self.createInstance("web-1", userData: nil))
        XCTAssertEqual((Self.json(created)["instance"] as? [String: Any])?["main_ip"] as? String, "192.0.2.3")
        let records = await fake.bootRecords()
        XCTAssertEqual(records, [])
        await fake.stop()
    }

    // MARK: Requests

    static func api(_ baseURL: URL, token: String) -> HTTPTransport {
        AuthenticatingTransport(AsyncHTTPTransport(baseURL: baseURL, timeout: 30), bearerToken: token)
    }

    static func createDroplet(_ name: String, userData: String) -> HTTPRequest {
        post("/v2/droplets", ["name": name, "region": "nyc3", "size": "s-2vcpu-4gb", "image": "debian-12-x64", "user_data": userData])
    }

    static func createInstance(_ label: String, userData: String?) -> HTTPRequest {
        var body: [String: Any] = ["region": "ewr", "plan": "vc2-2c-4gb", "os_id": 2136, "label": label]
        body["user_data"] = userData
        return post("/v2/instances", body)
    }

    static func post(_ path: String, _ body: [String: Any]) -> HTTPRequest {
        HTTPRequest(method: "POST", path: path, headers: [("Content-Type", "application/json")],
                    body: try? JSONSerialization.data(withJSONObject: body))
    }

    static func json(_ response: HTTPResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
    }

    /// A droplet's IPv4 addresses by type (`public`, `private`).
    static func addresses(_ droplet: [String: Any]) -> [String: String] {
        let v4 = (droplet["networks"] as? [String: Any])?["v4"] as? [[String: Any]] ?? []
        return Dictionary(v4.map { ($0["type"] as? String ?? "", $0["ip_address"] as? String ?? "") }, uniquingKeysWith: { first, _ in first })
    }
}
