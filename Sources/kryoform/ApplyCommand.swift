import ArgumentParser
import Foundation
import Planner
@preconcurrency import Rainbow

/// `kryoform apply`: make the changes, from a fresh plan or exactly those of a saved one.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the changes: from a fresh plan (after confirmation), or exactly those of a saved plan file.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var execution: ExecutionOptions

    /// Optional with a plan file, which names its environment.
    @Option(name: .shortAndLong, help: ArgumentHelp(EnvironmentOptions.help.abstract + " Taken from the plan file when it is not given.",
                                                   valueName: "name"))
    var environment: String?

    @Argument(help: ArgumentHelp("A plan saved by kryoform plan --out: apply exactly it, refusing it if the state or specs moved on.", valueName: "planfile"))
    var planFile: String?

    @Flag(name: .customLong("refresh-only"), help: "Only record in the state what changed outside kryoform.")
    var refreshOnly = false

    @Option(name: .customLong("target"), help: ArgumentHelp("Only change this resource and what it depends on (repeatable).", valueName: "address"))
    var targets: [String] = []

    func validate() throws {
        try execution.check()
        if planFile != nil && (refreshOnly || !targets.isEmpty) {
            throw ValidationError("a saved plan is applied as it is: --refresh-only and --target belong to kryoform plan")
        }
        if planFile == nil && environment == nil {
            throw ValidationError("apply needs -e ENV (the environment to plan and change), or a plan file saved by kryoform plan -e ENV --out FILE, which names its environment")
        }
    }

    func run() async throws {
        global.configureOutput()
        let saved = try planFile.map(PlanFile.read)
        // validate() made sure one of the two is there; a plan for another environment than -e is refused by checkSaved.
        let session = try EngineSession.open(global, environment: environment ?? saved?.environment ?? "", mayMakeKey: true)
        try await session.explaining {
            try await session.withLock("apply") {
                let plan: Plan
                var desired: DesiredState?
                if let saved {
                    try session.engine.checkSaved(saved)
                    plan = saved
                    print("Applying the saved plan \(planFile ?? "") (made \(ISO8601DateFormatter().string(from: saved.createdAt))).")
                } else {
                    (plan, desired) = try await session.engine.plan(mode: refreshOnly ? .refreshOnly : .normal, allowDestroy: execution.allowDestroy,
                                                                    targets: targets.map { ResourceAddress($0) })
                    print(PlanRenderer(plan: plan, color: Rainbow.enabled).text())
                }
                try await execution.carryOut(plan, desired: desired, session: session, confirmed: saved != nil, verb: .apply)
            }
        }
    }
}

/// Options and steps shared by apply and destroy.
struct ExecutionOptions: ParsableArguments {
    @Flag(name: .customLong("auto-approve"), help: "Make the changes without asking for confirmation.")
    var autoApprove = false

    @Option(help: "How many actions may run at once.")
    var parallelism: Int = 10

    @Flag(name: .customLong("allow-destroy"), help: "Allow destroying resources of a protected environment (protect: true).")
    var allowDestroy = false

    /// Which command carries the plan out, in the words it asks and reports with.
    enum Verb: String {
        case apply, destroy
    }

    func check() throws {
        if parallelism < 1 { throw ValidationError("--parallelism must be at least 1") }
    }

    /// Confirms, applies, prints the summary; throws to exit 1 when anything failed, 128 + the
    /// signal when interrupted. `desired` is the state the plan was made from, when this run made it.
    func carryOut(_ plan: Plan, desired: DesiredState?, session: EngineSession, confirmed: Bool, verb: Verb) async throws {
        if !plan.errors.isEmpty { throw CommandFailure(message: plan.errors.map { "error: " + $0 }.joined(separator: "\n")) }
        guard plan.hasChanges else {
            if confirmed { print("No changes: nothing to apply.") }
            return
        }
        if !confirmed && !autoApprove { try confirm(plan, verb: verb) }
        // What creates need beyond the plan (the public key's text): from this run's plan, or derived
        // again for a saved one; a plan that creates nothing needs none.
        let creates = plan.changes.contains { $0.action == .create || $0.action == .replace }
        var inputs = desired?.inputs ?? [:]
        if desired == nil && creates { inputs = try await session.engine.desiredState(catalog: session.engine.cloud.catalog()).inputs }
        let progress = ApplyProgress(total: plan.changes.filter(\.doesSomething).count)
        let interruption = Interruption()
        InterruptHandling.shared.set(.drain(interruption, progress))
        let result = try await session.engine.apply(Self.withMadeKey(plan, session: session), inputs: inputs, parallelism: parallelism,
                                                    interruption: interruption,
                                                    events: { progress.handle($0) })
        InterruptHandling.shared.set(.stop(done: "the \(verb.rawValue) had finished, and what it did is saved in the state"))
        progress.finish()
        print(ApplySummary(result: result, environment: plan.environment, verb: verb).text())
        if result.interrupted { throw QuietExit(code: InterruptHandling.shared.exitCode ?? 130) }
        if !result.succeeded { throw QuietExit(code: 1) }
    }

    /// A saved plan made before the project's key existed plans it `(made by apply)`; this run
    /// has made it, so the create records the real fingerprint.
    static func withMadeKey(_ plan: Plan, session: EngineSession) -> Plan {
        let key = session.engine.context.publicKey
        guard !key.isEmpty else { return plan }
        var plan = plan
        for index in plan.changes.indices where plan.changes[index].after?["public_key"] == DesiredStateBuilder.keyMadeByApply {
            plan.changes[index].after?["public_key"] = DesiredStateBuilder.fingerprint(ofPublicKey: key)
        }
        return plan
    }

    private func confirm(_ plan: Plan, verb: Verb) throws {
        guard isatty(STDIN_FILENO) == 1 else {
            let fix = verb == .destroy ? "read the plan above, then pass --auto-approve to destroy without being asked"
                : "pass --auto-approve, or apply a reviewed plan with kryoform apply -e \(plan.environment) FILE"
            throw CommandFailure(message: "error: \(verb.rawValue) needs confirmation and there is no terminal to ask on\n  = fix: \(fix)")
        }
        let question = verb == .destroy ? "Do you want to destroy everything in \(plan.environment) listed above?" : "Do you want to apply these changes to \(plan.environment)?"
        print("\n\(question) Only 'yes' is accepted: ", terminator: "")
        fflush(nil)
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
            throw CommandFailure(message: "\(verb.rawValue.capitalizedFirst) cancelled: nothing was changed.")
        }
    }
}

/// What an apply did, per address.
struct ApplySummary {
    var result: ApplyResult
    var environment: String
    var verb: ExecutionOptions.Verb = .apply

    func text() -> String {
        var groups: [(String, [ApplyOutcome])] = []
        let done = result.outcomes.filter { $0.status == .done }
        for (title, action) in [("created", PlanChange.Action.create), ("updated", .update), ("replaced", .replace), ("deleted", .delete)] {
            groups.append((title, done.filter { $0.action == action }))
        }
        groups.append(("recorded in the state", done.filter { $0.action == .noOp }))
        var lines = [""]
        for (title, outcomes) in groups where !outcomes.isEmpty {
            lines.append("\(title.capitalizedFirst) (\(outcomes.count)): " + outcomes.map(\.address.rawValue).joined(separator: ", "))
        }
        for outcome in result.outcomes where outcome.status == .failed {
            lines.append("✗ ".red + "\(outcome.address) (\(outcome.action.rawValue)) failed: \(outcome.message ?? "")")
        }
        for outcome in result.outcomes where outcome.status == .skipped {
            lines.append("↷ ".yellow + "\(outcome.address) (\(outcome.action.rawValue)) skipped: \(outcome.message ?? "")")
        }
        let notStarted = result.outcomes.filter { $0.status == .notStarted }
        if !notStarted.isEmpty {
            lines.append("Not started (\(notStarted.count)): " + notStarted.map(\.address.rawValue).joined(separator: ", "))
        }
        let counts = "\(done.count) done, \(result.failed.count) failed, \(result.outcomes.filter { $0.status == .skipped }.count) skipped"
        let elapsed = ApplyProgress.seconds(result.seconds)
        let title = verb.rawValue.capitalizedFirst
        let left = verb == .destroy ? "kryoform plan -e \(environment) --destroy" : "kryoform plan -e \(environment)"
        if result.interrupted {
            lines.append("Interrupted ".red + "after \(elapsed): \(counts), \(notStarted.count) not started. Everything finished is saved in the state.")
            lines.append("Run \(left) to see what is left; kryoform \(verb.rawValue) -e \(environment) finishes it.")
        } else if result.succeeded {
            lines.append("\(title) complete ".green + "in \(elapsed): \(counts).")
        } else {
            lines.append("\(title) incomplete ".red + "after \(elapsed): \(counts). Every success is saved in the state.")
            lines.append("Run \(left) to see what is left; kryoform \(verb.rawValue) -e \(environment) retries it.")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
