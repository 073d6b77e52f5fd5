import Foundation
import Planner
import Providers
import Spec

/// A fake of DigitalOcean API v2 for tests and benchmarks: real HTTP on a loopback port,
/// stateful for the objects kryoform uses (droplets, volumes, VPCs, firewalls, SSH keys, tags,
/// actions), with switches for latency, 429s, 500s, dropped connections and listings that lag
/// behind creates. With a contract, every request is checked against DigitalOcean's official
/// API description (a request it does not allow gets a 400 and is recorded as a violation),
/// and so is every answer. Given real test hosts (`handOut`), each new droplet takes one as its
/// address and has its user data booted there.
public actor FakeDigitalOcean: AnswerHoldingFake, NodeHostingFake {
    public struct Faults: Sendable {
        /// Seconds added to every answer.
        public var latency: Double = 0
        /// Shares of requests answered 429 (with `retry-after`), 500, or dropped. Half of the
        /// 500s and drops happen after the request took effect, as on a real network.
        public var throttleRate: Double = 0
        public var errorRate: Double = 0
        public var dropRate: Double = 0
        /// Seconds a new droplet is missing from listings.
        public var listingLag: Double = 0
        /// Seconds a droplet stays `new`, and an action `in-progress`.
        public var bootTime: Double = 0.05
        public var actionTime: Double = 0.02
        /// The seed of the fault dice.
        public var seed: UInt64 = 1

        public init(latency: Double = 0, throttleRate: Double = 0, errorRate: Double = 0, dropRate: Double = 0, listingLag: Double = 0,
                    bootTime: Double = 0.05, actionTime: Double = 0.02, seed: UInt64 = 1) {
            self.latency = latency
            self.throttleRate = throttleRate
            self.errorRate = errorRate
            self.dropRate = dropRate
            self.listingLag = listingLag
            self.bootTime = bootTime
            self.actionTime = actionTime
            self.seed = seed
        }
    }

    public let token: String
    public let contract: OpenAPIContract?
    public private(set) var faults: Faults
    private var server: LoopbackHTTPServer?
    private var dice: FaultDice

    /// Requests by `METHOD /template`, and what broke the contract.
    public private(set) var requestCounts: [String: Int] = [:]
    public private(set) var violations: [String] = []
    public var faultsInjected: Int { dice.injected }

    private var nextID = 100_000
    private var droplets: [Int: Droplet] = [:]
    private var volumes: [String: Volume] = [:]
    private var vpcs: [String: VPC] = [:]
    private var firewalls: [String: Firewall] = [:]
    private var keys: [Int: Key] = [:]
    private var tags: Set<String> = []
    private var actions: [Int: Action] = [:]
    private var minuteLog: [Date] = []
    /// Scripted faults for one operation (`POST /v2/droplets`): consumed one per request.
    private var answerDelays: [String: Double] = [:]
    /// Kill points (`holdNextAnswer` and the rest: `AnswerHoldingFake`).
    public nonisolated let answerHold = AnswerHold()
    /// Test hosts for new droplets (`handOut` and the rest: `NodeHostingFake`).
    public nonisolated let nodeHosts = NodeHostPool()

    /// A fault for the next request of an operation.
    public typealias ScriptedFault = InjectedFault
    private var hourlyRemaining = 5_000

    struct Droplet {
        var id: Int
        var name: String
        var size: String
        var region: String
        var image: String
        var tags: [String]
        var vpc: String
        var createdAt: Date
        var activeAt: Date
        var poweredOff = false
        var privateAddress: String
        /// Nil: an address of the documentation range, from the id.
        var publicAddress: String? = nil
    }

    struct Volume {
        var id: String
        var name: String
        var size: Int
        var region: String
        var description: String
        var tags: [String]
        var droplet: Int?
        var createdAt: Date
    }

    struct VPC {
        var id: String
        var name: String
        var region: String
        var ipRange: String
        var description: String
        var createdAt: Date
    }

    struct Firewall {
        var id: String
        var name: String
        var inbound: Any
        var outbound: Any
        var tags: [String]
        var createdAt: Date
    }

    struct Key {
        var id: Int
        var name: String
        var publicKey: String
    }

    struct Action {
        var id: Int
        var type: String
        var resourceID: Int
        var resourceType: String
        var region: String
        var startedAt: Date
        var doneAt: Date
    }

    public init(token: String, faults: Faults = Faults(), contract: OpenAPIContract?) {
        self.token = token
        self.faults = faults
        self.contract = contract
        self.dice = FaultDice(seed: faults.seed)
    }

    /// Starts a fake on a free loopback port.
    public static func start(token: String = "fake-do-token-\(UInt32.random(in: 0...UInt32.max))", faults: Faults = Faults(),
                             contract: OpenAPIContract?) async throws -> FakeDigitalOcean {
        let fake = FakeDigitalOcean(token: token, faults: faults, contract: contract)
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

    public func resetCounts() { requestCounts = [:] }

    /// Makes the next request of `operation` (`POST /v2/droplets`) fail as `fault` says.
    public func failNext(_ operation: String, _ fault: ScriptedFault) {
        dice.script(operation, fault)
    }

    /// Holds every answer to `operation` for `seconds` after it took effect (a crash window).
    public func delayAnswers(_ operation: String, seconds: Double) {
        answerDelays[operation] = seconds
    }

    /// Deletes a droplet behind kryoform's back.
    public func deleteDroplet(named name: String) {
        for droplet in droplets.values where droplet.name == name { remove(droplet.id) }
    }

    public var totalRequests: Int { requestCounts.values.reduce(0, +) }

    public func count(_ operation: String) -> Int { requestCounts[operation] ?? 0 }

    // MARK: What exists, for tests

    public struct DropletSummary: Sendable, Hashable {
        public var id: Int
        public var name: String
        public var size: String
        public var status: String
        public var tags: [String]
    }

    public func dropletSummaries() -> [DropletSummary] {
        droplets.values.sorted { $0.id < $1.id }.map {
            DropletSummary(id: $0.id, name: $0.name, size: $0.size, status: status(of: $0, at: Date()), tags: $0.tags)
        }
    }

    /// How many objects of each kind the fake holds, tagged or not.
    public func objectCounts() -> [String: Int] {
        inventory().mapValues(\.count)
    }

    /// The name of every object of each kind the fake holds, tagged or not, kryoform's or not
    /// (a default VPC a droplet create made counts too), sorted: what is really there, not what a
    /// tag-scoped listing shows.
    public func inventory() -> [String: [String]] {
        ["droplets": droplets.values.map(\.name).sorted(), "volumes": volumes.values.map(\.name).sorted(), "vpcs": vpcs.values.map(\.name).sorted(),
         "firewalls": firewalls.values.map(\.name).sorted(), "keys": keys.values.map(\.name).sorted()]
    }

    public func volumeAttachments() -> [String: Int?] {
        Dictionary(uniqueKeysWithValues: volumes.values.map { ($0.name, $0.droplet) })
    }

    /// Makes `count` droplets in one environment directly (for the observation benchmark).
    public func seedDroplets(count: Int, project: String, environment: String, cluster: String, size: String = "s-2vcpu-4gb", region: String = "nyc3") {
        let vpc = VPC(id: uuid(), name: "kf-\(project)-\(environment)", region: region, ipRange: "10.40.0.0/16",
                      description: "kryoform \(project)/\(environment) cidr=10.40.0.0/16", createdAt: Date())
        vpcs[vpc.id] = vpc
        let tagSet = ["kf-project:\(project)", "kf-env:\(environment)", "kf-scope:\(project):\(environment)", "kf-cluster:\(cluster)"]
        tags.formUnion(tagSet)
        for index in 1...count {
            let id = newID()
            droplets[id] = Droplet(id: id, name: "\(project)-\(environment)-\(cluster)-\(index)", size: size, region: region, image: "debian-12-x64",
                                   tags: tagSet, vpc: vpc.id, createdAt: Date(), activeAt: Date(), privateAddress: privateAddress(vpc.ipRange, id))
        }
    }

    // MARK: Handling

    func handle(_ request: ReceivedRequest) async -> FakeAnswer {
        if faults.latency > 0 { try? await Task.sleep(nanoseconds: UInt64(faults.latency * 1e9)) }
        let operation = "\(request.method) \(contract?.template(method: request.method, path: request.path) ?? request.path)"
        requestCounts[operation, default: 0] += 1

        guard request.header("Authorization") == "Bearer \(token)" else {
            return answer(request, 401, ["id": "Unauthorized", "message": "Unable to authenticate you"])
        }
        if let contract {
            let problems = contract.checkRequest(method: request.method, path: request.path, query: request.query,
                                                 body: request.body.isEmpty ? nil : request.body)
            if !problems.isEmpty {
                violations += problems.map { "request \(request.method) \(request.path): \($0)" }
                return answer(request, 400, ["id": "bad_request", "message": problems.joined(separator: "; ")])
            }
        }
        // DigitalOcean's burst limit: 250 requests a minute.
        let now = Date()
        minuteLog.removeAll { now.timeIntervalSince($0) > 60 }
        if minuteLog.count >= 250 {
            return answer(request, 429, ["id": "too_many_requests", "message": "API Rate limit exceeded."], extraHeaders: [("retry-after", "1")])
        }
        minuteLog.append(now)
        hourlyRemaining = max(0, hourlyRemaining - 1)

        var failAfter: FakeAnswer?
        if let fault = dice.next(for: operation, throttleRate: faults.throttleRate, errorRate: faults.errorRate, dropRate: faults.dropRate) {
            let outcome = fault.outcome(
                throttled: { answer(request, 429, ["id": "too_many_requests", "message": "API Rate limit exceeded."], extraHeaders: [("retry-after", "0.05")]) },
                serverError: { answer(request, 500, ["id": "server_error", "message": "Server was unable to give you a response."]) })
            if let now = outcome.now { return now }
            failAfter = outcome.after
        }
        let result = route(request, now: now)
        if answerHold.takes(operation) {
            await withCheckedContinuation { answerHold.hold("\(request.method) \(request.path)", answer: result, release: $0) }
            return .drop
        }
        if let delay = answerDelays[operation] { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
        return failAfter ?? result
    }

    private func route(_ request: ReceivedRequest, now: Date) -> FakeAnswer {
        var segments = request.path.split(separator: "/").map(String.init).dropFirst()  // after "v2"
        var collection = segments.first ?? ""
        if collection == "account", segments.count > 1 {
            collection = "account/keys"
            segments = segments.dropFirst()
        }
        let id = segments.count > 1 ? segments[segments.startIndex + 1] : ""
        let sub = segments.count > 2 ? segments[segments.startIndex + 2] : ""
        let route = [collection, id.isEmpty ? "" : "{id}", sub].filter { !$0.isEmpty }.joined(separator: "/")
        let body = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any] ?? [:]
        switch (request.method, route) {
        case ("GET", "sizes"):
            return page(request, key: "sizes", items: Self.sizes)
        case ("GET", "regions"):
            return page(request, key: "regions", items: Self.regions)
        case ("GET", "droplets"):
            let tag = request.query.first { $0.name == "tag_name" }?.value
            let listed = droplets.values.filter { (tag == nil || $0.tags.contains(tag ?? "")) && now.timeIntervalSince($0.createdAt) >= faults.listingLag }
            return page(request, key: "droplets", objects: listed.sorted { $0.id < $1.id }) { json($0, now: now) }
        case ("POST", "droplets"):
            return createDroplets(request, body, now: now)
        case ("GET", "droplets/{id}"):
            guard let droplet = Int(id).flatMap({ droplets[$0] }) else { return notFound(request) }
            return answer(request, 200, ["droplet": json(droplet, now: now)])
        case ("DELETE", "droplets/{id}"):
            guard let id = Int(id), droplets[id] != nil else { return notFound(request) }
            remove(id)
            return answer(request, 204, nil)
        case ("POST", "droplets/{id}/actions"):
            return dropletAction(request, Int(id), body, now: now)
        case ("GET", "actions/{id}"):
            guard let action = Int(id).flatMap({ actions[$0] }) else { return notFound(request) }
            return answer(request, 200, ["action": json(action, now: now)])
        case ("GET", "volumes"):
            return page(request, key: "volumes", objects: volumes.values.sorted { $0.createdAt < $1.createdAt }) { json($0) }
        case ("POST", "volumes"):
            return createVolume(request, body, now: now)
        case ("GET", "volumes/{id}"):
            guard let volume = volumes[id] else { return notFound(request) }
            return answer(request, 200, ["volume": json(volume)])
        case ("DELETE", "volumes/{id}"):
            guard let volume = volumes[id] else { return notFound(request) }
            if volume.droplet != nil {
                return answer(request, 409, ["id": "conflict", "message": "Volume is currently attached to a Droplet; detach it first."])
            }
            volumes[id] = nil
            return answer(request, 204, nil)
        case ("POST", "volumes/{id}/actions"):
            return volumeAction(request, id, body, now: now)
        case ("GET", "vpcs"):
            return page(request, key: "vpcs", items: vpcs.values.sorted { $0.createdAt < $1.createdAt }.map(json))
        case ("POST", "vpcs"):
            return createVPC(request, body, now: now)
        case ("GET", "vpcs/{id}"):
            guard let vpc = vpcs[id] else { return notFound(request) }
            return answer(request, 200, ["vpc": json(vpc)])
        case ("DELETE", "vpcs/{id}"):
            guard vpcs[id] != nil else { return notFound(request) }
            let members = droplets.values.filter { $0.vpc == id }.count
            if members > 0 {
                return answer(request, 409, ["id": "conflict", "message": "This VPC still has \(members) member resources."])
            }
            vpcs[id] = nil
            return answer(request, 204, nil)
        case ("GET", "firewalls"):
            return page(request, key: "firewalls", items: firewalls.values.sorted { $0.createdAt < $1.createdAt }.map(json))
        case ("POST", "firewalls"):
            return saveFirewall(request, body, id: nil, now: now)
        case ("PUT", "firewalls/{id}"):
            guard firewalls[id] != nil else { return notFound(request) }
            return saveFirewall(request, body, id: id, now: now)
        case ("DELETE", "firewalls/{id}"):
            guard firewalls[id] != nil else { return notFound(request) }
            firewalls[id] = nil
            return answer(request, 204, nil)
        case ("POST", "tags"):
            let name = body["name"] as? String ?? ""
            tags.insert(name)
            return answer(request, 201, ["tag": ["name": name, "resources": ["count": 0] as [String: Any]]])
        case ("GET", "account/keys"):
            return page(request, key: "ssh_keys", items: keys.values.sorted { $0.id < $1.id }.map(json))
        case ("POST", "account/keys"):
            let publicKey = body["public_key"] as? String ?? ""
            if keys.values.contains(where: { Self.sameKey($0.publicKey, publicKey) }) {
                return answer(request, 422, ["id": "unprocessable_entity", "message": "SSH Key is already in use on your account"])
            }
            let key = Key(id: newID(), name: body["name"] as? String ?? "", publicKey: publicKey)
            keys[key.id] = key
            return answer(request, 201, ["ssh_key": json(key)])
        case ("GET", "account/keys/{id}"):
            guard let key = Int(id).flatMap({ keys[$0] }) else { return notFound(request) }
            return answer(request, 200, ["ssh_key": json(key)])
        case ("PUT", "account/keys/{id}"):
            guard let id = Int(id), keys[id] != nil else { return notFound(request) }
            if let name = body["name"] as? String { keys[id]?.name = name }
            return answer(request, 200, ["ssh_key": json(keys[id] ?? Key(id: id, name: "", publicKey: ""))])
        case ("DELETE", "account/keys/{id}"):
            guard let id = Int(id), keys[id] != nil else { return notFound(request) }
            keys[id] = nil
            return answer(request, 204, nil)
        default:
            return answer(request, 404, ["id": "not_found", "message": "The resource you were accessing could not be found."])
        }
    }

    // MARK: Operations

    private func createDroplets(_ request: ReceivedRequest, _ body: [String: Any], now: Date) -> FakeAnswer {
        let names = body["names"] as? [String] ?? (body["name"] as? String).map { [$0] } ?? []
        let region = body["region"] as? String ?? ""
        let sizeSlug = body["size"] as? String ?? ""
        guard !names.isEmpty, names.count <= 10 else {
            return unprocessable(request, "You may only create 1 to 10 Droplets at a time.")
        }
        guard let size = FakeDigitalOceanCatalog.size(sizeSlug) else { return unprocessable(request, "You specified an invalid size for Droplet creation.") }
        guard size.regions.contains(region) else { return unprocessable(request, "Size is not available in this region.") }
        let image = body["image"] as? String ?? ""
        guard FakeDigitalOceanCatalog.images.contains(image) else { return unprocessable(request, "You specified an invalid image for Droplet creation.") }
        for key in body["ssh_keys"] as? [String] ?? [] where !keys.values.contains(where: { String($0.id) == key || fingerprint($0) == key }) {
            return unprocessable(request, "You specified an invalid ssh key id.")
        }
        var vpcID = body["vpc_uuid"] as? String ?? ""
        if vpcID.isEmpty {
            vpcID = vpcs.values.first { $0.region == region && $0.name == "default-\(region)" }?.id ?? {
                let vpc = VPC(id: uuid(), name: "default-\(region)", region: region, ipRange: "10.\(100 + vpcs.count).0.0/20", description: "", createdAt: now)
                vpcs[vpc.id] = vpc
                return vpc.id
            }()
        }
        guard let vpc = vpcs[vpcID] else { return unprocessable(request, "The specified VPC does not exist.") }
        guard vpc.region == region else { return unprocessable(request, "The VPC is not in the Droplet's region.") }
        let ids = names.map { _ in newID() }
        let hosts: [FakeNodeHost]?
        do throws(NodeHostPool.Refusal) {
            hosts = try nodeHosts.boot(zip(ids, names).map { (String($0), $1) }, userData: body["user_data"] as? String)
        } catch {
            if case .noHostLeft = error { return unprocessable(request, error.description) }
            return answer(request, 500, ["id": "server_error", "message": error.description])
        }
        let dropletTags = body["tags"] as? [String] ?? []
        tags.formUnion(dropletTags)
        var made: [Droplet] = []
        for (index, (id, name)) in zip(ids, names).enumerated() {
            let host = hosts?[index].address
            let droplet = Droplet(id: id, name: name, size: sizeSlug, region: region, image: image, tags: dropletTags, vpc: vpcID, createdAt: now,
                                  activeAt: now.addingTimeInterval(faults.bootTime), privateAddress: host ?? privateAddress(vpc.ipRange, id),
                                  publicAddress: host)
            droplets[id] = droplet
            made.append(droplet)
        }
        let links: [[String: Any]] = made.map { ["id": newID(), "rel": "create", "href": "https://api.digitalocean.com/v2/actions/\($0.id)"] }
        if body["names"] != nil {
            return answer(request, 202, ["droplets": made.map { json($0, now: now) }, "links": ["actions": links]])
        }
        return answer(request, 202, ["droplet": made.map { json($0, now: now) }.first ?? [:], "links": ["actions": links]])
    }

    /// Deletes a droplet: its volumes are detached and its test host is free again.
    private func remove(_ id: Int) {
        droplets[id] = nil
        nodeHosts.release(String(id))
        for volume in volumes.values where volume.droplet == id { volumes[volume.id]?.droplet = nil }
    }

    /// A volume as its droplet sees it: DigitalOcean documents its disk as
    /// /dev/disk/by-id/scsi-0DO_Volume_<volume name>.
    private func disk(_ volume: Volume) -> FakeDisk { FakeDisk(id: volume.id, linkName: "scsi-0DO_Volume_\(volume.name)") }

    private func dropletAction(_ request: ReceivedRequest, _ id: Int?, _ body: [String: Any], now: Date) -> FakeAnswer {
        guard let id, var droplet = droplets[id] else { return notFound(request) }
        let type = body["type"] as? String ?? ""
        switch type {
        case "power_off": droplet.poweredOff = true
        case "power_on": droplet.poweredOff = false
        case "resize":
            guard droplet.poweredOff else { return unprocessable(request, "Droplet must be powered off before resizing.") }
            guard let size = (body["size"] as? String).flatMap({ FakeDigitalOceanCatalog.size($0) }), size.regions.contains(droplet.region) else {
                return unprocessable(request, "Size is not available in this region.")
            }
            droplet.size = size.slug
        default:
            return unprocessable(request, "The action type '\(type)' is not supported by this fake.")
        }
        droplets[id] = droplet
        let action = Action(id: newID(), type: type, resourceID: id, resourceType: "droplet", region: droplet.region, startedAt: now,
                            doneAt: now.addingTimeInterval(faults.actionTime))
        actions[action.id] = action
        return answer(request, 201, ["action": json(action, now: now)])
    }

    private func createVolume(_ request: ReceivedRequest, _ body: [String: Any], now: Date) -> FakeAnswer {
        let name = body["name"] as? String ?? ""
        let region = body["region"] as? String ?? ""
        let size = body["size_gigabytes"] as? Int ?? 0
        guard (1...16_384).contains(size) else { return unprocessable(request, "Volume size must be between 1 and 16384 GiB.") }
        guard FakeDigitalOceanCatalog.regions.contains(where: { $0.slug == region }) else { return unprocessable(request, "Invalid region.") }
        if volumes.values.contains(where: { $0.name == name && $0.region == region }) {
            return unprocessable(request, "A volume with the name '\(name)' already exists in this region.")
        }
        let volumeTags = body["tags"] as? [String] ?? []
        tags.formUnion(volumeTags)
        let volume = Volume(id: uuid(), name: name, size: size, region: region, description: body["description"] as? String ?? "", tags: volumeTags,
                            droplet: nil, createdAt: now)
        volumes[volume.id] = volume
        return answer(request, 201, ["volume": json(volume)])
    }

    private func volumeAction(_ request: ReceivedRequest, _ id: String, _ body: [String: Any], now: Date) -> FakeAnswer {
        guard var volume = volumes[id] else { return notFound(request) }
        let type = body["type"] as? String ?? ""
        switch type {
        case "attach":
            guard let dropletID = body["droplet_id"] as? Int, let droplet = droplets[dropletID] else { return notFound(request) }
            guard droplet.region == volume.region else { return unprocessable(request, "Volume and Droplet must be in the same region.") }
            guard status(of: droplet, at: now) == "active" else { return unprocessable(request, "Droplet is not active; wait for it to boot.") }
            if let current = volume.droplet, current != dropletID {
                return unprocessable(request, "Volume is already attached to another Droplet.")
            }
            volume.droplet = dropletID
        case "detach":
            guard volume.droplet != nil else { return unprocessable(request, "Volume is not attached.") }
            volume.droplet = nil
        case "resize":
            guard let size = body["size_gigabytes"] as? Int, size > volume.size else { return unprocessable(request, "A volume can only grow.") }
            volume.size = size
        default:
            return unprocessable(request, "The action type '\(type)' is not supported.")
        }
        volumes[id] = volume
        switch type {
        case "attach": nodeHosts.attached(disk(volume), toNode: String(volume.droplet ?? 0))
        case "detach": nodeHosts.detached(disk(volume))
        default: nodeHosts.grew(disk(volume))
        }
        let action = Action(id: newID(), type: type == "resize" ? "resize" : "\(type)_volume", resourceID: 0, resourceType: "volume", region: volume.region,
                            startedAt: now, doneAt: now.addingTimeInterval(faults.actionTime))
        actions[action.id] = action
        return answer(request, 202, ["action": json(action, now: now)])
    }

    private func createVPC(_ request: ReceivedRequest, _ body: [String: Any], now: Date) -> FakeAnswer {
        let name = body["name"] as? String ?? ""
        if vpcs.values.contains(where: { $0.name == name }) {
            return unprocessable(request, "A VPC with name '\(name)' already exists.")
        }
        let region = body["region"] as? String ?? ""
        guard FakeDigitalOceanCatalog.regions.contains(where: { $0.slug == region }) else { return unprocessable(request, "Invalid region.") }
        let vpc = VPC(id: uuid(), name: name, region: region, ipRange: body["ip_range"] as? String ?? "10.\(110 + vpcs.count % 100).0.0/20",
                      description: body["description"] as? String ?? "", createdAt: now)
        vpcs[vpc.id] = vpc
        return answer(request, 201, ["vpc": json(vpc)])
    }

    private func saveFirewall(_ request: ReceivedRequest, _ body: [String: Any], id: String?, now: Date) -> FakeAnswer {
        let firewallTags = body["tags"] as? [String] ?? []
        for tag in firewallTags where !tags.contains(tag) {
            return unprocessable(request, "tag \(tag) does not exist; create it first")
        }
        let name = body["name"] as? String ?? ""
        if id == nil, firewalls.values.contains(where: { $0.name == name }) {
            return unprocessable(request, "A firewall named '\(name)' already exists.")
        }
        let firewall = Firewall(id: id ?? uuid(), name: name, inbound: body["inbound_rules"] ?? [Any](), outbound: body["outbound_rules"] ?? [Any](),
                                tags: firewallTags, createdAt: id.flatMap { firewalls[$0]?.createdAt } ?? now)
        firewalls[firewall.id] = firewall
        return answer(request, id == nil ? 202 : 200, ["firewall": json(firewall)])
    }

    // MARK: JSON

    private func json(_ droplet: Droplet, now: Date) -> [String: Any] {
        let size = Self.sizeBySlug[droplet.size] ?? [:]
        let region = Self.regionBySlug[droplet.region] ?? [:]
        return [
            "id": droplet.id, "name": droplet.name, "memory": size["memory"] ?? 0, "vcpus": size["vcpus"] ?? 0, "disk": size["disk"] ?? 0,
            "locked": false, "status": status(of: droplet, at: now), "created_at": Self.timestamp(droplet.createdAt), "features": ["private_networking"],
            "backup_ids": [Int](), "next_backup_window": NSNull(), "snapshot_ids": [Int](),
            "image": ["id": 100, "name": "12 x64", "type": "base", "distribution": "Debian", "slug": droplet.image, "public": true,
                      "regions": Self.imageRegions, "created_at": "2025-01-01T00:00:00Z", "min_disk_size": 15,
                      "size_gigabytes": 2.5, "description": "Debian 12 x64", "tags": [String](), "status": "available", "error_message": ""] as [String: Any],
            "volume_ids": volumes.values.filter { $0.droplet == droplet.id }.map(\.id).sorted(),
            "size": size, "size_slug": droplet.size,
            "networks": ["v4": [
                ["ip_address": droplet.privateAddress, "netmask": "255.255.0.0", "gateway": "", "type": "private"],
                ["ip_address": droplet.publicAddress ?? "198.51.100.\(droplet.id % 250 + 2)", "netmask": "255.255.240.0", "gateway": "198.51.100.1", "type": "public"],
            ], "v6": [Any]()] as [String: Any],
            "region": region, "tags": droplet.tags, "vpc_uuid": droplet.vpc,
        ]
    }

    private func json(_ volume: Volume) -> [String: Any] {
        let region = Self.regionBySlug[volume.region] ?? [:]
        return ["id": volume.id, "droplet_ids": volume.droplet.map { [$0] } ?? [Int](), "name": volume.name, "description": volume.description,
                "size_gigabytes": volume.size, "created_at": Self.timestamp(volume.createdAt), "tags": volume.tags, "region": region,
                "filesystem_type": "", "filesystem_label": ""]
    }

    private func json(_ vpc: VPC) -> [String: Any] {
        ["id": vpc.id, "name": vpc.name, "description": vpc.description, "region": vpc.region, "ip_range": vpc.ipRange, "default": vpc.name.hasPrefix("default-"),
         "urn": "do:vpc:\(vpc.id)", "created_at": Self.timestamp(vpc.createdAt)]
    }

    private func json(_ firewall: Firewall) -> [String: Any] {
        let members = droplets.values.filter { droplet in firewall.tags.contains { droplet.tags.contains($0) } }.map(\.id).sorted()
        return ["id": firewall.id, "name": firewall.name, "status": "succeeded", "created_at": Self.timestamp(firewall.createdAt),
                "pending_changes": [Any](), "droplet_ids": members, "tags": firewall.tags, "inbound_rules": firewall.inbound, "outbound_rules": firewall.outbound]
    }

    private func json(_ key: Key) -> [String: Any] {
        ["id": key.id, "fingerprint": fingerprint(key), "public_key": key.publicKey, "name": key.name]
    }

    private func json(_ action: Action, now: Date) -> [String: Any] {
        let done = now >= action.doneAt
        return ["id": action.id, "status": done ? "completed" : "in-progress", "type": action.type, "started_at": Self.timestamp(action.startedAt),
                "completed_at": done ? Self.timestamp(action.doneAt) : NSNull(), "resource_id": action.resourceID, "resource_type": action.resourceType,
                "region": Self.regionBySlug[action.region] ?? [:], "region_slug": action.region]
    }

    private func status(of droplet: Droplet, at now: Date) -> String {
        if droplet.poweredOff { return "off" }
        return now >= droplet.activeAt ? "active" : "new"
    }

    private func fingerprint(_ key: Key) -> String {
        let blob = key.publicKey.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let digest = ContentHash.sha256(blob)
        return stride(from: 0, to: 32, by: 2).map { offset -> String in
            let start = digest.index(digest.startIndex, offsetBy: offset)
            return String(digest[start..<digest.index(start, offsetBy: 2)])
        }.joined(separator: ":")
    }

    static func sameKey(_ left: String, _ right: String) -> Bool {
        Array(left.split(separator: " ").prefix(2)) == Array(right.split(separator: " ").prefix(2))
    }

    // MARK: Answers

    private func page(_ request: ReceivedRequest, key: String, items: [[String: Any]]) -> FakeAnswer {
        page(request, key: key, objects: items) { $0 }
    }

    /// One page of `objects`, only that page's objects turned into JSON.
    private func page<Object>(_ request: ReceivedRequest, key: String, objects: [Object], json: (Object) -> [String: Any]) -> FakeAnswer {
        let perPage = min(200, max(1, request.query.first { $0.name == "per_page" }.flatMap { Int($0.value) } ?? 20))
        let pageNumber = max(1, request.query.first { $0.name == "page" }.flatMap { Int($0.value) } ?? 1)
        let start = min(objects.count, (pageNumber - 1) * perPage)
        let slice = objects[start..<min(objects.count, start + perPage)].map(json)
        let items = objects
        var pages: [String: Any] = [:]
        let others = request.query.filter { $0.name != "page" && $0.name != "per_page" }.map { "&\($0.name)=\($0.value)" }.joined()
        let link = { (number: Int) in "https://api.digitalocean.com\(request.path)?page=\(number)&per_page=\(perPage)\(others)" }
        let last = max(1, (items.count + perPage - 1) / perPage)
        if pageNumber < last {
            pages["next"] = link(pageNumber + 1)
            pages["last"] = link(last)
        }
        if pageNumber > 1 {
            pages["first"] = link(1)
            pages["prev"] = link(pageNumber - 1)
        }
        return answer(request, 200, [key: slice, "links": ["pages": pages], "meta": ["total": items.count]])
    }

    private func notFound(_ request: ReceivedRequest) -> FakeAnswer {
        answer(request, 404, ["id": "not_found", "message": "The resource you were accessing could not be found."])
    }

    private func unprocessable(_ request: ReceivedRequest, _ message: String) -> FakeAnswer {
        answer(request, 422, ["id": "unprocessable_entity", "message": message])
    }

    private func answer(_ request: ReceivedRequest, _ status: Int, _ object: [String: Any]?, extraHeaders: [(name: String, value: String)] = []) -> FakeAnswer {
        var body = Data()
        if var object {
            if status >= 400 { object["request_id"] = uuid() }
            body = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        }
        if let contract {
            let problems = contract.checkResponse(method: request.method, path: request.path, status: status, body: body.isEmpty ? nil : body)
            violations += problems.map { "answer \(status) to \(request.method) \(request.path): \($0)" }
        }
        let reset = Int(Date().timeIntervalSince1970) + 3_600
        let headers = [("ratelimit-limit", "5000"), ("ratelimit-remaining", String(hourlyRemaining)), ("ratelimit-reset", String(reset))] + extraHeaders
        return .respond(status: status, headers: headers, body: body)
    }

    private func newID() -> Int {
        nextID += 1
        return nextID
    }

    private func uuid() -> String { UUID().uuidString.lowercased() }

    private func privateAddress(_ range: String, _ id: Int) -> String {
        let octets = range.split(separator: "/").first?.split(separator: ".").compactMap { Int($0) } ?? [10, 0, 0, 0]
        guard octets.count == 4 else { return "10.0.0.2" }
        return "\(octets[0]).\(octets[1]).\(id / 250 % 250).\(id % 250 + 2)"
    }

    nonisolated(unsafe) static let formatter = ISO8601DateFormatter()

    static func timestamp(_ date: Date) -> String {
        formatter.string(from: date)
    }

    // MARK: Catalog (the fake's own, FakeDigitalOceanCatalog, as DigitalOcean serves it)

    /// The description's enum of image regions predates atl1.
    static let imageRegions = FakeDigitalOceanCatalog.regions.map(\.slug).filter { $0 != "atl1" }

    nonisolated(unsafe) static let sizes: [[String: Any]] = FakeDigitalOceanCatalog.sizes.map { (size: FakeDigitalOceanCatalog.Size) -> [String: Any] in
        let hourly: Double = (size.monthly / 672 * 100_000).rounded() / 100_000
        var object: [String: Any] = [
            "slug": size.slug, "memory": size.memoryMiB, "vcpus": size.vcpus, "disk": size.diskGiB,
            "transfer": size.gpus > 0 ? 15.0 : 4.0, "price_monthly": size.monthly, "price_hourly": hourly,
            "regions": size.regions, "available": true, "description": size.gpus > 0 ? "GPU" : "Basic",
        ]
        if size.gpus > 0 {
            let vram: [String: Any] = ["amount": size.gpuMemoryGiB, "unit": "gib"]
            object["gpu_info"] = ["count": size.gpus, "model": size.gpuModel ?? "", "vram": vram] as [String: Any]
        }
        return object
    }

    nonisolated(unsafe) static let sizeBySlug: [String: [String: Any]] = Dictionary(sizes.map { ($0["slug"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    nonisolated(unsafe) static let regionBySlug: [String: [String: Any]] = Dictionary(regions.map { ($0["slug"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })

    nonisolated(unsafe) static let regions: [[String: Any]] = FakeDigitalOceanCatalog.regions.map { region in
        ["name": region.name, "slug": region.slug, "features": ["backups", "ipv6", "metadata", "install_agent", "storage"], "available": true,
         "sizes": FakeDigitalOceanCatalog.sizes.filter { $0.regions.contains(region.slug) }.map(\.slug)]
    }
}
