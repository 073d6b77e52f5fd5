import Foundation
import Planner
import Synchronization
import XCTest
@testable import Providers

/// The EC2 Query layer without a server: how requests are flattened and encoded, how real-shaped
/// XML answers and error envelopes decode, which refusals count as throttling.
final class EC2QueryTests: XCTestCase {
    func testListsFlattenOneBasedAndTheBodyIsPercentEncoded() {
        var query = EC2Query("RunInstances", idempotent: true)
        query["ImageId"] = "ami-0abc"
        query["MinCount"] = "1"
        query.list("SecurityGroupId", ["sg-1", "sg-2"])
        query.filter("tag:kf-env", ["dev"])
        query.filter("instance-state-name", ["pending", "running"])
        query.tagSpecification("instance", [EC2Tag(kryoform: "kf-addr:node:main:1"), EC2Tag(key: "Name", value: "acme dev/1")])
        query.tagSpecification("volume", [EC2Tag(key: "kf-env", value: "dev")])
        let body = String(decoding: query.body, as: UTF8.self)
        XCTAssertEqual(body.split(separator: "&").map(String.init), [
            "Action=RunInstances", "Version=2016-11-15", "ImageId=ami-0abc", "MinCount=1",
            "SecurityGroupId.1=sg-1", "SecurityGroupId.2=sg-2",
            "Filter.1.Name=tag%3Akf-env", "Filter.1.Value.1=dev",
            "Filter.2.Name=instance-state-name", "Filter.2.Value.1=pending", "Filter.2.Value.2=running",
            "TagSpecification.1.ResourceType=instance",
            "TagSpecification.1.Tag.1.Key=kf-addr", "TagSpecification.1.Tag.1.Value=node%3Amain%3A1",
            "TagSpecification.1.Tag.2.Key=Name", "TagSpecification.1.Tag.2.Value=acme%20dev%2F1",
            "TagSpecification.2.ResourceType=volume", "TagSpecification.2.Tag.1.Key=kf-env", "TagSpecification.2.Tag.1.Value=dev",
        ])
        XCTAssertEqual(EC2Query.decode(query.body)["TagSpecification.1.Tag.2.Value"], "acme dev/1")
    }

    func testEncodingKeepsOnlyUnreservedCharacters() {
        XCTAssertEqual(EC2Query.encode("a-b_c.d~e"), "a-b_c.d~e")
        XCTAssertEqual(EC2Query.encode("x y+z=1&é*"), "x%20y%2Bz%3D1%26%C3%A9%2A")
        var query = EC2Query("ImportKeyPair")
        query["PublicKeyMaterial"] = Data("ssh-ed25519 AAAA kryoform".utf8).base64EncodedString()
        XCTAssertTrue(String(decoding: query.body, as: UTF8.self).contains("PublicKeyMaterial=c3NoLWVkMjU1MTkgQUFBQSBrcnlvZm9ybQ%3D%3D"))
    }

    func testSecurityGroupRulesFlattenWithDescriptions() {
        var query = EC2Query("AuthorizeSecurityGroupIngress")
        query.permissions(EC2Firewall.permissions(inbound: "tcp 22 from 203.0.113.0/24; tcp 80,443 from 0.0.0.0/0,::/0", internalRange: "10.20.0.0/16"))
        let form = EC2Query.decode(query.body)
        XCTAssertEqual(form["IpPermissions.1.IpProtocol"], "tcp")
        XCTAssertEqual(form["IpPermissions.1.FromPort"], "22")
        XCTAssertEqual(form["IpPermissions.1.IpRanges.1.CidrIp"], "203.0.113.0/24")
        XCTAssertEqual(form["IpPermissions.1.IpRanges.1.Description"], "kryoform c0.p0.s0")
        XCTAssertEqual(form["IpPermissions.3.Ipv6Ranges.1.CidrIpv6"], "::/0")
        XCTAssertEqual(form["IpPermissions.6.IpProtocol"], "-1")
        XCTAssertNil(form["IpPermissions.6.FromPort"])
        XCTAssertEqual(form["IpPermissions.6.IpRanges.1.Description"], "kryoform internal")
    }

    func testFirewallTextReadsBackInTheSpecsOrderWhateverOrderEC2Keeps() {
        let inbound = "tcp 22 from 203.0.113.0/24; tcp 80,443 from 0.0.0.0/0,::/0; udp 51820 from 0.0.0.0/0"
        let rules = EC2Firewall.permissions(inbound: inbound, internalRange: "10.20.0.0/16")
        let attributes = EC2Firewall.attributes(rules.reversed()) { "all from " + $0 }
        XCTAssertEqual(attributes, ["inbound": inbound, "internal": "all from 10.20.0.0/16"])
        // A rule added by hand shows as a clause of its own; one removed by hand marks its clause.
        var drifted = rules.filter { $0.description != "kryoform c1.p0.s1" }
        drifted.append(EC2Permission(proto: "tcp", fromPort: 3306, toPort: 3306, cidr: "0.0.0.0/0", description: nil))
        let read = EC2Firewall.attributes(drifted) { "all from " + $0 }["inbound"] ?? ""
        XCTAssertNotEqual(read, inbound)
        XCTAssertTrue(read.contains("tcp 3306 from 0.0.0.0/0") && read.contains("(incomplete)"), read)
    }

    static let describeInstances = """
    <?xml version="1.0" encoding="UTF-8"?>
    <DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
        <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
        <reservationSet>
            <item>
                <reservationId>r-1234567890abcdef0</reservationId>
                <ownerId>123456789012</ownerId>
                <groupSet/>
                <instancesSet>
                    <item>
                        <instanceId>i-1234567890abcdef0</instanceId>
                        <imageId>ami-0abcdef1234567890</imageId>
                        <instanceState><code>16</code><name>running</name></instanceState>
                        <instanceType>c6i.4xlarge</instanceType>
                        <placement><availabilityZone>sa-east-1a</availabilityZone><tenancy>default</tenancy></placement>
                        <subnetId>subnet-0a</subnetId>
                        <vpcId>vpc-0b</vpcId>
                        <privateIpAddress>10.10.1.5</privateIpAddress>
                        <ipAddress>54.1.2.3</ipAddress>
                        <rootDeviceName>/dev/xvda</rootDeviceName>
                        <blockDeviceMapping>
                            <item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-root</volumeId><status>attached</status></ebs></item>
                            <item><deviceName>/dev/sdf</deviceName><ebs><volumeId>vol-data</volumeId><status>attached</status></ebs></item>
                        </blockDeviceMapping>
                        <tagSet>
                            <item><key>kf-addr</key><value>node:main:1</value></item>
                            <item><key>Name</key><value>kryonix-dev-main-1</value></item>
                        </tagSet>
                    </item>
                </instancesSet>
            </item>
        </reservationSet>
        <nextToken>eyJ2IjoiMiJ9</nextToken>
    </DescribeInstancesResponse>
    """

    func testDescribeInstancesDecodesWithEitherNamespaceSpelling() throws {
        for text in [Self.describeInstances, Self.describeInstances.replacingOccurrences(of: "2016-11-15/\"", with: "2016-11-15\"")] {
            let answer = try EC2.decode(EC2.DescribeInstancesResponse.self, from: Data(text.utf8))
            XCTAssertEqual(answer.nextToken, "eyJ2IjoiMiJ9")
            let instance = try XCTUnwrap(answer.instances.first)
            XCTAssertEqual(answer.instances.count, 1)
            XCTAssertEqual(instance.instanceId, "i-1234567890abcdef0")
            XCTAssertEqual(instance.state, "running")
            XCTAssertEqual(instance.instanceType, "c6i.4xlarge")
            XCTAssertEqual(instance.rootVolumeID, "vol-root")
            XCTAssertEqual(instance.placement?.availabilityZone, "sa-east-1a")
            XCTAssertEqual(EC2Naming.address(instance.tags), .node(cluster: "main", index: 1))
        }
    }

    func testEmptySetsDecodeAsEmptyLists() throws {
        let text = """
        <DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><reservationSet/></DescribeInstancesResponse>
        """
        let answer = try EC2.decode(EC2.DescribeInstancesResponse.self, from: Data(text.utf8))
        XCTAssertEqual(answer.instances.count, 0)
        XCTAssertNil(answer.nextToken)
    }

    func testInstanceTypesJoinThePriceTable() throws {
        let text = """
        <DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><instanceTypeSet>
        <item><instanceType>g5.xlarge</instanceType><vCpuInfo><defaultVCpus>4</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>16384</sizeInMiB></memoryInfo>
        <gpuInfo><gpus><item><name>A10G</name><manufacturer>NVIDIA</manufacturer><count>1</count><memoryInfo><sizeInMiB>22888</sizeInMiB></memoryInfo></item></gpus><totalGpuMemoryInMiB>22888</totalGpuMemoryInMiB></gpuInfo></item>
        <item><instanceType>c6i.4xlarge</instanceType><vCpuInfo><defaultVCpus>16</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>32768</sizeInMiB></memoryInfo></item>
        <item><instanceType>x2iedn.xlarge</instanceType><vCpuInfo><defaultVCpus>4</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>131072</sizeInMiB></memoryInfo></item>
        </instanceTypeSet></DescribeInstanceTypesResponse>
        """
        let types = try EC2.decode(EC2.DescribeInstanceTypesResponse.self, from: Data(text.utf8)).instanceTypeSet?.items ?? []
        let catalog = EC2Provider.catalog(types: types, region: "us-east-1")
        XCTAssertEqual(catalog.sizes.map(\.slug), ["c6i.4xlarge", "g5.xlarge"], "a type with no price is left out")
        XCTAssertEqual(catalog.size("c6i.4xlarge")?.monthlyPrice, 496.4)
        XCTAssertEqual(catalog.size("g5.xlarge")?.gpu, 1)
        XCTAssertEqual(catalog.size("g5.xlarge")?.gpuModel, "NVIDIA A10G 22 GiB")
        XCTAssertEqual(catalog.nodeDiskPricePerGiB, 0.08)
        XCTAssertEqual(catalog.nodePrice(try XCTUnwrap(catalog.size("c6i.4xlarge")), diskGiB: 200), 496.4 + 16, accuracy: 0.001)
        XCTAssertEqual(EC2Provider.catalog(types: types, region: "sa-east-1").nodeDiskPricePerGiB, 0.152)
    }

    func testTheErrorEnvelopeBecomesATypedErrorWithOrWithoutNamespace() throws {
        let plain = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1' does not exist</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>"
        let spaced = plain.replacingOccurrences(of: "<Response>", with: "<Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15\">")
        for text in [plain, spaced] {
            let refusal = try XCTUnwrap(EC2Refusal.parse(Data(text.utf8)))
            XCTAssertEqual(refusal.code, "InvalidInstanceID.NotFound")
            XCTAssertEqual(refusal.requestID, "ea966190-f9aa-478e-9ede-example")
        }
        let failure = HTTPFailure(provider: "aws", method: "POST", path: "/ TerminateInstances", reason: .status(400), errorID: "InvalidInstanceID.NotFound",
                                  message: "The instance ID 'i-1' does not exist", requestID: "r-1")
        XCTAssertTrue(failure.isNotFound)
        let error = EC2Errors.explain(failure, doing: "deleting node.main.1")
        XCTAssertEqual(error.kind, .notFound)
        XCTAssertTrue(error.message.contains("deleting node.main.1") && error.message.contains("TerminateInstances"), error.message)
        let auth = EC2Errors.explain(HTTPFailure(provider: "aws", method: "POST", path: "/ DescribeVpcs", reason: .status(401), errorID: "AuthFailure"), doing: nil)
        XCTAssertEqual(auth.kind, .unauthorized)
        XCTAssertTrue(auth.fix?.contains("AWS_ACCESS_KEY_ID") ?? false)
        XCTAssertEqual(EC2Errors.explain(HTTPFailure(provider: "aws", method: "POST", path: "/ RunInstances", reason: .status(400), errorID: "IdempotentParameterMismatch"), doing: nil).kind, .conflict)
    }

    static func refusal(_ status: Int, _ code: String) -> HTTPResponse {
        HTTPResponse(status: status, body: Data("<Response><Errors><Error><Code>\(code)</Code><Message>m</Message></Error></Errors><RequestID>r</RequestID></Response>".utf8))
    }

    func testThrottlingCodesAreThrottlingWhateverTheStatus() {
        XCTAssertTrue(EC2Refusal.isThrottling(Self.refusal(503, "RequestLimitExceeded")))
        XCTAssertTrue(EC2Refusal.isThrottling(Self.refusal(400, "Throttling")))
        XCTAssertTrue(EC2Refusal.isThrottling(Self.refusal(400, "EC2ThrottledException")))
        XCTAssertFalse(EC2Refusal.isThrottling(Self.refusal(400, "InvalidParameterValue")))
        XCTAssertFalse(EC2Refusal.isThrottling(Self.refusal(503, "Unavailable")))
        XCTAssertFalse(EC2Refusal.isThrottling(HTTPResponse(status: 200, body: Data("<Code>Throttling</Code>".utf8))))
    }

    func testACreateIsSentAgainAfterThrottlingButNotAfterAServerError() async throws {
        let script = XMLScript([Self.refusal(503, "RequestLimitExceeded"), Self.refusal(400, "Throttling"), HTTPResponse(status: 200)])
        let clock = EC2TestClock()
        let retrying = RetryingTransport(script, policy: RetryPolicy(maxAttempts: 5, baseDelay: 0.5, maxDelay: 8), clock: clock,
                                         random: RandomSource(seed: 3), isThrottled: EC2Refusal.isThrottling)
        let create = EC2Client.httpRequest(EC2Query("CreateVpc"))
        XCTAssertEqual(create.retry, .ifRefused)
        let answer = try await retrying.send(create)
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(script.sentCount, 3)
        XCTAssertEqual(clock.sleeps.count, 2, "backoff before each try again")

        let failing = XMLScript([Self.refusal(500, "InternalError"), HTTPResponse(status: 200)])
        let once = RetryingTransport(failing, clock: clock, random: RandomSource(seed: 3), isThrottled: EC2Refusal.isThrottling)
        let refused = try await once.send(create)
        XCTAssertEqual(refused.status, 500)
        XCTAssertEqual(failing.sentCount, 1, "a create without a client token is not sent again after an unknown outcome")
        XCTAssertEqual(EC2Client.httpRequest(EC2Query("RunInstances", idempotent: true)).retry, .idempotent)
    }

    func testTheSigningLayerSignsEachAttemptWithTheHostAndPortAndHidesTheSecret() async throws {
        let script = XMLScript([HTTPResponse(status: 200), HTTPResponse(status: 200)])
        let clock = EC2TestClock()
        let signer = SigV4Signer(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "very-secret-value", region: "sa-east-1", service: "ec2")
        let signing = SigV4SigningTransport(inner: script, signer: signer, endpoint: URL(string: "http://127.0.0.1:5000")!, clock: clock)
        _ = try await signing.send(EC2Client.httpRequest(EC2Query("DescribeVpcs", idempotent: true)))
        try await clock.sleep(seconds: 2)
        _ = try await signing.send(EC2Client.httpRequest(EC2Query("DescribeVpcs", idempotent: true)))
        let sent = script.sent
        XCTAssertEqual(sent[0].headers.first { $0.name == "Host" }?.value, "127.0.0.1:5000")
        let authorizations = sent.compactMap { $0.headers.first { $0.name == "Authorization" }?.value }
        XCTAssertEqual(authorizations.count, 2)
        XCTAssertTrue(authorizations[0].hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20270115/sa-east-1/ec2/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature="), authorizations[0])
        XCTAssertNotEqual(authorizations[0], authorizations[1], "a later attempt is signed anew")
        XCTAssertFalse(String(describing: signing).contains("very-secret-value"))
        XCTAssertEqual(SigV4SigningTransport.hostHeader(URL(string: "https://ec2.us-east-1.amazonaws.com")!), "ec2.us-east-1.amazonaws.com")
    }

    func testClientTokensComeFromThePlansIdempotencyToken() {
        let address = ResourceAddress.node(cluster: "main", index: 1)
        let scope = ResourceScope(project: "acme", environment: "dev")
        var request = ResourceRequest(address: address, kind: .node, attributes: ["size": "t3.small"], tags: scope.tags(for: address),
                                      inputs: [ResourceRequest.idempotencyTokenInput: "0123456789abcdef0123456789abcdef"])
        XCTAssertEqual(EC2Naming.clientToken(request), "kf-0123456789abcdef0123456789abcdef")
        // Without the plan's token, the token is a digest of what is asked: two requests built
        // apart for the same thing get the same one, a different ask gets another.
        request.inputs = [:]
        let again = ResourceRequest(address: address, kind: .node, attributes: ["size": "t3.small"], tags: scope.tags(for: address))
        let fallback = EC2Naming.clientToken(request)
        XCTAssertEqual(fallback, EC2Naming.clientToken(again))
        XCTAssertNotEqual(fallback, EC2Naming.clientToken(ResourceRequest(address: address, kind: .node, attributes: ["size": "t3.large"], tags: scope.tags(for: address))))
        XCTAssertTrue(fallback.hasPrefix("kf-") && fallback.dropFirst(3).count == 32 && fallback.dropFirst(3).allSatisfy(\.isHexDigit), fallback)
        XCTAssertLessThanOrEqual(EC2Naming.clientToken(request).count, 64)
    }
}

/// A clock whose sleeps pass at once and are recorded.
final class EC2TestClock: TransportClock {
    private let state = Mutex<(now: Date, sleeps: [Double])>((Date(timeIntervalSince1970: 1_800_000_000), []))
    func now() -> Date { state.withLock { $0.now } }
    func sleep(seconds: Double) async throws {
        state.withLock {
            $0.sleeps.append(seconds)
            $0.now = $0.now.addingTimeInterval(max(0, seconds))
        }
    }
    var sleeps: [Double] { state.withLock { $0.sleeps } }
}

/// Answers from a list, recording what was sent.
final class XMLScript: HTTPTransport {
    private let state: Mutex<(answers: [HTTPResponse], sent: [HTTPRequest])>
    init(_ answers: [HTTPResponse]) { state = Mutex((answers, [])) }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        state.withLock { state in
            state.sent.append(request)
            return state.answers.isEmpty ? HTTPResponse(status: 200) : state.answers.removeFirst()
        }
    }
    var sentCount: Int { state.withLock { $0.sent.count } }
    var sent: [HTTPRequest] { state.withLock { $0.sent } }
}
