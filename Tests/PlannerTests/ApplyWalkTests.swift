import Foundation
@testable import Planner
import Testing

/// A fake driver of the project's own, for what no real provider does on demand: fail a given
/// address, throttle, and count how many calls run at once. Keeps its world in memory.
actor FakeDriver: ResourceDriver {
    var world: [String: ObservedResource] = [:]
    var failing: Set<ResourceAddress>
    /// Addresses whose create or update makes the resource but fails in part (`madeDespite`).
    var partlyFailing: Set<ResourceAddress> = []
    var throttleFirst: Int
    var running = 0
    var mostAtOnce = 0
    var calls: [String] = []
    /// The idempotency token of every create sent, by address, in order.
    var tokens: [ResourceAddress: [String]] = [:]
    var nextID = 1
    /// Checked at each create: the state must already record the intent.
    let store: MemoryStateStore?

    init(failing: Set<ResourceAddress> = [], throttleFirst: Int = 0, store: MemoryStateStore? = nil) {
        self.failing = failing
        self.throttleFirst = throttleFirst
        self.store = store
    }

    nonisolated func batchLimit(_ kind: ResourceKind) -> Int { kind == .node ? 10 : 1 }

    func observe(_ scope: ResourceScope) async throws -> [ObservedResource] { Array(world.values) }

    /// Each call waits, for a bounded number of turns, until this many calls are in flight, so a
    /// walk that could run them together is seen doing so (and one that runs them one by one is
    /// seen running one). 1: calls go through at once.
    var gatherUpTo = 1

    private func enter(_ call: String) async {
        calls.append(call)
        running += 1
        mostAtOnce = max(mostAtOnce, running)
        var turns = 0
        while running < gatherUpTo && turns < 2_000 {
            await Task.yield()
            turns += 1
        }
    }

    func gather(upTo calls: Int) { gatherUpTo = calls }

    func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        await enter("create " + requests.map(\.address.rawValue).joined(separator: ","))
        defer { running -= 1 }
        for request in requests { tokens[request.address, default: []].append(request.inputs[ResourceRequest.idempotencyTokenInput] ?? "") }
        if throttleFirst > 0 {
            throttleFirst -= 1
            return requests.map { _ in .failure(ProviderError(.throttled, "429", retryAfter: 0, nothingWasDone: true)) }
        }
        return requests.map { request in
            if let state = try? store?.read(), state.resource(request.address)?.status != .creating, state.resource(request.address)?.providerID == nil {
                return .failure(ProviderError(.failed, "no intent recorded for \(request.address) before its create"))
            }
            if failing.contains(request.address) { return .failure(ProviderError(.failed, "injected failure", nothingWasDone: true)) }
            let resource = ObservedResource(address: request.address, kind: request.kind, providerID: "f-\(nextID)", attributes: request.attributes)
            nextID += 1
            world[resource.providerID] = resource
            if partlyFailing.contains(request.address) { return .failure(ProviderError(.failed, "made, one part failed", madeDespite: resource)) }
            return .success(resource)
        }
    }

    func update(_ request: ResourceRequest) async throws -> ObservedResource {
        await enter("update \(request.address)")
        defer { running -= 1 }
        guard let id = request.current?.providerID, var resource = world[id] else { throw ProviderError(.notFound, "gone") }
        resource.attributes = request.attributes
        world[id] = resource
        if partlyFailing.contains(request.address) { throw ProviderError(.failed, "changed, one part failed", madeDespite: resource) }
        return resource
    }

    func failInPart(_ address: ResourceAddress) { partlyFailing.insert(address) }

    func delete(_ resource: ObservedResource) async throws {
        await enter("delete \(resource.address)")
        defer { running -= 1 }
        if failing.contains(resource.address) { throw ProviderError(.failed, "injected failure") }
        world[resource.providerID] = nil
    }

    func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] { resources }
}

/// A state store in memory (a fake), counting writes.
final class MemoryStateStore: StateStore, @unchecked Sendable {
    private let lock = NSLock()
    private var state: State?
    private var held: LockInfo?
    private(set) var writes = 0

    init(_ state: State? = nil) { self.state = state }

    func read() throws -> State? { lock.withLock { state } }
    func write(_ state: State) throws { lock.withLock { self.state = state; writes += 1 } }
    func lock(_ info: LockInfo) throws {
        try lock.withLock {
            if let held { throw StateLockError.held(environment: "e", by: held) }
            held = info
        }
    }
    func unlock(id: String) throws { lock.withLock { if held?.id == id { held = nil } } }
    func currentLock() throws -> LockInfo? { lock.withLock { held } }
    func breakLock(_ holder: LockInfo) throws -> Bool {
        lock.withLock {
            guard held?.id == holder.id else { return false }
            held = nil
            return true
        }
    }
}

@Suite("The apply walk")
struct ApplyWalkTests {
    let scope = ResourceScope(project: "p", environment: "e")

    func walk(_ plan: Plan, driver: FakeDriver, store: MemoryStateStore, parallelism: Int = 10, interruption: Interruption = Interruption()) async -> ApplyResult {
        let recorder = StateRecorder(store: store, state: State(project: "p", environment: "e"))
        return await ApplyWalk(plan: plan, scope: scope, driver: { _ in driver }, recorder: recorder, parallelism: parallelism,
                               interruption: interruption, sleep: { _ in }).run()
    }

    /// Network, key, `count` nodes each with a volume.
    func fleet(_ count: Int) -> [DesiredResource] {
        [World.network, World.key] + (1...count).flatMap { [World.node("app", $0), World.volume("app", $0, gib: 10)] }
    }

    @Test("creates run after what they depend on, nodes in batches, at most `parallelism` calls at once; state is written after each")
    func testApply_ordersBatchesAndBounds() async throws {
        let store = MemoryStateStore()
        let driver = FakeDriver(store: store)
        await driver.gather(upTo: 4)
        let plan = World.plan(fleet(25), observed: [], state: nil)
        let result = await walk(plan, driver: driver, store: store, parallelism: 3)
        #expect(result.succeeded)
        #expect(result.outcomes.count == 52)
        let calls = await driver.calls
        let firstNode = calls.firstIndex { $0.hasPrefix("create node") } ?? -1
        #expect(firstNode > calls.firstIndex(of: "create network") ?? 99)
        #expect(firstNode > calls.firstIndex(of: "create ssh_key") ?? 99)
        #expect(calls.filter { $0.hasPrefix("create node") }.count == 3)
        #expect(await driver.mostAtOnce == 3, "25 volumes with parallelism 3: three at a time, never more, never fewer")
        let state = try #require(try store.read())
        #expect(state.resources.count == 52)
        #expect(state.resources.allSatisfy { $0.status == .ready && $0.providerID != nil })
        #expect(store.writes >= 27)
        #expect(state.serial == store.writes)
    }

    @Test("a failed create skips only its dependents; independent branches go on")
    func testApply_failureSkipsOnlyDependents() async throws {
        let store = MemoryStateStore()
        let driver = FakeDriver(failing: [.node(cluster: "app", index: 2)], store: store)
        let result = await walk(World.plan(fleet(3), observed: [], state: nil), driver: driver, store: store)
        #expect(!result.succeeded)
        let byAddress = Dictionary(result.outcomes.map { ($0.address.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byAddress["node.app.2"]?.status == .failed)
        #expect(byAddress["volume.app.2.data"]?.status == .skipped)
        #expect(byAddress["volume.app.2.data"]?.message == "node.app.2 failed")
        #expect(byAddress["node.app.1"]?.status == .done)
        #expect(byAddress["volume.app.3.data"]?.status == .done)
        let state = try #require(try store.read())
        #expect(state.resource(.node(cluster: "app", index: 2)) == nil, "a refused create leaves no intent behind")
        #expect(state.resources.count == 6)
    }

    @Test("a create that fails in part (madeDespite) is recorded and fails, and its dependents go on")
    func testApply_partFailureLetsDependentsGoOn() async throws {
        let store = MemoryStateStore()
        let driver = FakeDriver(store: store)
        await driver.failInPart(.node(cluster: "app", index: 2))
        let result = await walk(World.plan(fleet(3), observed: [], state: nil), driver: driver, store: store)
        #expect(!result.succeeded, "the run still fails")
        let byAddress = Dictionary(result.outcomes.map { ($0.address.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byAddress["node.app.2"]?.status == .failed && byAddress["node.app.2"]?.message == "made, one part failed")
        #expect(byAddress["volume.app.2.data"]?.status == .done, "its dependent went on: \(byAddress["volume.app.2.data"]?.message ?? "")")
        let state = try #require(try store.read())
        #expect(state.resource(.node(cluster: "app", index: 2))?.providerID != nil, "what it made is recorded")
        #expect(state.resources.count == 8)
    }

    @Test("an update that fails in part records what it changed and lets its dependents go on")
    func testApply_partFailedUpdate() async throws {
        let resources = fleet(1)
        let observed = resources.map { World.observed($0) }
        let state = World.state(observed, dependsOn: Dictionary(uniqueKeysWithValues: resources.map { ($0.address, $0.dependsOn) }))
        var changed = resources
        for index in changed.indices where changed[index].address == .node(cluster: "app", index: 1) { changed[index].attributes["size"] = "bigger" }
        for index in changed.indices where changed[index].kind == .volume { changed[index].attributes["size_gib"] = "99" }
        let store = MemoryStateStore(state)
        let driver = FakeDriver(store: store)
        for resource in observed { await driver.seed(resource) }
        await driver.failInPart(.node(cluster: "app", index: 1))
        let plan = World.plan(changed, observed: observed, state: state)
        let result = await ApplyWalk(plan: plan, scope: scope, driver: { _ in driver }, recorder: StateRecorder(store: store, state: state), sleep: { _ in }).run()
        let statuses = Dictionary(result.outcomes.map { ($0.address.rawValue, $0.status) }, uniquingKeysWith: { first, _ in first })
        #expect(statuses["node.app.1"] == .failed)
        #expect(statuses["volume.app.1.data"] == .done, "\(result.outcomes)")
        #expect(try store.read()?.resource(.node(cluster: "app", index: 1))?.attributes["size"] == "bigger", "the change made is recorded")
    }

    @Test("deletes go in reverse dependency order, a failed delete keeps what it depends on")
    func testApply_deletesInReverseOrder() async throws {
        let resources = fleet(2)
        let observed = resources.map { World.observed($0) }
        let state = World.state(observed, dependsOn: Dictionary(uniqueKeysWithValues: resources.map { ($0.address, $0.dependsOn) }))
        let store = MemoryStateStore(state)
        let driver = FakeDriver(failing: [.volume(cluster: "app", index: 1, name: "data")], store: store)
        for resource in observed { await driver.seed(resource) }
        let plan = World.plan(resources, observed: observed, state: state, mode: .destroy)
        let recorder = StateRecorder(store: store, state: state)
        let result = await ApplyWalk(plan: plan, scope: scope, driver: { _ in driver }, recorder: recorder, sleep: { _ in }).run()
        let calls = await driver.calls
        #expect(calls.firstIndex(of: "delete volume.app.2.data")! < calls.firstIndex(of: "delete node.app.2")!)
        #expect(!calls.contains("delete node.app.1"))
        #expect(!calls.contains("delete network"))
        let statuses = Dictionary(result.outcomes.map { ($0.address.rawValue, $0.status) }, uniquingKeysWith: { first, _ in first })
        #expect(statuses["node.app.1"] == .skipped)
        #expect(statuses["node.app.2"] == .done)
        #expect(try store.read()?.resources.map(\.address.rawValue).sorted() == ["network", "node.app.1", "ssh_key", "volume.app.1.data"])
    }

    @Test("replace: delete-then-create for a node, create-then-delete for a key")
    func testApply_replaceStrategies() async throws {
        let resources = [World.network, World.key, World.node("app", 1)]
        let observed = resources.map { World.observed($0) }
        let state = World.state(observed)
        var key = World.key
        key.attributes["public_key"] = "SHA256:new"
        let plan = World.plan([World.network, key, World.node("app", 1, region: "ams3")], observed: observed, state: state)
        let store = MemoryStateStore(state)
        let driver = FakeDriver()
        for resource in observed { await driver.seed(resource) }
        let result = await ApplyWalk(plan: plan, scope: scope, driver: { _ in driver }, recorder: StateRecorder(store: store, state: state),
                                     sleep: { _ in }).run()
        #expect(result.succeeded)
        let calls = await driver.calls
        #expect(calls.firstIndex(of: "delete node.app.1")! < calls.firstIndex(of: "create node.app.1")!)
        #expect(calls.firstIndex(of: "create ssh_key")! < calls.firstIndex(of: "delete ssh_key")!)
        let recorded = try #require(try store.read())
        #expect(recorded.resource(.sshKey)?.attributes["public_key"] == "SHA256:new")
        #expect(recorded.resource(.node(cluster: "app", index: 1))?.attributes["region"] == "ams3")
        #expect(await driver.world.count == 3)
    }

    @Test("a throttled create is sent again after the wait and succeeds")
    func testApply_retriesThrottling() async throws {
        let store = MemoryStateStore()
        let driver = FakeDriver(throttleFirst: 2, store: store)
        let result = await walk(World.plan([World.network], observed: [], state: nil), driver: driver, store: store)
        #expect(result.succeeded)
        #expect(await driver.calls == ["create network", "create network", "create network"])
    }

    @Test("every try of one planned create carries the same idempotency token; another address or another plan basis, another token")
    func testApply_idempotencyTokens() async throws {
        let store = MemoryStateStore()
        let driver = FakeDriver(throttleFirst: 2, store: store)
        let plan = World.plan([World.network, World.key], observed: [], state: World.state([]))
        #expect(await walk(plan, driver: driver, store: store).succeeded)
        let tokens = await driver.tokens
        let network = try #require(tokens[.network])
        #expect(network.count + (tokens[.sshKey]?.count ?? 0) == 4, "two throttled tries and one that worked, plus the key")
        #expect(Set(network).count == 1)
        #expect(network[0].count == 32 && network[0].allSatisfy(\.isHexDigit))
        #expect(tokens[.sshKey]?.first != network[0])
        // The same planned create, run again (after a crash before anything was recorded): the same token.
        #expect(ResourceRequest.idempotencyToken(basis: plan.basis, scope: scope, address: .network) == network[0])
        // The next plan (the state moved on): a new token.
        var later = plan.basis
        later.stateSerial += 1
        #expect(ResourceRequest.idempotencyToken(basis: later, scope: scope, address: .network) != network[0])
    }

    @Test("an interruption before the start leaves every action not started and the state untouched")
    func testApply_interruptionStartsNothing() async throws {
        let store = MemoryStateStore()
        let interruption = Interruption()
        interruption.request()
        let result = await walk(World.plan(fleet(2), observed: [], state: nil), driver: FakeDriver(), store: store, interruption: interruption)
        #expect(result.interrupted)
        #expect(result.outcomes.allSatisfy { $0.status == .notStarted })
        #expect(store.writes == 0)
    }
}

extension FakeDriver {
    func seed(_ resource: ObservedResource) { world[resource.providerID] = resource }
}
