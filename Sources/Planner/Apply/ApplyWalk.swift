import Foundation

/// Something that happened during an apply, for progress output.
public enum ApplyEvent: Sendable {
    case started(ResourceAddress, verb: String)
    case waiting(ResourceAddress, what: String)
    case retrying(ResourceAddress, after: Double, reason: String)
    case finished(ResourceAddress, verb: String, seconds: Double)
    case failed(ResourceAddress, verb: String, message: String, seconds: Double)
    case skipped(ResourceAddress, cause: String)
}

/// What became of each change.
public struct ApplyOutcome: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable {
        case done, failed, skipped
        /// Not started because the run was interrupted.
        case notStarted = "not-started"
    }

    public var address: ResourceAddress
    public var action: PlanChange.Action
    public var stateOnly: PlanChange.StateOnly?
    public var status: Status
    public var message: String?
}

public struct ApplyResult: Sendable {
    public var outcomes: [ApplyOutcome]
    public var interrupted: Bool
    public var seconds: Double
    public var stateWrites: Int

    public var failed: [ApplyOutcome] { outcomes.filter { $0.status == .failed } }
    public var succeeded: Bool { !interrupted && !outcomes.contains { $0.status != .done } }
}

/// Set from a signal handler; the walk starts no new action once it is set.
public final class Interruption: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false

    public init() {}

    public var isRequested: Bool { lock.withLock { flag } }

    public func request() { lock.withLock { flag = true } }
}

/// Carries out a plan: its operations in dependency order, at most `parallelism` at a time,
/// recording every result in the state as it comes.
public struct ApplyWalk: Sendable {
    public var plan: Plan
    public var scope: ResourceScope
    /// The driver for each kind: the cloud provider, or the node configuration.
    public var driver: @Sendable (ResourceKind) -> ResourceDriver
    public var recorder: StateRecorder
    /// Values creates need that are not compared, by address.
    public var inputs: [ResourceAddress: [String: String]]
    public var parallelism: Int
    public var interruption: Interruption
    public var events: @Sendable (ApplyEvent) -> Void
    /// Waits that many seconds; tests make it instant.
    public var sleep: @Sendable (Double) async -> Void
    public var maxAttempts = 6

    public init(plan: Plan, scope: ResourceScope, driver: @escaping @Sendable (ResourceKind) -> ResourceDriver, recorder: StateRecorder,
                inputs: [ResourceAddress: [String: String]] = [:], parallelism: Int = 10, interruption: Interruption = Interruption(),
                events: @escaping @Sendable (ApplyEvent) -> Void = { _ in },
                sleep: @escaping @Sendable (Double) async -> Void = { try? await Task.sleep(nanoseconds: UInt64($0 * 1e9)) }) {
        self.plan = plan
        self.scope = scope
        self.driver = driver
        self.recorder = recorder
        self.inputs = inputs
        self.parallelism = max(1, parallelism)
        self.interruption = interruption
        self.events = events
        self.sleep = sleep
    }

    public func run() async -> ApplyResult {
        let started = Date()
        let graph = ApplyGraph(plan: plan)
        let operations = graph.operations
        var successors: [Int: [Int]] = [:]
        for operation in operations {
            for prerequisite in operation.prerequisites { successors[prerequisite, default: []].append(operation.id) }
        }
        var remaining = Dictionary(uniqueKeysWithValues: operations.map { ($0.id, $0.prerequisites.count) })
        var status: [Int: (ApplyOutcome.Status, String?)] = [:]
        var ready = operations.filter(\.prerequisites.isEmpty).map(\.id)
        var interrupted = false

        await withTaskGroup(of: [Finished].self) { group in
            var running = 0
            while true {
                if interruption.isRequested { interrupted = true }
                while !interrupted, running < parallelism, !ready.isEmpty {
                    let batch = takeBatch(from: &ready, operations: operations)
                    running += 1
                    group.addTask { await execute(batch.map { operations[$0] }) }
                }
                guard running > 0, let results = await group.next() else { break }
                running -= 1
                for (id, failure, dependentsGoOn) in results {
                    if let failure {
                        status[id] = (.failed, failure)
                        if !dependentsGoOn { skip(dependentsOf: id, cause: operations[id].change.address); continue }
                    } else {
                        status[id] = (.done, nil)
                    }
                    for next in successors[id] ?? [] where status[next] == nil {
                        remaining[next, default: 1] -= 1
                        if remaining[next] == 0 { ready.append(next) }
                    }
                }
            }
        }

        func skip(dependentsOf failed: Int, cause: ResourceAddress) {
            var queue = successors[failed] ?? []
            while let next = queue.popLast() {
                guard status[next] == nil else { continue }
                status[next] = (.skipped, "\(cause) failed")
                events(.skipped(operations[next].change.address, cause: "\(cause) failed"))
                queue += successors[next] ?? []
            }
        }

        // Fold operations into one outcome per change (a replace has two).
        var outcomes: [ApplyOutcome] = []
        var seen: [String: Int] = [:]
        for operation in operations {
            let key = "\(operation.change.address)#\(operation.change.providerID ?? "")#\(operation.change.action.rawValue)"
            let (state, message) = status[operation.id] ?? (interrupted ? .notStarted : .skipped, interrupted ? nil : "dependency cycle")
            if let index = seen[key] {
                if outcomes[index].status == .done, state != .done { outcomes[index].status = state; outcomes[index].message = message }
                continue
            }
            seen[key] = outcomes.count
            outcomes.append(ApplyOutcome(address: operation.change.address, action: operation.change.action,
                                         stateOnly: operation.change.stateOnly, status: state, message: message))
        }
        return ApplyResult(outcomes: outcomes, interrupted: interrupted, seconds: Date().timeIntervalSince(started),
                           stateWrites: await recorder.writes)
    }

    /// The next ready operation, with other ready creates of the same kind up to the driver's batch limit.
    private func takeBatch(from ready: inout [Int], operations: [ApplyGraph.Operation]) -> [Int] {
        let first = ready.removeFirst()
        let operation = operations[first]
        guard operation.phase == .create else { return [first] }
        let limit = driver(operation.change.kind).batchLimit(operation.change.kind)
        var batch = [first]
        var index = 0
        while batch.count < limit, index < ready.count {
            let candidate = operations[ready[index]]
            if candidate.phase == .create && candidate.change.kind == operation.change.kind {
                batch.append(ready.remove(at: index))
            } else {
                index += 1
            }
        }
        return batch
    }

    /// An operation's end: its failure, if any, and whether its dependents go on all the same
    /// (the change made something usable; `ProviderError.madeDespite`).
    typealias Finished = (id: Int, failure: String?, dependentsGoOn: Bool)

    /// A change that failed in part, what it made recorded: its dependents go on.
    struct PartFailure: Error {
        let error: ProviderError
    }

    /// Runs one operation, or one batch of creates; returns how each ended.
    private func execute(_ batch: [ApplyGraph.Operation]) async -> [Finished] {
        let clock = Date()
        let verb = batch[0].phase == .record ? "recording" : batch[0].phase.rawValue.dropLast() + "ing"
        for operation in batch { events(.started(operation.change.address, verb: String(verb))) }
        var failures: [Int: String] = [:]
        var partFailed: Set<Int> = []
        do {
            switch batch[0].phase {
            case .create: (failures, partFailed) = try await create(batch)
            case .update: try await update(batch[0].change)
            case .delete: try await delete(batch[0].change)
            case .record: try await record(batch[0].change)
            }
        } catch let part as PartFailure {
            failures[batch[0].id] = part.error.description
            partFailed.insert(batch[0].id)
        } catch {
            for operation in batch where failures[operation.id] == nil { failures[operation.id] = Self.describe(error) }
        }
        let seconds = Date().timeIntervalSince(clock)
        return batch.map { operation in
            if let failure = failures[operation.id] {
                events(.failed(operation.change.address, verb: String(verb), message: failure, seconds: seconds))
            } else {
                events(.finished(operation.change.address, verb: String(verb), seconds: seconds))
            }
            return (operation.id, failures[operation.id], partFailed.contains(operation.id))
        }
    }

    /// Sends the batch's creates; returns each failure, and which of them made something usable.
    private func create(_ batch: [ApplyGraph.Operation]) async throws -> (failures: [Int: String], partFailed: Set<Int>) {
        let changes = batch.map(\.change)
        try await recorder.recordIntents(changes)
        var failures: [Int: String] = [:]
        var partFailed: Set<Int> = []
        var pendingRequests: [(Int, ResourceRequest)] = []
        for operation in batch {
            let change = operation.change
            var requestInputs = inputs[change.address] ?? [:]
            requestInputs[ResourceRequest.idempotencyTokenInput] = ResourceRequest.idempotencyToken(basis: plan.basis, scope: scope, address: change.address)
            pendingRequests.append((operation.id, ResourceRequest(
                address: change.address, kind: change.kind, attributes: change.after ?? [:], tags: scope.tags(for: change.address),
                inputs: requestInputs, dependencies: await recorder.providerIDs(change.dependsOn))))
        }
        let dependsOn = Dictionary(changes.map { ($0.address, $0.dependsOn) }, uniquingKeysWith: { first, _ in first })
        let kindDriver = driver(batch[0].change.kind)
        var created: [ObservedResource] = []
        var refused: [ResourceAddress] = []
        for attempt in 1...maxAttempts where !pendingRequests.isEmpty {
            let results = await kindDriver.create(pendingRequests.map(\.1))
            var retry: [(Int, ResourceRequest)] = []
            var wait = 0.0
            for ((id, request), result) in zip(pendingRequests, results) {
                switch result {
                case .success(let resource): created.append(resource)
                case .failure(let error) where throttle.allowsAnother(after: error, attempt: attempt):
                    retry.append((id, request))
                    wait = max(wait, error.retryAfter ?? ThrottleRetry.backoff(attempt))
                case .failure(let error):
                    failures[id] = error.description
                    if let made = error.madeDespite {
                        created.append(made)
                        partFailed.insert(id)
                    }
                    if error.nothingWasDone { refused.append(request.address) }
                }
            }
            if !created.isEmpty { try await recorder.recordObserved(created, dependsOn: dependsOn) }
            pendingRequests = retry
            if !retry.isEmpty {
                for (_, request) in retry { events(.retrying(request.address, after: wait, reason: "throttled by the provider")) }
                await sleep(wait)
            }
        }
        if !refused.isEmpty { try await recorder.dropIntents(refused) }
        let pending = created.filter { $0.status == .pending }
        if !pending.isEmpty {
            for resource in pending { events(.waiting(resource.address, what: "ready")) }
            let readied = try await retrying(pending[0].address) { try await kindDriver.waitUntilReady(pending, scope: scope) }
            try await recorder.recordObserved(readied, dependsOn: dependsOn)
        }
        return (failures, partFailed)
    }

    private func update(_ change: PlanChange) async throws {
        let current = change.providerID.map {
            ObservedResource(address: change.address, kind: change.kind, providerID: $0, attributes: change.before ?? [:])
        }
        let request = ResourceRequest(
            address: change.address, kind: change.kind, attributes: change.after ?? [:], tags: scope.tags(for: change.address),
            inputs: inputs[change.address] ?? [:], dependencies: await recorder.providerIDs(change.dependsOn), current: current)
        let kindDriver = driver(change.kind)
        var updated: ObservedResource
        do {
            updated = try await retrying(change.address) { try await kindDriver.update(request) }
        } catch let error as ProviderError {
            guard let made = error.madeDespite else { throw error }
            try await recorder.recordObserved([made], dependsOn: [change.address: change.dependsOn])
            throw PartFailure(error: error)
        }
        if updated.status == .pending {
            events(.waiting(change.address, what: "ready"))
            updated = try await retrying(change.address) { try await kindDriver.waitUntilReady([updated], scope: scope) }.first ?? updated
        }
        try await recorder.recordObserved([updated], dependsOn: [change.address: change.dependsOn])
    }

    private func delete(_ change: PlanChange) async throws {
        guard let providerID = change.providerID else { return }
        let resource = ObservedResource(address: change.address, kind: change.kind, providerID: providerID, attributes: change.before ?? [:])
        let kindDriver = driver(change.kind)
        do {
            try await retrying(change.address) { try await kindDriver.delete(resource) }
        } catch let error as ProviderError where error.kind == .notFound {
            // Already gone: what a delete wanted.
        }
        try await recorder.remove(change.address, providerID: providerID)
    }

    private func record(_ change: PlanChange) async throws {
        switch change.stateOnly {
        case .forget?:
            try await recorder.remove(change.address, providerID: nil)
        case .adopt?, .refresh?:
            guard let providerID = change.providerID else { return }
            let resource = ObservedResource(address: change.address, kind: change.kind, providerID: providerID,
                                            attributes: change.after ?? change.before ?? [:])
            try await recorder.recordObserved([resource], dependsOn: [change.address: change.dependsOn])
        case nil: return
        }
    }

    /// The walk's rule for throttled calls: its attempts and its wait.
    private var throttle: ThrottleRetry { ThrottleRetry(maxAttempts: maxAttempts, sleep: sleep) }

    /// Runs `body`, again after a wait when the provider throttles.
    private func retrying<T>(_ address: ResourceAddress, _ body: () async throws -> T) async throws -> T {
        try await throttle.run(onRetry: { wait, _ in
            events(.retrying(address, after: wait, reason: "throttled by the provider"))
        }, body)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let error as ProviderError: return error.description
        case let error as StateLockError: return error.message
        default: return String(describing: error)
        }
    }
}
