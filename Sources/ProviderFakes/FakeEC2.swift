import Foundation
import Providers

/// A fake of just enough of EC2's Query API for the adapter's idempotency and fault tests and
/// the observation benchmark: real HTTP on a loopback port, `RunInstances`,
/// `DescribeInstances` (tag filters, `InstanceId.N`, `MaxResults`/`NextToken`),
/// `TerminateInstances`, the `DescribeImages` / `DescribeSubnets` a create reads first, and
/// empty answers to the other listings of an observation (VPCs, groups, keys, volumes, ...).
///
/// What moto does not do, this fake does as EC2 does: `ClientToken` idempotency (the same token
/// and parameters give back the instance the first request made; the same token with other
/// parameters is refused with `IdempotentParameterMismatch`), throttling (`RequestLimitExceeded`,
/// 503) at a rate, 500s and dropped connections (half of them after the request took effect).
/// Every request's SigV4 signature is checked against the fake's credentials, by `SigV4Verifier`.
public actor FakeEC2 {
    public struct Faults: Sendable {
        /// Seconds added to every answer.
        public var latency: Double
        /// Shares of requests answered `RequestLimitExceeded`, 500 `InternalError`, or dropped.
        public var throttleRate: Double
        public var errorRate: Double
        public var dropRate: Double
        /// Seconds an instance stays `pending`.
        public var bootTime: Double
        public var seed: UInt64

        public init(latency: Double = 0, throttleRate: Double = 0, errorRate: Double = 0, dropRate: Double = 0, bootTime: Double = 0.05, seed: UInt64 = 1) {
            self.latency = latency
            self.throttleRate = throttleRate
            self.errorRate = errorRate
            self.dropRate = dropRate
            self.bootTime = bootTime
            self.seed = seed
        }
    }

    /// A fault for the next request of an action.
    public typealias ScriptedFault = InjectedFault

    public struct InstanceSummary: Sendable, Hashable {
        public var id: String
        public var type: String
        public var state: String
        public var clientToken: String?
        public var tags: [String: String]
    }

    struct Instance {
        var id: String
        var type: String
        var image: String
        var subnet: String
        var tags: [(key: String, value: String)]
        var clientToken: String?
        var launched: Date
        var terminated = false
    }

    public nonisolated let accessKeyID: String
    public nonisolated let secretAccessKey: String
    public nonisolated let region: String
    public private(set) var faults: Faults
    private var dice: FaultDice
    private var server: LoopbackHTTPServer?
    private var instances: [Instance] = []
    /// Client token → (the parameters it came with, the instance it made).
    private var tokens: [String: (parameters: [String: String], instance: String)] = [:]
    private var nextID = 1
    public private(set) var requestCounts: [String: Int] = [:]
    public var faultsInjected: Int { dice.injected }
    public private(set) var signatureFailures = 0

    public init(accessKeyID: String = "AKIDFAKEEC2", secretAccessKey: String = "fake-ec2-secret-\(UInt32.random(in: 0...UInt32.max))",
                region: String = "us-east-1", faults: Faults = Faults()) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.faults = faults
        self.dice = FaultDice(seed: faults.seed)
    }

    public static func start(faults: Faults = Faults(), region: String = "us-east-1") async throws -> FakeEC2 {
        let fake = FakeEC2(region: region, faults: faults)
        let server = try await LoopbackHTTPServer.start { request in await fake.handle(request) }
        await fake.attach(server)
        return fake
    }

    private func attach(_ server: LoopbackHTTPServer) { self.server = server }

    public var baseURL: URL { server?.baseURL ?? URL(fileURLWithPath: "/") }

    public func stop() async { await server?.stop() }

    public func setFaults(_ faults: Faults) {
        self.faults = faults
        dice.reseed(faults.seed)
    }

    public func failNext(_ action: String, _ fault: ScriptedFault) { dice.script(action, fault) }

    public func count(_ action: String) -> Int { requestCounts[action] ?? 0 }

    public var totalRequests: Int { requestCounts.values.reduce(0, +) }

    public func resetCounts() { requestCounts = [:] }

    /// Instances not terminated, oldest first.
    public func liveInstances() -> [InstanceSummary] {
        instances.filter { !$0.terminated }.map {
            InstanceSummary(id: $0.id, type: $0.type, state: state(of: $0, at: Date()), clientToken: $0.clientToken,
                            tags: Dictionary($0.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    /// Makes `count` running instances of one environment directly (for the benchmark).
    public func seedInstances(count: Int, project: String, environment: String, cluster: String, type: String = "t3.medium") {
        for index in 1...max(count, 1) where count > 0 {
            instances.append(Instance(id: newID("i"), type: type, image: "ami-0fake0debian12", subnet: "subnet-0fake",
                                      tags: [("kf-project", project), ("kf-env", environment), ("kf-addr", "node:\(cluster):\(index)"),
                                             ("Name", "\(project)-\(environment)-\(cluster)-\(index)")],
                                      clientToken: nil, launched: Date.distantPast))
        }
    }

    // MARK: Handling

    func handle(_ request: ReceivedRequest) async -> FakeAnswer {
        if faults.latency > 0 { try? await Task.sleep(nanoseconds: UInt64(faults.latency * 1e9)) }
        let parameters = Self.form(request.body)
        let action = parameters["Action"] ?? "?"
        requestCounts[action, default: 0] += 1
        guard verifySignature(request) else {
            signatureFailures += 1
            return error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        }
        guard parameters["Version"] == "2016-11-15" else { return error(400, "InvalidParameterValue", "Version must be 2016-11-15") }
        var failAfter: FakeAnswer?
        if let fault = dice.next(for: action, throttleRate: faults.throttleRate, errorRate: faults.errorRate, dropRate: faults.dropRate) {
            let outcome = fault.outcome(throttled: throttled, serverError: internalError)
            if let now = outcome.now { return now }
            failAfter = outcome.after
        }
        let result = route(action, parameters)
        return failAfter ?? result
    }

    private func route(_ action: String, _ parameters: [String: String]) -> FakeAnswer {
        switch action {
        case "RunInstances": return runInstances(parameters)
        case "DescribeInstances": return describeInstances(parameters)
        case "TerminateInstances": return terminateInstances(parameters)
        case "DescribeImages":
            let id = parameters["ImageId.1"] ?? "ami-0fake0debian12"
            return ok("DescribeImages", "<imagesSet><item><imageId>\(Self.escape(id))</imageId><name>debian-12-amd64-20260101-0001</name>"
                      + "<creationDate>2026-01-01T00:00:00.000Z</creationDate><rootDeviceName>/dev/xvda</rootDeviceName>"
                      + "<imageOwnerId>136693071363</imageOwnerId></item></imagesSet>")
        case "DescribeSubnets":
            let vpc = parameters["Filter.1.Value.1"] ?? "vpc-0fake"
            return ok("DescribeSubnets", "<subnetSet><item><subnetId>subnet-0fake</subnetId><vpcId>\(Self.escape(vpc))</vpcId>"
                      + "<cidrBlock>10.40.0.0/16</cidrBlock><availabilityZone>\(region)a</availabilityZone></item></subnetSet>")
        case "DescribeVpcs": return ok(action, "<vpcSet/>")
        case "DescribeInternetGateways": return ok(action, "<internetGatewaySet/>")
        case "DescribeRouteTables": return ok(action, "<routeTableSet/>")
        case "DescribeSecurityGroups": return ok(action, "<securityGroupInfo/>")
        case "DescribeKeyPairs": return ok(action, "<keySet/>")
        case "DescribeVolumes": return ok(action, "<volumeSet/>")
        default:
            return error(400, "InvalidAction", "The action \(action) is not valid for this web service (the fake EC2 serves only what the adapter's tests need).")
        }
    }

    private func runInstances(_ parameters: [String: String]) -> FakeAnswer {
        guard parameters["MinCount"] == "1", parameters["MaxCount"] == "1" else {
            return error(400, "InvalidParameterValue", "the fake makes one instance per request")
        }
        guard let image = parameters["ImageId"], let type = parameters["InstanceType"], !type.isEmpty else {
            return error(400, "MissingParameter", "The request must contain the parameters ImageId and InstanceType")
        }
        let token = parameters["ClientToken"]
        var compared = parameters
        compared["ClientToken"] = nil
        if let token, let earlier = tokens[token] {
            guard earlier.parameters == compared else {
                return error(400, "IdempotentParameterMismatch", "The client token you have provided is associated with a resource that is already deleted or has different parameters.")
            }
            guard let instance = instances.first(where: { $0.id == earlier.instance }) else { return internalError() }
            return ok("RunInstances", "<reservationId>r-\(instance.id.dropFirst(2))</reservationId><instancesSet>\(xml(instance))</instancesSet>")
        }
        var tags: [(key: String, value: String)] = []
        for spec in 1...10 where parameters["TagSpecification.\(spec).ResourceType"] == "instance" {
            var index = 1
            while let key = parameters["TagSpecification.\(spec).Tag.\(index).Key"] {
                tags.append((key, parameters["TagSpecification.\(spec).Tag.\(index).Value"] ?? ""))
                index += 1
            }
        }
        let instance = Instance(id: newID("i"), type: type, image: image, subnet: parameters["SubnetId"] ?? "subnet-0fake", tags: tags,
                                clientToken: token, launched: Date())
        instances.append(instance)
        if let token { tokens[token] = (compared, instance.id) }
        return ok("RunInstances", "<reservationId>r-\(instance.id.dropFirst(2))</reservationId><instancesSet>\(xml(instance))</instancesSet>")
    }

    private func describeInstances(_ parameters: [String: String]) -> FakeAnswer {
        var ids: [String] = []
        while let id = parameters["InstanceId.\(ids.count + 1)"] { ids.append(id) }
        if !ids.isEmpty && parameters["MaxResults"] != nil {
            return error(400, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
        }
        var filters: [(name: String, values: [String])] = []
        var index = 1
        while let name = parameters["Filter.\(index).Name"] {
            var values: [String] = []
            while let value = parameters["Filter.\(index).Value.\(values.count + 1)"] { values.append(value) }
            filters.append((name, values))
            index += 1
        }
        var matching = instances.filter { instance in
            (ids.isEmpty || ids.contains(instance.id)) && filters.allSatisfy { filter in
                guard filter.name.hasPrefix("tag:") else { return true }
                let key = String(filter.name.dropFirst(4))
                return instance.tags.contains { $0.key == key && filter.values.contains($0.value) }
            }
        }
        if !ids.isEmpty, let missing = ids.first(where: { id in !matching.contains { $0.id == id } }) {
            return error(400, "InvalidInstanceID.NotFound", "The instance ID '\(missing)' does not exist")
        }
        let start = parameters["NextToken"].flatMap { Int($0) } ?? 0
        let size = parameters["MaxResults"].flatMap { Int($0) } ?? max(matching.count, 1)
        guard (5...1_000).contains(size) || parameters["MaxResults"] == nil else {
            return error(400, "InvalidParameterValue", "MaxResults must be between 5 and 1000")
        }
        matching = Array(matching.dropFirst(start))
        let page = matching.prefix(size)
        let next = matching.count > size ? "<nextToken>\(start + size)</nextToken>" : ""
        let reservations = page.map { "<item><reservationId>r-\($0.id.dropFirst(2))</reservationId><instancesSet>\(xml($0))</instancesSet></item>" }.joined()
        return ok("DescribeInstances", "<reservationSet>\(reservations)</reservationSet>\(next)")
    }

    private func terminateInstances(_ parameters: [String: String]) -> FakeAnswer {
        var changes = ""
        var index = 1
        while let id = parameters["InstanceId.\(index)"] {
            guard let position = instances.firstIndex(where: { $0.id == id }) else {
                return error(400, "InvalidInstanceID.NotFound", "The instance ID '\(id)' does not exist")
            }
            instances[position].terminated = true
            changes += "<item><instanceId>\(id)</instanceId><currentState><code>32</code><name>shutting-down</name></currentState></item>"
            index += 1
        }
        return ok("TerminateInstances", "<instancesSet>\(changes)</instancesSet>")
    }

    // MARK: Answers

    private func state(of instance: Instance, at now: Date) -> String {
        if instance.terminated { return "terminated" }
        return now.timeIntervalSince(instance.launched) >= faults.bootTime ? "running" : "pending"
    }

    private func xml(_ instance: Instance) -> String {
        let tags = instance.tags.map { "<item><key>\(Self.escape($0.key))</key><value>\(Self.escape($0.value))</value></item>" }.joined()
        let number = instance.id.dropFirst(2).suffix(4)
        return "<item><instanceId>\(instance.id)</instanceId><imageId>\(Self.escape(instance.image))</imageId>"
            + "<instanceState><code>16</code><name>\(state(of: instance, at: Date()))</name></instanceState>"
            + "<instanceType>\(Self.escape(instance.type))</instanceType><subnetId>\(Self.escape(instance.subnet))</subnetId><vpcId>vpc-0fake</vpcId>"
            + "<privateIpAddress>10.40.\(Int(number.prefix(2), radix: 16) ?? 0).\(Int(number.suffix(2), radix: 16) ?? 0)</privateIpAddress>"
            + "<placement><availabilityZone>\(region)a</availabilityZone></placement>"
            + (instance.clientToken.map { "<clientToken>\(Self.escape($0))</clientToken>" } ?? "")
            + "<rootDeviceName>/dev/xvda</rootDeviceName><tagSet>\(tags)</tagSet></item>"
    }

    private func ok(_ action: String, _ inner: String) -> FakeAnswer {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(action)Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
            + "<requestId>\(UUID().uuidString.lowercased())</requestId>\(inner)</\(action)Response>"
        return .respond(status: 200, headers: [("Content-Type", "text/xml;charset=UTF-8")], body: Data(body.utf8))
    }

    private func error(_ status: Int, _ code: String, _ message: String) -> FakeAnswer { Self.error(status, code, message) }

    /// An EC2 error answer: `<Response><Errors><Error>` with `code` and `message`.
    static func error(_ status: Int, _ code: String, _ message: String) -> FakeAnswer {
        // Real EC2 errors carry no namespace.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>\(code)</Code><Message>\(Self.escape(message))</Message></Error></Errors>"
            + "<RequestID>\(UUID().uuidString.lowercased())</RequestID></Response>"
        return .respond(status: status, headers: [("Content-Type", "text/xml;charset=UTF-8")], body: Data(body.utf8))
    }

    private func throttled() -> FakeAnswer { error(503, "RequestLimitExceeded", "Request limit exceeded.") }

    private func internalError() -> FakeAnswer { error(500, "InternalError", "An internal error has occurred") }

    private func newID(_ prefix: String) -> String {
        defer { nextID += 1 }
        return "\(prefix)-0" + String(format: "%016x", nextID)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func form(_ body: Data) -> [String: String] {
        var result: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            result[name] = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
        }
        return result
    }

    // MARK: Signatures

    /// Checks the request's SigV4 signature with the fake's secret, by a verifier of the fakes' own
    /// (not the product's signer, so a signer bug cannot pass its own check).
    private func verifySignature(_ request: ReceivedRequest) -> Bool {
        let verifier = SigV4Verifier(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, region: region, service: "ec2")
        guard case .success = verifier.verify(method: request.method, path: request.path, query: request.query,
                                              headers: request.headers, body: request.body) else { return false }
        return true
    }
}
