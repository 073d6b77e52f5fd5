import Foundation
import XCTest
@testable import ProviderFakes

/// Parsed once for the whole test run.
private let sharedContract: Result<OpenAPIContract, any Error> = Result {
    try ProviderDescriptions.digitalOcean()
}

private func body(_ json: String) -> Data { Data(json.utf8) }

/// A droplet object with exactly the fields the description marks required.
private let minimalDroplet = """
{"id": 3164444, "name": "web-1", "memory": 1024, "vcpus": 1, "disk": 25, "locked": false,
 "status": "new", "created_at": "2020-07-21T18:37:44Z", "features": [], "backup_ids": [],
 "next_backup_window": null, "snapshot_ids": [], "image": {}, "volume_ids": [],
 "size": {"slug": "s-1vcpu-1gb", "memory": 1024, "vcpus": 1, "disk": 25, "transfer": 1.0,
          "price_monthly": 6, "price_hourly": 0.00893, "regions": ["nyc3"], "available": true,
          "description": "Basic"},
 "size_slug": "s-1vcpu-1gb", "networks": {"v4": [], "v6": []},
 "region": {"name": "New York 3", "slug": "nyc3", "features": [], "available": true, "sizes": []},
 "tags": []}
"""

/// A droplet object as DO returns it when it is active.
private let fullDroplet = """
{"id": 3164445, "name": "web-2", "memory": 1024, "vcpus": 1, "disk": 25,
 "disk_info": [{"type": "local", "size": {"amount": 25, "unit": "gib"}}],
 "locked": false, "status": "active", "kernel": null, "created_at": "2020-07-21T18:37:44Z",
 "features": ["monitoring", "ipv6"], "backup_ids": [], "next_backup_window": {"start": "2020-07-30T00:00:00Z", "end": "2020-07-30T23:00:00Z"},
 "snapshot_ids": [],
 "image": {"id": 63663980, "name": "12 x64", "distribution": "Debian", "slug": "debian-12-x64", "public": true,
           "regions": ["nyc3"], "created_at": "2020-05-15T05:47:50Z", "type": "base", "min_disk_size": 20,
           "size_gigabytes": 2.36, "description": "", "tags": [], "status": "available", "error_message": ""},
 "volume_ids": [],
 "size": {"slug": "s-1vcpu-1gb", "memory": 1024, "vcpus": 1, "disk": 25, "transfer": 1.0,
          "price_monthly": 6, "price_hourly": 0.00893, "regions": ["nyc3"], "available": true,
          "description": "Basic"},
 "size_slug": "s-1vcpu-1gb",
 "networks": {"v4": [{"ip_address": "10.128.192.124", "netmask": "255.255.0.0", "gateway": "nil", "type": "private"},
                     {"ip_address": "192.241.165.154", "netmask": "255.255.255.0", "gateway": "192.241.165.1", "type": "public"}],
              "v6": []},
 "region": {"name": "New York 3", "slug": "nyc3", "features": ["backups"], "available": true, "sizes": ["s-1vcpu-1gb"]},
 "tags": ["kf-env:dev"], "vpc_uuid": "5a4981aa-9653-4bd1-bef5-d6bff52042e4"}
"""

final class OpenAPIContractTests: XCTestCase {
    private var contract: OpenAPIContract!

    override func setUpWithError() throws {
        contract = try sharedContract.get()
    }

    private func request(_ method: String, _ path: String, query: [(name: String, value: String)] = [], _ json: String? = nil) -> [String] {
        contract.checkRequest(method: method, path: path, query: query, body: json.map(body))
    }

    private func response(_ method: String, _ path: String, _ status: Int, _ json: String?) -> [String] {
        contract.checkResponse(method: method, path: path, status: status, body: json.map(body))
    }

    private func assertViolation(_ violations: [String], contains needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(violations.contains { $0.contains(needle) },
                      "expected a violation containing \(needle); got \(violations)", file: file, line: line)
    }

    // MARK: Loading and templates


    func testTemplateMatching() {
        XCTAssertEqual(contract.template(method: "GET", path: "/v2/droplets"), "/v2/droplets")
        XCTAssertEqual(contract.template(method: "GET", path: "/v2/droplets/123"), "/v2/droplets/{droplet_id}")
        XCTAssertEqual(contract.template(method: "get", path: "/v2/droplets/123?x=1"), "/v2/droplets/{droplet_id}")
        XCTAssertEqual(contract.template(method: "POST", path: "/v2/droplets/actions"), "/v2/droplets/actions")
        XCTAssertEqual(contract.template(method: "POST", path: "/v2/droplets/123/actions"), "/v2/droplets/{droplet_id}/actions")
        XCTAssertEqual(contract.template(method: "GET", path: "/v2/actions/42"), "/v2/actions/{action_id}")
        XCTAssertEqual(contract.template(method: "DELETE", path: "/v2/account/keys/ab:cd"), "/v2/account/keys/{ssh_key_identifier}")
        XCTAssertNil(contract.template(method: "POST", path: "/v2/nonexistent"))
        XCTAssertNil(contract.template(method: "PATCH", path: "/v2/droplets"))
    }

    // MARK: Droplet create

    private let multiCreate = """
    {"names":["a","b"],"region":"nyc3","size":"s-1vcpu-1gb","image":"debian-12-x64","tags":["kf-env:dev"],"user_data":"#cloud-config\\n","vpc_uuid":"5a4981aa-9653-4bd1-bef5-d6bff52042e4","ssh_keys":["ab:cd"]}
    """

    func testValidMultiDropletCreatePasses() {
        XCTAssertEqual(request("POST", "/v2/droplets", multiCreate), [])
    }

    func testValidSingleDropletCreatePasses() {
        let json = #"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":12345,"ssh_keys":[512189,"ab:cd"],"monitoring":true,"tags":null}"#
        XCTAssertEqual(request("POST", "/v2/droplets", json), [])
    }

    func testMisspeltKeyFailsNamingTheKey() {
        let json = multiCreate.replacingOccurrences(of: "\"region\"", with: "\"regoin\"")
        let v = request("POST", "/v2/droplets", json)
        XCTAssertFalse(v.isEmpty)
        assertViolation(v, contains: "unknown key 'regoin'")
        assertViolation(v, contains: "POST /v2/droplets body")
    }

    func testMissingSizeFails() {
        let json = multiCreate.replacingOccurrences(of: #""size":"s-1vcpu-1gb","#, with: "")
        let v = request("POST", "/v2/droplets", json)
        assertViolation(v, contains: "missing required 'size'")
    }

    func testNamesAsNumberFails() {
        let json = multiCreate.replacingOccurrences(of: #"["a","b"]"#, with: "3")
        let v = request("POST", "/v2/droplets", json)
        assertViolation(v, contains: "body.names: expected array, found number")
    }

    func testNameElementOfWrongTypeNamesItsIndex() {
        let json = multiCreate.replacingOccurrences(of: #"["a","b"]"#, with: #"["a","b","c",4]"#)
        let v = request("POST", "/v2/droplets", json)
        assertViolation(v, contains: "body.names[3]: expected string, found number")
    }

    func testDropletNamePatternIsChecked() {
        let json = multiCreate.replacingOccurrences(of: #"["a","b"]"#, with: #"["a","bad_name!"]"#)
        assertViolation(request("POST", "/v2/droplets", json), contains: "body.names[1]")
    }

    func testBodyMissingAndInvalidJSON() {
        assertViolation(request("POST", "/v2/droplets", "{not json"), contains: "not valid JSON")
        assertViolation(request("POST", "/v2/volumes", nil), contains: "body: missing")
        assertViolation(request("GET", "/v2/droplets", "{}"), contains: "takes no request body")
        XCTAssertEqual(request("GET", "/v2/droplets", ""), [])
    }

    // MARK: Query and path parameters

    func testListDropletsQuery() {
        XCTAssertEqual(request("GET", "/v2/droplets", query: [("tag_name", "x"), ("per_page", "200"), ("page", "2")]), [])
        assertViolation(request("GET", "/v2/droplets", query: [("bogus", "1")]), contains: "query.bogus")
        assertViolation(request("GET", "/v2/droplets", query: [("per_page", "abc")]), contains: "query.per_page: expected integer")
        assertViolation(request("GET", "/v2/droplets", query: [("per_page", "201")]), contains: "maximum 200")
        assertViolation(request("GET", "/v2/droplets", query: [("type", "vms")]), contains: "query.type")
        XCTAssertEqual(request("GET", "/v2/droplets", query: [("type", "gpus")]), [])
    }

    func testUnknownOperationFails() {
        XCTAssertEqual(request("POST", "/v2/nonexistent", "{}"), ["no operation POST /v2/nonexistent in the description"])
        XCTAssertEqual(request("PATCH", "/v2/droplets"), ["no operation PATCH /v2/droplets in the description"])
    }

    func testIntegerPathParameter() {
        XCTAssertEqual(request("GET", "/v2/droplets/123"), [])
        assertViolation(request("GET", "/v2/droplets/abc"), contains: "path.droplet_id: expected integer, found 'abc'")
        assertViolation(request("GET", "/v2/droplets/0"), contains: "minimum 1")
        // ssh_key_identifier is anyOf integer / string: both forms pass.
        XCTAssertEqual(request("GET", "/v2/account/keys/512189"), [])
        XCTAssertEqual(request("GET", "/v2/account/keys/3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"), [])
    }

    // MARK: Droplet actions

    func testDropletActions() {
        XCTAssertEqual(request("POST", "/v2/droplets/123/actions", #"{"type":"resize","size":"s-2vcpu-2gb","disk":false}"#), [])
        XCTAssertEqual(request("POST", "/v2/droplets/123/actions", #"{"type":"power_off"}"#), [])
        XCTAssertEqual(request("POST", "/v2/droplets/123/actions", #"{"type":"snapshot","name":"snap-1"}"#), [])
        let v = request("POST", "/v2/droplets/123/actions", #"{"type":"explode"}"#)
        assertViolation(v, contains: "\"explode\" is not one of")
        assertViolation(request("POST", "/v2/droplets/123/actions", #"{"type":"resize","sise":"s-2vcpu-2gb"}"#),
                        contains: "unknown key 'sise'")
        assertViolation(request("POST", "/v2/droplets/abc/actions", #"{"type":"reboot"}"#), contains: "path.droplet_id")
    }

    // MARK: Volumes, firewalls, keys, tags, VPCs

    func testVolumeCreate() {
        XCTAssertEqual(request("POST", "/v2/volumes", #"{"size_gigabytes":10,"name":"vol-1","region":"nyc3","tags":["a"]}"#), [])
        assertViolation(request("POST", "/v2/volumes", #"{"size_gigabytes":10,"name":"vol-1"}"#), contains: "missing required 'region'")
        assertViolation(request("POST", "/v2/volumes", #"{"size_gigabytes":"10","name":"vol-1","region":"nyc3"}"#),
                        contains: "body.size_gigabytes: expected integer, found string")
    }

    func testFirewallCreate() {
        let json = """
        {"name":"kf-fw","tags":["kf-env:dev"],
         "inbound_rules":[{"protocol":"tcp","ports":"22","sources":{"addresses":["0.0.0.0/0","::/0"]}},
                          {"protocol":"tcp","ports":"443","sources":{"tags":["kf-env:dev"]}}],
         "outbound_rules":[{"protocol":"tcp","ports":"all","destinations":{"addresses":["0.0.0.0/0"]}}]}
        """
        XCTAssertEqual(request("POST", "/v2/firewalls", json), [])
        let noRules = #"{"name":"kf-fw","tags":["kf-env:dev"]}"#
        assertViolation(request("POST", "/v2/firewalls", noRules), contains: "matches no anyOf branch")
        let typo = json.replacingOccurrences(of: "\"sources\":{\"tags\"", with: "\"source\":{\"tags\"")
        let v = request("POST", "/v2/firewalls", typo)
        assertViolation(v, contains: "missing required 'sources'")
        assertViolation(v, contains: "unknown key 'source'")
    }

    func testSSHKeyTagAndVPCCreate() {
        XCTAssertEqual(request("POST", "/v2/account/keys", #"{"name":"kf","public_key":"ssh-ed25519 AAAA kf"}"#), [])
        assertViolation(request("POST", "/v2/account/keys", #"{"name":"kf"}"#), contains: "missing required 'public_key'")
        XCTAssertEqual(request("POST", "/v2/tags", #"{"name":"kf-env:dev"}"#), [])
        XCTAssertEqual(request("POST", "/v2/vpcs", #"{"name":"kf-vpc","region":"nyc3","ip_range":"10.10.10.0/24"}"#), [])
    }

    // MARK: Booleans versus numbers

    func testJSONBooleanIsNotANumber() throws {
        let parsed = try JSONValue.parse(body("[true, false, 1, 0, 1.0, 1.5, null, \"1\"]"))
        XCTAssertEqual(parsed, .array([.bool(true), .bool(false), .number(1), .number(0), .number(1), .number(1.5), .null, .string("1")]))
        // A boolean where a boolean is expected passes; a number does not, and vice versa.
        XCTAssertEqual(request("POST", "/v2/droplets/1/actions", #"{"type":"resize","size":"s-2vcpu-2gb","disk":true}"#), [])
        assertViolation(request("POST", "/v2/droplets/1/actions", #"{"type":"resize","size":"s-2vcpu-2gb","disk":1}"#),
                        contains: "expected boolean, found number")
        assertViolation(request("POST", "/v2/volumes", #"{"size_gigabytes":true,"name":"vol-1","region":"nyc3"}"#),
                        contains: "body.size_gigabytes: expected integer, found boolean")
        assertViolation(request("POST", "/v2/volumes", #"{"size_gigabytes":1,"name":"vol-1","region":"nyc3","tags":[0]}"#),
                        contains: "body.tags[0]: expected string, found number")
        // Integers: no fractional part.
        assertViolation(request("POST", "/v2/volumes", #"{"size_gigabytes":10.5,"name":"vol-1","region":"nyc3"}"#),
                        contains: "expected integer, found number")
        XCTAssertEqual(request("POST", "/v2/volumes", #"{"size_gigabytes":10.0,"name":"vol-1","region":"nyc3"}"#), [])
    }

    // MARK: Responses

    func testMinimalResponseLackingDropletFieldsFails() {
        let v = response("GET", "/v2/droplets/1", 200, #"{"droplet":{"id":1,"name":"web-1"}}"#)
        assertViolation(v, contains: "body.droplet: missing required 'memory'")
        assertViolation(v, contains: "missing required 'networks'")
    }

    func testSizesListResponse() {
        let sizes = """
        {"sizes":[{"slug":"s-1vcpu-1gb","memory":1024,"vcpus":1,"disk":25,"transfer":1.0,"price_monthly":6.0,
                   "price_hourly":0.00893,"regions":["nyc3","ams3"],"available":true,"description":"Basic",
                   "disk_info":[{"type":"local","size":{"amount":25,"unit":"gib"}}]}],
         "links":{"pages":{"next":"https://api.digitalocean.com/v2/sizes?page=2","last":"https://api.digitalocean.com/v2/sizes?page=2"}},
         "meta":{"total":2}}
        """
        XCTAssertEqual(response("GET", "/v2/sizes", 200, sizes), [])
        XCTAssertEqual(response("GET", "/v2/sizes", 200, #"{"sizes":[],"links":{},"meta":{"total":0}}"#), [])
        assertViolation(response("GET", "/v2/sizes", 200, #"{"sizes":[],"links":{}}"#), contains: "missing required 'meta'")
        assertViolation(response("GET", "/v2/sizes", 200, #"{"sizes":[],"links":{},"meta":{"total":0},"extra":1}"#),
                        contains: "body: unknown key 'extra'")
        assertViolation(response("GET", "/v2/sizes", 200, #"{"sizes":[],"links":{"pages":{"nxt":"x"}},"meta":{"total":0}}"#),
                        contains: "body.links.pages: unknown key 'nxt'")
        let allPages = #"{"sizes":[],"links":{"pages":{"first":"a","prev":"b","next":"c","last":"d"}},"meta":{"total":0}}"#
        XCTAssertEqual(response("GET", "/v2/sizes", 200, allPages), [])
        let boolMemory = sizes.replacingOccurrences(of: "\"memory\":1024", with: "\"memory\":true")
        assertViolation(response("GET", "/v2/sizes", 200, boolMemory), contains: "body.sizes[0].memory: expected integer, found boolean")
    }

    func testDropletResponses() {
        XCTAssertEqual(response("GET", "/v2/droplets/1", 200, "{\"droplet\":\(minimalDroplet)}"), [])
        XCTAssertEqual(response("GET", "/v2/droplets/1", 200, "{\"droplet\":\(fullDroplet)}"), [])
        let list = "{\"droplets\":[\(minimalDroplet),\(fullDroplet)],\"links\":{},\"meta\":{\"total\":2}}"
        XCTAssertEqual(response("GET", "/v2/droplets", 200, list), [])
        let single = "{\"droplet\":\(minimalDroplet),\"links\":{\"actions\":[{\"id\":7515,\"rel\":\"create\",\"href\":\"https://api.digitalocean.com/v2/actions/7515\"}]}}"
        XCTAssertEqual(response("POST", "/v2/droplets", 202, single), [])
        let multi = "{\"droplets\":[\(minimalDroplet)],\"links\":{\"actions\":[{\"id\":7515,\"rel\":\"multiple_create\",\"href\":\"https://api.digitalocean.com/v2/actions/7515\"}]}}"
        XCTAssertEqual(response("POST", "/v2/droplets", 202, multi), [])
        let invented = fullDroplet.replacingOccurrences(of: "\"vcpus\": 1, \"disk\": 25,\n \"disk_info\"", with: "\"vcpus\": 1, \"disk\": 25, \"ipv4\": \"1.2.3.4\",\n \"disk_info\"")
        XCTAssertNotEqual(invented, fullDroplet)
        assertViolation(response("GET", "/v2/droplets/1", 200, "{\"droplet\":\(invented)}"), contains: "body.droplet: unknown key 'ipv4'")
        let badStatus = minimalDroplet.replacingOccurrences(of: "\"status\": \"new\"", with: "\"status\": \"running\"")
        assertViolation(response("GET", "/v2/droplets/1", 200, "{\"droplet\":\(badStatus)}"), contains: "body.droplet.status")
    }

    func testEmptyAndDefaultResponses() {
        XCTAssertEqual(response("DELETE", "/v2/droplets/1", 204, nil), [])
        XCTAssertEqual(response("DELETE", "/v2/droplets/1", 204, ""), [])
        assertViolation(response("DELETE", "/v2/droplets/1", 204, "{}"), contains: "no content for this status")
        let error = #"{"id":"not_found","message":"The resource you were accessing could not be found."}"#
        XCTAssertEqual(response("GET", "/v2/droplets/1", 404, error), [])
        XCTAssertEqual(response("GET", "/v2/droplets/1", 418, error), []) // falls back to "default"
        assertViolation(response("GET", "/v2/droplets/1", 404, #"{"message":"x"}"#), contains: "missing required 'id'")
        assertViolation(response("GET", "/v2/droplets/1", 200, nil), contains: "body: missing")
    }

    func testActionResponse() {
        let action = """
        {"action":{"id":36804636,"status":"completed","type":"create","started_at":"2020-11-14T16:29:21Z",
                   "completed_at":"2020-11-14T16:30:06Z","resource_id":3164444,"resource_type":"droplet",
                   "region":{"name":"New York 3","slug":"nyc3","features":[],"available":true,"sizes":[]},"region_slug":"nyc3"}}
        """
        XCTAssertEqual(response("GET", "/v2/actions/36804636", 200, action), [])
    }

    // MARK: More adapter-shaped requests

    func testOtherAdapterRequests() {
        XCTAssertEqual(request("DELETE", "/v2/droplets", query: [("tag_name", "kf-env:dev")]), [])
        assertViolation(request("DELETE", "/v2/droplets"), contains: "missing required parameter 'tag_name'")
        XCTAssertEqual(request("POST", "/v2/volumes/7724db7c-e098-11e5-b522-000f53304e51/actions",
                               #"{"type":"attach","droplet_id":11612190,"region":"nyc3"}"#), [])
        assertViolation(request("POST", "/v2/volumes/7724db7c/actions", #"{"type":"attach","droplet_id":"11612190"}"#),
                        contains: "droplet_id")
        XCTAssertEqual(request("POST", "/v2/tags/kf-env:dev/resources",
                               #"{"resources":[{"resource_id":"9569411","resource_type":"droplet"}]}"#), [])
        XCTAssertEqual(request("GET", "/v2/volumes", query: [("name", "vol-1"), ("region", "nyc3")]), [])
        XCTAssertEqual(request("GET", "/v2/actions/36804636"), [])
        XCTAssertEqual(request("DELETE", "/v2/firewalls/bb4b2611-3d72-467b-8602-280330ecd65c"), [])
        assertViolation(request("POST", "/v2/vpcs", #"{"name":"kf_vpc","region":"nyc3"}"#), contains: "body.name")
    }

    func testConcurrentUse() {
        let c = contract!
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let v = c.checkRequest(method: "POST", path: "/v2/droplets", query: [],
                                   body: Data(#"{"name":"web-\#(i)","size":"s-1vcpu-1gb","image":"debian-12-x64"}"#.utf8))
            XCTAssertEqual(v, [])
        }
    }

    // MARK: Speed

}

/// Checks DO's own request/response examples against the description.
final class SyntheticDocumentTests: XCTestCase {
    private func contract(_ json: String) throws -> OpenAPIContract {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try OpenAPIContract(contentsOf: url)
    }

    private let document = """
    {"openapi":"3.0.0","info":{"title":"t","version":"1"},
     "paths":{
       "/v1/things":{
         "parameters":[{"in":"query","name":"flag","schema":{"type":"boolean"}}],
         "post":{"requestBody":{"$ref":"#/components/requestBodies/thing"},
                 "responses":{"201":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/thing"}}}},
                              "204":{"description":"none"}}}},
       "/v1/things/{id}":{"get":{"parameters":[{"$ref":"#/components/parameters/id"}],
                 "responses":{"2XX":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/thing"}}}}}}},
       "/v1/things/special":{"get":{"responses":{"200":{"description":"ok"}}}}
     },
     "components":{
       "parameters":{"id":{"in":"path","name":"id","required":true,"schema":{"type":"integer"}}},
       "requestBodies":{"thing":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/thing"}}}}},
       "schemas":{
         "thing":{"type":"object","required":["id","name"],
                  "properties":{"id":{"type":"integer","readOnly":true},"name":{"type":"string","minLength":2,"maxLength":4},
                                "labels":{"type":"object","additionalProperties":{"type":"string"}},
                                "meta":{"type":"object"},
                                "closed":{"type":"object","properties":{"a":{"type":"number","minimum":0,"exclusiveMinimum":true}},"additionalProperties":false},
                                "child":{"$ref":"#/components/schemas/thing"},
                                "tags":{"type":"array","items":{"type":"string","enum":["x","y"]},"minItems":1,"maxItems":2}}}
       }
     }}
    """

    func testRefsReadOnlyAndAdditionalProperties() throws {
        let c = try contract(document)
        func req(_ body: String, _ query: [(name: String, value: String)] = []) -> [String] {
            c.checkRequest(method: "POST", path: "/v1/things", query: query, body: Data(body.utf8))
        }
        // readOnly 'id' is not required in a request but is in a response.
        XCTAssertEqual(req(#"{"name":"abc"}"#), [])
        XCTAssertEqual(req(#"{"name":"abc"}"#, [("flag", "true")]), [])
        XCTAssertFalse(req(#"{"name":"abc"}"#, [("flag", "1")]).isEmpty)
        XCTAssertTrue(c.checkResponse(method: "POST", path: "/v1/things", status: 201, body: Data(#"{"name":"abc"}"#.utf8))
            .contains { $0.contains("missing required 'id'") })
        XCTAssertEqual(c.checkResponse(method: "POST", path: "/v1/things", status: 201, body: Data(#"{"id":1,"name":"abc"}"#.utf8)), [])
        // additionalProperties schema, free-form object, closed object.
        XCTAssertEqual(req(#"{"name":"abc","labels":{"k":"v"},"meta":{"anything":[1,{"x":null}]}}"#), [])
        XCTAssertTrue(req(#"{"name":"abc","labels":{"k":1}}"#).contains { $0.contains("body.labels.k: expected string, found number") })
        XCTAssertTrue(req(#"{"name":"abc","closed":{"b":1}}"#).contains { $0.contains("body.closed: unknown key 'b'") })
        XCTAssertTrue(req(#"{"name":"abc","closed":{"a":0}}"#).contains { $0.contains("exclusive minimum") })
        // Recursive $ref, lengths, array bounds, enums.
        XCTAssertEqual(req(#"{"name":"abc","child":{"name":"de","child":{"name":"fg"}}}"#), [])
        XCTAssertTrue(req(#"{"name":"abc","child":{"name":"d"}}"#).contains { $0.contains("body.child.name: string length 1 is below minLength 2") })
        XCTAssertTrue(req(#"{"name":"abcde"}"#).contains { $0.contains("exceeds maxLength 4") })
        XCTAssertTrue(req(#"{"name":"abc","tags":[]}"#).contains { $0.contains("fewer than minItems 1") })
        XCTAssertTrue(req(#"{"name":"abc","tags":["x","y","x"]}"#).contains { $0.contains("more than maxItems 2") })
        XCTAssertTrue(req(#"{"name":"abc","tags":["z"]}"#).contains { $0.contains("body.tags[0]: \"z\" is not one of [\"x\", \"y\"]") })
        XCTAssertTrue(req(#"{"name":null}"#).contains { $0.contains("body.name: expected string, found null") })
        XCTAssertTrue(req("[1]").contains { $0.contains("body: expected object, found array") })
        // Required body, path parameter through $ref, literal segment preferred, 2XX range, empty-body statuses.
        XCTAssertTrue(c.checkRequest(method: "POST", path: "/v1/things", query: [], body: nil).contains { $0.contains("body: missing") })
        XCTAssertEqual(c.template(method: "GET", path: "/v1/things/special"), "/v1/things/special")
        XCTAssertEqual(c.template(method: "GET", path: "/v1/things/7"), "/v1/things/{id}")
        XCTAssertTrue(c.checkRequest(method: "GET", path: "/v1/things/x", query: [], body: nil).contains { $0.contains("path.id: expected integer") })
        XCTAssertEqual(c.checkResponse(method: "GET", path: "/v1/things/7", status: 203, body: Data(#"{"id":7,"name":"ab"}"#.utf8)), [])
        XCTAssertEqual(c.checkResponse(method: "POST", path: "/v1/things", status: 204, body: nil), [])
        XCTAssertTrue(c.checkResponse(method: "POST", path: "/v1/things", status: 500, body: nil).contains { $0.contains("not described") })
    }
}
