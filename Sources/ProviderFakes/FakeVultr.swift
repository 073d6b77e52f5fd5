import Foundation
import Providers

/// A fake of Vultr API v2 for tests and benchmarks: real HTTP on a loopback port, stateful
/// for the objects kryoform uses (instances, block storage, VPCs, firewall groups and rules,
/// SSH keys), with the fault switches of `FakeDigitalOcean` (latency, 429s, 500s, dropped
/// connections, listings that lag behind creates) and Vultr's own limit of 30 requests a
/// second, answered with 429 like the real API. Every request is checked against
/// `FakeVultrSchema`; a request it does not allow gets a 400 and is recorded as a violation.
/// Given real test hosts (`handOut`), each new instance takes one as its address and has its
/// user data booted there.
public actor FakeVultr: AnswerHoldingFake, NodeHostingFake {
    public struct Faults: Sendable {
        /// Seconds added to every answer.
        public var latency: Double = 0
        /// Shares of requests answered 429 (with `Retry-After`), 500, or dropped. Half of the
        /// 500s and drops happen after the request took effect, as on a real network.
        public var throttleRate: Double = 0
        public var errorRate: Double = 0
        public var dropRate: Double = 0
        /// Seconds a new instance is missing from listings.
        public var listingLag: Double = 0
        /// Seconds an instance stays `pending`, and a resize keeps it locked.
        public var bootTime: Double = 0.05
        public var actionTime: Double = 0.02
        /// The seed of the fault dice.
        public var seed: UInt64 = 1
        /// Vultr's own limit: requests a second per client, past which it answers 429.
        public var requestsPerSecond: Int = 30

        public init(latency: Double = 0, throttleRate: Double = 0, errorRate: Double = 0, dropRate: Double = 0, listingLag: Double = 0,
                    bootTime: Double = 0.05, actionTime: Double = 0.02, seed: UInt64 = 1, requestsPerSecond: Int = 30) {
            self.latency = latency
            self.throttleRate = throttleRate
            self.errorRate = errorRate
            self.dropRate = dropRate
            self.listingLag = listingLag
            self.bootTime = bootTime
            self.actionTime = actionTime
            self.seed = seed
            self.requestsPerSecond = requestsPerSecond
        }
    }

    /// A fault for the next request of an operation.
    public typealias ScriptedFault = InjectedFault

    public let apiKey: String
    public private(set) var faults: Faults
    private var server: LoopbackHTTPServer?
    private var dice: FaultDice

    /// Requests by `METHOD /template`, what broke the schema, and the 429s of the 30-a-second limit.
    public private(set) var requestCounts: [String: Int] = [:]
    public private(set) var violations: [String] = []
    public var faultsInjected: Int { dice.injected }
    public private(set) var rateLimited = 0
    /// The most requests that arrived within any one second.
    public private(set) var busiestSecond = 0

    private var sequence = 0
    private var instances: [String: Instance] = [:]
    private var blocks: [String: Block] = [:]
    private var vpcs: [String: VPC] = [:]
    private var firewalls: [String: Firewall] = [:]
    private var keys: [String: Key] = [:]
    private var arrivals: [Date] = []
    private var answerDelays: [String: Double] = [:]
    /// Kill points (`holdNextAnswer` and the rest: `AnswerHoldingFake`).
    public nonisolated let answerHold = AnswerHold()
    /// Test hosts for new instances (`handOut` and the rest: `NodeHostingFake`).
    public nonisolated let nodeHosts = NodeHostPool()

    struct Instance {
        var id: String
        var order: Int
        var label: String
        var hostname: String
        var region: String
        var plan: String
        var osID: Int
        var tags: [String]
        var vpcs: [String]
        var firewallGroup: String
        var createdAt: Date
        var activeAt: Date
        var lockedUntil: Date
        var internalIP: String
        var mainIP: String
    }

    struct Block {
        var id: String
        var order: Int
        var label: String
        var region: String
        var size: Int
        var instance: String?
        var createdAt: Date
    }

    struct VPC {
        var id: String
        var order: Int
        var region: String
        var description: String
        var subnet: String
        var mask: Int
        var createdAt: Date
    }

    struct Rule {
        var id: Int
        var ipType: String
        var proto: String
        var subnet: String
        var size: Int
        var port: String
    }

    struct Firewall {
        var id: String
        var order: Int
        var description: String
        var rules: [Rule]
        var nextRule: Int
        var createdAt: Date
    }

    struct Key {
        var id: String
        var order: Int
        var name: String
        var publicKey: String
        var createdAt: Date
    }

    public init(apiKey: String, faults: Faults = Faults()) {
        self.apiKey = apiKey
        self.faults = faults
        self.dice = FaultDice(seed: faults.seed)
    }

    /// Starts a fake on a free loopback port.
    public static func start(apiKey: String = "FAKEVULTR\(UInt32.random(in: 0...UInt32.max))KEY", faults: Faults = Faults()) async throws -> FakeVultr {
        let fake = FakeVultr(apiKey: apiKey, faults: faults)
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

    public func resetCounts() {
        requestCounts = [:]
        rateLimited = 0
        busiestSecond = 0
    }

    /// Makes the next request of `operation` (`POST /v2/instances`) fail as `fault` says.
    public func failNext(_ operation: String, _ fault: ScriptedFault) {
        dice.script(operation, fault)
    }

    /// Holds every answer to `operation` for `seconds` after it took effect (a crash window).
    public func delayAnswers(_ operation: String, seconds: Double) {
        answerDelays[operation] = seconds
    }

    public var totalRequests: Int { requestCounts.values.reduce(0, +) }

    public func count(_ operation: String) -> Int { requestCounts[operation] ?? 0 }

    // MARK: What exists, for tests

    public struct InstanceSummary: Sendable, Hashable {
        public var id: String
        public var label: String
        public var plan: String
        public var status: String
        public var tags: [String]
        public var firewallGroup: String
        public var vpcs: [String]
    }

    public func instanceSummaries() -> [InstanceSummary] {
        let now = Date()
        return instances.values.sorted { $0.order < $1.order }.map {
            InstanceSummary(id: $0.id, label: $0.label, plan: $0.plan, status: status(of: $0, at: now).status, tags: $0.tags,
                            firewallGroup: $0.firewallGroup, vpcs: $0.vpcs)
        }
    }

    /// How many objects of each kind the fake holds, tagged or not.
    public func objectCounts() -> [String: Int] {
        inventory().mapValues(\.count)
    }

    /// The label (VPCs and firewall groups: the description; keys: the name) of every object of each
    /// kind the fake holds, tagged or not, sorted: what is really there, not a tag-scoped listing.
    public func inventory() -> [String: [String]] {
        ["instances": instances.values.map(\.label).sorted(), "blocks": blocks.values.map(\.label).sorted(),
         "vpcs": vpcs.values.map(\.description).sorted(), "firewalls": firewalls.values.map(\.description).sorted(),
         "keys": keys.values.map(\.name).sorted()]
    }

    /// Every object's id by kind (`instances`, `blocks`, `vpcs`, `firewalls`, `keys`).
    public func objectIDs() -> [String: Set<String>] {
        ["instances": Set(instances.keys), "blocks": Set(blocks.keys), "vpcs": Set(vpcs.keys), "firewalls": Set(firewalls.keys), "keys": Set(keys.keys)]
    }

    /// Block labels and the instance each is attached to.
    public func blockAttachments() -> [String: String?] {
        Dictionary(blocks.values.map { ($0.label, $0.instance) }, uniquingKeysWith: { first, _ in first })
    }

    /// Rules of every firewall group, as `tcp 22 v4 203.0.113.0/24`.
    public func firewallRules() -> [String] {
        firewalls.values.sorted { $0.order < $1.order }.flatMap { $0.rules.map { "\($0.proto) \($0.port) \($0.ipType) \($0.subnet)/\($0.size)" } }
    }

    /// Registers a key as if by hand.
    public func addKey(name: String, publicKey: String) -> String {
        let key = Key(id: uuid(), order: next(), name: name, publicKey: publicKey, createdAt: Date())
        keys[key.id] = key
        return key.id
    }

    /// Deletes an instance behind kryoform's back.
    public func deleteInstance(labelled label: String) {
        for instance in instances.values where instance.label == label { remove(instance.id) }
    }

    /// Makes `count` active instances in one environment directly (for pagination tests and the benchmark).
    public func seedInstances(count: Int, project: String, environment: String, cluster: String, plan: String = "vc2-2c-4gb", region: String = "ewr") {
        let now = Date()
        let vpc = VPC(id: uuid(), order: next(), region: region, description: "kf-\(project)-\(environment) cidr=10.40.0.0/16", subnet: "10.40.0.0", mask: 16,
                      createdAt: now)
        vpcs[vpc.id] = vpc
        let tags = ["kf-project:\(project)", "kf-env:\(environment)", "kf-scope:\(project):\(environment)", "kf-cluster:\(cluster)"]
        for index in 1...max(1, count) {
            let order = next()
            let label = "\(project)-\(environment)-\(cluster)-\(index)"
            let instance = Instance(id: uuid(), order: order, label: label, hostname: label, region: region, plan: plan, osID: 2136,
                                    tags: tags + ["kf-addr:node:\(cluster):\(index)"], vpcs: [vpc.id], firewallGroup: "", createdAt: now, activeAt: now,
                                    lockedUntil: now, internalIP: address(in: vpc, order), mainIP: "192.0.2.\(order % 250 + 2)")
            instances[instance.id] = instance
        }
    }

    // MARK: Handling

    func handle(_ request: ReceivedRequest) async -> FakeAnswer {
        // Vultr's own limit, counted as requests arrive.
        let arrived = Date()
        arrivals.removeAll { arrived.timeIntervalSince($0) >= 1 }
        if arrivals.count >= faults.requestsPerSecond {
            rateLimited += 1
            return answer(429, error: "Rate limit exceeded, please wait and try again.", headers: [("Retry-After", "1")])
        }
        arrivals.append(arrived)
        busiestSecond = max(busiestSecond, arrivals.count)

        if faults.latency > 0 { try? await Task.sleep(nanoseconds: UInt64(faults.latency * 1e9)) }
        let operation = FakeVultrSchema.template(method: request.method, path: request.path)
        requestCounts[operation, default: 0] += 1

        guard request.header("Authorization") == "Bearer \(apiKey)" else {
            return answer(401, error: "Invalid API token.")
        }
        let problems = FakeVultrSchema.problems(operation, query: request.query, body: request.body)
        if !problems.isEmpty {
            violations += problems.map { "\(request.method) \(request.path): \($0)" }
            return answer(400, error: problems.joined(separator: "; "))
        }

        var failAfter: FakeAnswer?
        if let fault = dice.next(for: operation, throttleRate: faults.throttleRate, errorRate: faults.errorRate, dropRate: faults.dropRate) {
            let outcome = fault.outcome(
                throttled: { answer(429, error: "Rate limit exceeded, please wait and try again.", headers: [("Retry-After", "0.05")]) },
                serverError: { answer(500, error: "Internal server error.") })
            if let now = outcome.now { return now }
            failAfter = outcome.after
        }
        let body = (try? JSONValue.parse(request.body))?.object ?? [:]
        let result = route(operation, request, body, now: Date())
        if answerHold.takes(operation) {
            await withCheckedContinuation { answerHold.hold("\(request.method) \(request.path)", answer: result, release: $0) }
            return .drop
        }
        if let delay = answerDelays[operation], delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
        return failAfter ?? result
    }

    private func route(_ operation: String, _ request: ReceivedRequest, _ body: [String: JSONValue], now: Date) -> FakeAnswer {
        let segments = request.path.split(separator: "/").map(String.init)
        let id = segments.count > 2 ? segments[2] : ""
        switch operation {
        case "GET /v2/plans":
            let type = request.query.first { $0.name == "type" }?.value ?? "all"
            return page(request, key: "plans", objects: FakeVultrCatalog.plans.filter { type == "all" || $0.type == type }, json: FakeVultrCatalog.json)
        case "GET /v2/regions":
            return page(request, key: "regions", objects: FakeVultrCatalog.regions) { $0 }
        case "GET /v2/regions/{id}/availability":
            guard FakeVultrCatalog.regions.contains(where: { $0["id"] as? String == id }) else { return notFound() }
            return answer(200, ["available_plans": FakeVultrCatalog.plans.filter { FakeVultrCatalog.available($0, in: id) }.map(\.id)])
        case "GET /v2/os":
            return page(request, key: "os", objects: FakeVultrCatalog.systems) { ["id": $0.id, "name": $0.name, "arch": $0.arch, "family": $0.family] }
        case "GET /v2/instances":
            let tag = request.query.first { $0.name == "tag" }?.value
            let label = request.query.first { $0.name == "label" }?.value
            let listed = instances.values.filter {
                (tag == nil || $0.tags.contains(tag ?? "")) && (label == nil || $0.label == label) && now.timeIntervalSince($0.createdAt) >= faults.listingLag
            }
            return page(request, key: "instances", objects: listed.sorted { $0.order < $1.order }) { json($0, now: now) }
        case "POST /v2/instances":
            return createInstance(body, now: now)
        case "GET /v2/instances/{id}":
            guard let instance = instances[id] else { return notFound() }
            return answer(200, ["instance": json(instance, now: now)])
        case "PATCH /v2/instances/{id}":
            return resize(id, body, now: now)
        case "DELETE /v2/instances/{id}":
            guard instances[id] != nil else { return notFound() }
            remove(id)
            return answer(204, nil)
        case "GET /v2/ssh-keys":
            return page(request, key: "ssh_keys", objects: keys.values.sorted { $0.order < $1.order }, json: json)
        case "POST /v2/ssh-keys":
            let text = body["ssh_key"]?.string ?? ""
            guard ["ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-"].contains(where: { text.hasPrefix($0) }), text.split(separator: " ").count >= 2 else {
                return answer(400, error: "Invalid SSH key.")
            }
            let key = Key(id: uuid(), order: next(), name: body["name"]?.string ?? "", publicKey: text, createdAt: now)
            keys[key.id] = key
            return answer(201, ["ssh_key": json(key)])
        case "GET /v2/ssh-keys/{id}":
            guard let key = keys[id] else { return notFound() }
            return answer(200, ["ssh_key": json(key)])
        case "PATCH /v2/ssh-keys/{id}":
            guard keys[id] != nil else { return notFound() }
            if let name = body["name"]?.string { keys[id]?.name = name }
            return answer(204, nil)
        case "DELETE /v2/ssh-keys/{id}":
            guard keys.removeValue(forKey: id) != nil else { return notFound() }
            return answer(204, nil)
        case "GET /v2/firewalls":
            return page(request, key: "firewall_groups", objects: firewalls.values.sorted { $0.order < $1.order }, json: json)
        case "POST /v2/firewalls":
            let firewall = Firewall(id: uuid(), order: next(), description: body["description"]?.string ?? "", rules: [], nextRule: 1, createdAt: now)
            firewalls[firewall.id] = firewall
            return answer(201, ["firewall_group": json(firewall)])
        case "GET /v2/firewalls/{id}":
            guard let firewall = firewalls[id] else { return notFound() }
            return answer(200, ["firewall_group": json(firewall)])
        case "DELETE /v2/firewalls/{id}":
            guard firewalls.removeValue(forKey: id) != nil else { return notFound() }
            for instance in instances.values where instance.firewallGroup == id { instances[instance.id]?.firewallGroup = "" }
            return answer(204, nil)
        case "GET /v2/firewalls/{id}/rules":
            guard let firewall = firewalls[id] else { return notFound() }
            return page(request, key: "firewall_rules", objects: firewall.rules, json: json)
        case "POST /v2/firewalls/{id}/rules":
            return addRule(id, body)
        case "DELETE /v2/firewalls/{id}/rules/{rule-id}":
            let ruleID = segments.count > 4 ? Int(segments[4]) : nil
            guard var firewall = firewalls[id], let index = firewall.rules.firstIndex(where: { $0.id == ruleID }) else { return notFound() }
            firewall.rules.remove(at: index)
            firewalls[id] = firewall
            return answer(204, nil)
        case "GET /v2/vpcs":
            return page(request, key: "vpcs", objects: vpcs.values.sorted { $0.order < $1.order }, json: json)
        case "POST /v2/vpcs":
            return createVPC(body, now: now)
        case "GET /v2/vpcs/{id}":
            guard let vpc = vpcs[id] else { return notFound() }
            return answer(200, ["vpc": json(vpc)])
        case "DELETE /v2/vpcs/{id}":
            guard vpcs[id] != nil else { return notFound() }
            if instances.values.contains(where: { $0.vpcs.contains(id) }) {
                return answer(400, error: "Unable to delete VPC: it has attached instances.")
            }
            vpcs[id] = nil
            return answer(204, nil)
        case "GET /v2/blocks":
            return page(request, key: "blocks", objects: blocks.values.sorted { $0.order < $1.order }, json: json)
        case "POST /v2/blocks":
            let region = body["region"]?.string ?? ""
            let size = Int(body["size_gb"]?.number ?? 0)
            guard FakeVultrCatalog.regions.contains(where: { $0["id"] as? String == region }) else { return answer(400, error: "Invalid region.") }
            guard (10...40_000).contains(size) else { return answer(400, error: "Block storage size must be between 10 and 40000 GB.") }
            let block = Block(id: uuid(), order: next(), label: body["label"]?.string ?? "", region: region, size: size, instance: nil, createdAt: now)
            blocks[block.id] = block
            return answer(202, ["block": json(block)])
        case "GET /v2/blocks/{id}":
            guard let block = blocks[id] else { return notFound() }
            return answer(200, ["block": json(block)])
        case "PATCH /v2/blocks/{id}":
            guard var block = blocks[id] else { return notFound() }
            var grew = false
            if let size = body["size_gb"]?.number.map({ Int($0) }) {
                guard size > block.size else { return answer(400, error: "Block storage can only grow.") }
                block.size = size
                grew = true
            }
            if let label = body["label"]?.string { block.label = label }
            blocks[id] = block
            if grew { nodeHosts.grew(disk(block)) }
            return answer(204, nil)
        case "DELETE /v2/blocks/{id}":
            guard let block = blocks[id] else { return notFound() }
            guard block.instance == nil else { return answer(400, error: "Block storage is attached to a server; detach it first.") }
            blocks[id] = nil
            return answer(204, nil)
        case "POST /v2/blocks/{id}/attach":
            guard var block = blocks[id] else { return notFound() }
            guard let instanceID = body["instance_id"]?.string, let instance = instances[instanceID] else { return answer(400, error: "Invalid instance.") }
            guard instance.region == block.region else { return answer(400, error: "Block storage and server must be in the same region.") }
            guard status(of: instance, at: now).status == "active" else { return answer(400, error: "Server is not active yet.") }
            guard block.instance == nil else { return answer(400, error: "Block storage is already attached to a server.") }
            block.instance = instanceID
            blocks[id] = block
            nodeHosts.attached(disk(block), toNode: instanceID)
            return answer(204, nil)
        case "POST /v2/blocks/{id}/detach":
            guard blocks[id] != nil else { return notFound() }
            guard blocks[id]?.instance != nil else { return answer(400, error: "Block storage is not attached.") }
            blocks[id]?.instance = nil
            if let block = blocks[id] { nodeHosts.detached(disk(block)) }
            return answer(204, nil)
        default:
            violations.append("\(operation): in the schema but not served by the fake")
            return notFound()
        }
    }

    private func createInstance(_ body: [String: JSONValue], now: Date) -> FakeAnswer {
        let region = body["region"]?.string ?? ""
        let planID = body["plan"]?.string ?? ""
        guard FakeVultrCatalog.regions.contains(where: { $0["id"] as? String == region }) else { return answer(400, error: "Invalid region.") }
        guard let plan = FakeVultrCatalog.plan(planID) else { return answer(400, error: "Invalid plan.") }
        guard FakeVultrCatalog.available(plan, in: region) else { return answer(400, error: "Plan \(planID) is not available in the selected region.") }
        guard let osID = body["os_id"]?.number.map({ Int($0) }), FakeVultrCatalog.systems.contains(where: { $0.id == osID }) else {
            return answer(400, error: "Invalid operating system.")
        }
        let keyIDs = body["sshkey_id"]?.array?.compactMap(\.string) ?? []
        guard keyIDs.allSatisfy({ keys[$0] != nil }) else { return answer(400, error: "Invalid SSH key.") }
        let vpcIDs = body["attach_vpc"]?.array?.compactMap(\.string) ?? []
        guard vpcIDs.allSatisfy({ vpcs[$0]?.region == region }) else { return answer(400, error: "Invalid VPC: it must exist in the instance's region.") }
        let group = body["firewall_group_id"]?.string ?? ""
        guard group.isEmpty || firewalls[group] != nil else { return answer(400, error: "Invalid firewall group.") }
        var userData: String?
        if let text = body["user_data"]?.string {
            guard let decoded = Data(base64Encoded: text) else { return answer(400, error: "user_data must be base64.") }
            userData = String(decoding: decoded, as: UTF8.self)
        }
        let id = uuid()
        let label = body["label"]?.string ?? ""
        let host: FakeNodeHost?
        do throws(NodeHostPool.Refusal) {
            host = try nodeHosts.boot([(id, label)], userData: userData)?.first
        } catch {
            if case .noHostLeft = error { return answer(400, error: error.description) }
            return answer(500, error: error.description)
        }
        let order = next()
        // A test host has one address, outside the VPC's range: it is listed as the public one
        // only (Vultr lists an instance with no internal address as on its VPC).
        let internalIP = host != nil ? "" : vpcIDs.first.flatMap { vpcs[$0] }.map { address(in: $0, order) } ?? ""
        let instance = Instance(id: id, order: order, label: label, hostname: body["hostname"]?.string ?? label, region: region, plan: planID, osID: osID,
                                tags: body["tags"]?.array?.compactMap(\.string) ?? [], vpcs: vpcIDs, firewallGroup: group, createdAt: now,
                                activeAt: now.addingTimeInterval(faults.bootTime), lockedUntil: now, internalIP: internalIP,
                                mainIP: host?.address ?? "192.0.2.\(order % 250 + 2)")
        instances[instance.id] = instance
        var json = json(instance, now: now)
        json["default_password"] = "fake-password"
        return answer(202, ["instance": json])
    }

    private func resize(_ id: String, _ body: [String: JSONValue], now: Date) -> FakeAnswer {
        guard var instance = instances[id] else { return notFound() }
        if let planID = body["plan"]?.string, planID != instance.plan {
            guard let plan = FakeVultrCatalog.plan(planID) else { return answer(400, error: "Invalid plan.") }
            guard FakeVultrCatalog.available(plan, in: instance.region) else { return answer(400, error: "Plan \(planID) is not available in the selected region.") }
            guard plan.diskGB >= FakeVultrCatalog.plan(instance.plan)?.diskGB ?? 0 else { return answer(400, error: "Unable to downgrade: the new plan's disk is smaller.") }
            instance.plan = planID
            instance.lockedUntil = now.addingTimeInterval(faults.actionTime)
        }
        if let label = body["label"]?.string { instance.label = label }
        if let tags = body["tags"]?.array?.compactMap(\.string) { instance.tags = tags }
        if let group = body["firewall_group_id"]?.string { instance.firewallGroup = group }
        instances[id] = instance
        return answer(202, ["instance": json(instance, now: now)])
    }

    private func addRule(_ id: String, _ body: [String: JSONValue]) -> FakeAnswer {
        guard var firewall = firewalls[id] else { return notFound() }
        let ipType = body["ip_type"]?.string ?? ""
        let proto = (body["protocol"]?.string ?? "").lowercased()
        let subnet = body["subnet"]?.string ?? ""
        let size = Int(body["subnet_size"]?.number ?? -1)
        let port = body["port"]?.string ?? ""
        guard ["v4", "v6"].contains(ipType) else { return answer(400, error: "ip_type must be v4 or v6.") }
        guard ["icmp", "tcp", "udp", "gre", "esp", "ah"].contains(proto) else { return answer(400, error: "Invalid protocol.") }
        guard subnet.contains(":") == (ipType == "v6"), (0...(ipType == "v6" ? 128 : 32)).contains(size) else { return answer(400, error: "Invalid subnet for \(ipType).") }
        guard proto == "icmp" || !port.isEmpty else { return answer(400, error: "A port or range is required for \(proto).") }
        guard firewall.rules.count < 50 else { return answer(400, error: "Firewall group rule limit (50) exceeded.") }
        let rule = Rule(id: firewall.nextRule, ipType: ipType, proto: proto, subnet: subnet, size: size, port: proto == "icmp" ? "" : port)
        firewall.rules.append(rule)
        firewall.nextRule += 1
        firewalls[id] = firewall
        return answer(201, ["firewall_rule": json(rule)])
    }

    private func createVPC(_ body: [String: JSONValue], now: Date) -> FakeAnswer {
        let region = body["region"]?.string ?? ""
        guard FakeVultrCatalog.regions.contains(where: { $0["id"] as? String == region }) else { return answer(400, error: "Invalid region.") }
        let order = next()
        let subnet = body["v4_subnet"]?.string ?? "10.\(100 + order % 100).0.0"
        let mask = body["v4_subnet_mask"]?.number.map { Int($0) } ?? 20
        guard (16...28).contains(mask) else { return answer(400, error: "v4_subnet_mask must be 16 to 28.") }
        let vpc = VPC(id: uuid(), order: order, region: region, description: body["description"]?.string ?? "", subnet: subnet, mask: mask, createdAt: now)
        vpcs[vpc.id] = vpc
        return answer(201, ["vpc": json(vpc)])
    }

    /// Deletes an instance: its blocks are detached and its test host is free again.
    private func remove(_ id: String) {
        instances[id] = nil
        nodeHosts.release(id)
        for block in blocks.values where block.instance == id { blocks[block.id]?.instance = nil }
    }

    /// A block as its instance sees it: Vultr's `mount_id` "can be found in /dev/disk/by-id
    /// prefixed with virtio".
    private func disk(_ block: Block) -> FakeDisk { FakeDisk(id: block.id, linkName: "virtio-\(mountID(block))") }

    private func mountID(_ block: Block) -> String { "ewr-\(block.id.prefix(8))" }

    // MARK: JSON

    private func status(of instance: Instance, at now: Date) -> (status: String, server: String) {
        if now < instance.activeAt { return ("pending", "installingbooting") }
        if now < instance.lockedUntil { return ("active", "locked") }
        return ("active", "ok")
    }

    private func json(_ instance: Instance, now: Date) -> [String: Any] {
        let plan = FakeVultrCatalog.plan(instance.plan)
        let state = status(of: instance, at: now)
        return [
            "id": instance.id, "os": FakeVultrCatalog.systems.first { $0.id == instance.osID }?.name ?? "", "ram": plan?.ramMB ?? 0, "disk": plan?.diskGB ?? 0,
            "main_ip": instance.mainIP, "vcpu_count": plan?.cpu ?? 0, "region": instance.region, "plan": instance.plan,
            "date_created": Self.timestamp(instance.createdAt), "status": state.status, "allowed_bandwidth": 1000, "netmask_v4": "255.255.254.0",
            "gateway_v4": "192.0.2.1", "power_status": "running", "server_status": state.server, "v6_network": "", "v6_main_ip": "", "v6_network_size": 0,
            "label": instance.label, "internal_ip": instance.internalIP, "kvm": "", "hostname": instance.hostname, "tag": "", "tags": instance.tags,
            "os_id": instance.osID, "app_id": 0, "image_id": "", "firewall_group_id": instance.firewallGroup, "features": [String](),
        ]
    }

    private func json(_ block: Block) -> [String: Any] {
        ["id": block.id, "date_created": Self.timestamp(block.createdAt), "cost": Double(block.size) / 10, "status": "active", "size_gb": block.size,
         "region": block.region, "attached_to_instance": block.instance ?? "", "label": block.label, "mount_id": mountID(block),
         "block_type": "high_perf"]
    }

    private func json(_ vpc: VPC) -> [String: Any] {
        ["id": vpc.id, "date_created": Self.timestamp(vpc.createdAt), "region": vpc.region, "description": vpc.description,
         "v4_subnet": vpc.subnet, "v4_subnet_mask": vpc.mask]
    }

    private func json(_ firewall: Firewall) -> [String: Any] {
        ["id": firewall.id, "description": firewall.description, "date_created": Self.timestamp(firewall.createdAt),
         "date_modified": Self.timestamp(firewall.createdAt), "instance_count": instances.values.filter { $0.firewallGroup == firewall.id }.count,
         "rule_count": firewall.rules.count, "max_rule_count": 50]
    }

    private func json(_ rule: Rule) -> [String: Any] {
        ["id": rule.id, "type": rule.ipType, "ip_type": rule.ipType, "action": "accept", "protocol": rule.proto, "port": rule.port,
         "subnet": rule.subnet, "subnet_size": rule.size, "source": "", "notes": ""]
    }

    private func json(_ key: Key) -> [String: Any] {
        ["id": key.id, "date_created": Self.timestamp(key.createdAt), "name": key.name, "ssh_key": key.publicKey]
    }

    // MARK: Answers

    /// One page of `objects` by Vultr's cursor: `per_page` (default 100, at most 500), and an
    /// opaque `cursor` from `meta.links.next` / `prev`, empty at either end.
    private func page<Object>(_ request: ReceivedRequest, key: String, objects: [Object], json: (Object) -> [String: Any]) -> FakeAnswer {
        let perPage = min(500, max(1, request.query.first { $0.name == "per_page" }.flatMap { Int($0.value) } ?? 100))
        var start = 0
        if let cursor = request.query.first(where: { $0.name == "cursor" })?.value {
            guard let offset = Self.offset(cursor), (0...objects.count).contains(offset) else { return answer(400, error: "Invalid cursor.") }
            start = offset
        }
        let end = min(objects.count, start + perPage)
        let next = end < objects.count ? Self.cursor("next", end) : ""
        let prev = start > 0 ? Self.cursor("prev", max(0, start - perPage)) : ""
        return answer(200, [key: objects[start..<end].map(json), "meta": ["total": objects.count, "links": ["next": next, "prev": prev]]])
    }

    static func cursor(_ direction: String, _ offset: Int) -> String { Data("\(direction)__\(offset)".utf8).base64EncodedString() }

    static func offset(_ cursor: String) -> Int? {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8), let marker = text.range(of: "__") else { return nil }
        return Int(text[marker.upperBound...])
    }

    private func notFound() -> FakeAnswer { answer(404, error: "Not found.") }

    private func answer(_ status: Int, error: String, headers: [(name: String, value: String)] = []) -> FakeAnswer {
        answer(status, ["error": error, "status": status], headers: headers)
    }

    private func answer(_ status: Int, _ object: [String: Any]?, headers: [(name: String, value: String)] = []) -> FakeAnswer {
        let body = object.flatMap { try? JSONSerialization.data(withJSONObject: $0) } ?? Data()
        return .respond(status: status, headers: headers, body: body)
    }

    private func next() -> Int {
        sequence += 1
        return sequence
    }

    private func uuid() -> String { UUID().uuidString.lowercased() }

    /// An address inside the VPC's range, from the object's order.
    private func address(in vpc: VPC, _ order: Int) -> String {
        let octets = vpc.subnet.split(separator: ".").compactMap { Int($0) }
        guard octets.count == 4 else { return "10.0.0.2" }
        let base = octets.reduce(0) { $0 << 8 | $1 } & ~((1 << (32 - vpc.mask)) - 1)
        let number = base + 2 + order % max(1, (1 << (32 - vpc.mask)) - 4)
        return [24, 16, 8, 0].map { String(number >> $0 & 255) }.joined(separator: ".")
    }

    nonisolated(unsafe) static let formatter = ISO8601DateFormatter()

    static func timestamp(_ date: Date) -> String { formatter.string(from: date) }
}
