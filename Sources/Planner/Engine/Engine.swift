import Foundation
import Logging
import Spec

/// The environment an engine works on, as the specs describe it.
public struct EnvironmentContext: Sendable {
    public var project: String
    public var environment: Environment
    /// The environment's stacks, pins and overrides applied.
    public var stacks: [Stack]
    /// The project's public SSH key line.
    public var publicKey: String
    /// Every public key the nodes trust (the first is `publicKey`); empty before the key is made.
    public var authorizedKeys: [String] = []
    /// SHA-256 over the files this environment is made from.
    public var specsDigest: String

    public init(project: String, environment: Environment, stacks: [Stack], publicKey: String, specsDigest: String) {
        self.project = project
        self.environment = environment
        self.stacks = stacks
        self.publicKey = publicKey
        self.specsDigest = specsDigest
    }

    public var scope: ResourceScope { ResourceScope(project: project, environment: environment.name) }
}

/// Problems that stop a plan before it is made, each located in a spec file.
public struct DesiredStateError: Error, Sendable {
    public var diagnostics: [Diagnostic]
}

/// Why a saved plan may not be applied.
public struct StalePlanError: Error, Sendable {
    public var message: String
}

/// Plans and applies one environment: the catalog, the desired state, observation, the
/// planner and the apply walk, wired to a provider, a node configurator and a state store.
public struct Engine: Sendable {
    public var context: EnvironmentContext
    public var cloud: CloudProvider
    /// The driver for `swarm` and `stack` resources; nil where the caller configures no nodes
    /// (commands that only read the catalog, tests of the cloud half), and plans then cover
    /// the cloud resources alone.
    public var configurator: ResourceDriver?
    public var store: StateStore
    /// How observation answers a provider that throttles: as the apply walk does.
    public var throttle = ThrottleRetry()

    public init(context: EnvironmentContext, cloud: CloudProvider, configurator: ResourceDriver?, store: StateStore) {
        self.context = context
        self.cloud = cloud
        self.configurator = configurator
        self.store = store
    }

    public func desiredState(catalog: Catalog) throws -> DesiredState {
        let builder = DesiredStateBuilder(project: context.project, environment: context.environment, stacks: context.stacks,
                                          catalog: catalog, publicKey: context.publicKey,
                                          authorizedKeys: context.authorizedKeys)
        switch builder.build() {
        case .success(var desired):
            if configurator == nil { desired.resources.removeAll { !$0.kind.isCloud } }
            return desired
        case .failure(let error): throw error
        }
    }

    /// Everything the provider and the nodes report for this environment.
    public func observe() async throws -> [ObservedResource] {
        let scope = context.scope
        let cloud = self.cloud
        guard let configurator else { return try await retryingThrottled("listing the cloud resources") { try await cloud.observe(scope) } }
        async let cloudResources = retryingThrottled("listing the cloud resources") { try await cloud.observe(scope) }
        async let configured = retryingThrottled("reading the nodes") { try await configurator.observe(scope) }
        return try await cloudResources + configured
    }

    /// Runs a read of observation again while the provider refuses it for throttling, saying so at `info`.
    func retryingThrottled<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        try await throttle.run(onRetry: { wait, attempt in
            Engine.logger.info("\(what): throttled by the provider; retrying in \(String(format: "%.1f", wait)) s, attempt \(attempt + 1) of \(throttle.maxAttempts)")
        }, body)
    }

    static let logger = Logger(label: "kryoform.engine")

    /// Makes a plan against what really exists. The caller holds the lock.
    public func plan(mode: Plan.Mode = .normal, allowDestroy: Bool = false, targets: [ResourceAddress] = [], now: Date = Date())
        async throws -> (plan: Plan, desired: DesiredState) {
        let cloud = self.cloud
        let catalog = try await retryingThrottled("reading the catalog") { try await cloud.catalog() }
        let desired = try desiredState(catalog: catalog)
        let observed = try await observe()
        let input = Planner.Input(
            desired: desired, observed: observed, state: try store.read(), catalog: catalog, mode: mode,
            protect: context.environment.protect, allowDestroy: allowDestroy, targets: targets,
            specsDigest: context.specsDigest, now: now)
        // A target naming nothing is an error before any plan is shown, never an empty plan.
        if let unknown = Planner.unknownTargets(input).first { throw unknown }
        var plan = Planner.plan(input)
        if let configurator {
            let notes = (plan.notes ?? []) + configurator.observationNotes()
            plan.notes = notes.isEmpty ? nil : notes
        }
        return (plan, desired)
    }

    /// Refuses a saved plan made for another environment, against another state, or from other specs.
    public func checkSaved(_ plan: Plan) throws {
        guard plan.formatVersion == Plan.formatVersion else {
            throw StalePlanError(message: "the plan has format_version \(plan.formatVersion); this kryoform writes \(Plan.formatVersion): make a new plan")
        }
        guard plan.environment == context.environment.name, plan.project == context.project else {
            throw StalePlanError(message: "the plan is for environment \(plan.environment) of project \(plan.project), not \(context.environment.name) of \(context.project)")
        }
        let state = try store.read()
        if plan.basis.stateLineage != nil, plan.basis.stateLineage != state?.lineage {
            throw StalePlanError(message: "the plan was made against another state (lineage \(plan.basis.stateLineage ?? "none"), now \(state?.lineage ?? "none")): make a new plan")
        }
        if plan.basis.stateSerial != (state?.serial ?? 0) {
            throw StalePlanError(message: "the state changed since the plan was made (serial \(plan.basis.stateSerial), now \(state?.serial ?? 0)): make a new plan with kryoform plan -e \(plan.environment) --out FILE")
        }
        if plan.basis.specsDigest != context.specsDigest {
            throw StalePlanError(message: "the specs changed since the plan was made (digest \(plan.basis.specsDigest.prefix(12)), now \(context.specsDigest.prefix(12))): make a new plan")
        }
    }

    /// Carries out `plan`. The caller holds the lock.
    public func apply(_ plan: Plan, inputs: [ResourceAddress: [String: String]], parallelism: Int, interruption: Interruption,
                      events: @escaping @Sendable (ApplyEvent) -> Void) async throws -> ApplyResult {
        // What an earlier run left in the journal (it was killed) is folded in first.
        try store.compact()
        let existing = try store.read()
        let state = existing ?? State(project: context.project, environment: context.environment.name)
        let recorder = StateRecorder(store: store, state: state, stored: existing != nil)
        let cloud = self.cloud
        let configurator = self.configurator
        let walk = ApplyWalk(plan: plan, scope: context.scope, driver: { $0.isCloud ? cloud : configurator ?? cloud }, recorder: recorder,
                             inputs: inputs, parallelism: parallelism, interruption: interruption, events: events)
        let result = await walk.run()
        do { try store.compact() } catch let error as StateLockError {
            throw StateLockError.io(String(error.message.dropFirst("error: ".count).prefix { $0 != "\n" })
                                    + "; the apply's every completed action is kept in the state's journal, and the next kryoform command that takes the lock folds it in")
        }
        return result
    }

    /// Closes what the drivers keep open; the last thing a command does with the engine.
    public func finish() async {
        await cloud.finish()
        await configurator?.finish()
    }

    /// Runs `body` holding the environment's lock, released afterwards whatever happens. A lock
    /// left by a process of this host that is gone is broken first, and `warn` told whose it was.
    public func withLock<T>(_ operation: String, holders: LockHolders = LockHolders(), warn: (String) -> Void = { _ in },
                            _ body: () async throws -> T) async throws -> T {
        let info = LockInfo(operation: operation)
        try takeLock(info, holders: holders, warn: warn)
        do {
            if let moved = try store.read()?.movedTo { throw StateLockError.moved(environment: context.environment.name, to: moved) }
            let result = try await body()
            try store.unlock(id: info.id)
            return result
        } catch {
            try? store.unlock(id: info.id)
            throw error
        }
    }

    /// Takes the lock, breaking a stale one (holder gone from this host) once.
    func takeLock(_ info: LockInfo, holders: LockHolders, warn: (String) -> Void) throws {
        do {
            try store.lock(info)
        } catch StateLockError.held(let environment, let holder) {
            guard case .gone(let why) = holders.status(of: holder) else { throw StateLockError.held(environment: environment, by: holder) }
            if try store.breakLock(holder) {
                warn("broke the stale lock of environment \(environment): \(holder.describe()); \(why)")
            }
            try store.lock(info)
        }
    }

    /// SHA-256 over `files` (path and text), in path order.
    public static func specsDigest(_ files: [(path: String, text: String)]) -> String {
        ContentHash.sha256(files.sorted { $0.path < $1.path }.map { "\($0.path)\n\($0.text.count)\n\($0.text)" }.joined(separator: "\n"))
    }
}
