import ArgumentParser
import Foundation
import Planner
@preconcurrency import Rainbow

/// `kryoform plan`: compare the specs with what exists and show the changes.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change, and what it would cost.",
        discussion: "Exit codes: 0 success, 1 error; with --detailed-exitcode, 0 no changes, 2 changes present.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: EnvironmentOptions
    @OptionGroup var output: PlanOutputOptions

    @Flag(name: .customLong("refresh-only"), help: "Only show what changed outside kryoform (to record in the state).")
    var refreshOnly = false

    @Flag(help: "Plan the deletion of everything the environment owns.")
    var destroy = false

    @Flag(name: .customLong("allow-destroy"), help: "Allow a plan that destroys resources of a protected environment.")
    var allowDestroy = false

    @Option(name: .customLong("target"), help: ArgumentHelp("Only change this resource and what it depends on (repeatable).", valueName: "address"))
    var targets: [String] = []

    @Option(help: "Accepted for symmetry with apply; planning makes few calls.")
    var parallelism: Int = 10

    func validate() throws {
        if refreshOnly && destroy { throw ValidationError("--refresh-only and --destroy cannot be combined") }
        if parallelism < 1 { throw ValidationError("--parallelism must be at least 1") }
    }

    func run() async throws {
        global.configureOutput()
        let session = try EngineSession.open(global, environment: target.environment)
        let mode: Plan.Mode = refreshOnly ? .refreshOnly : destroy ? .destroy : .normal
        let plan = try await session.explaining {
            try await session.withLock("plan") {
                try await session.engine.plan(mode: mode, allowDestroy: allowDestroy, targets: targets.map { ResourceAddress($0) }).plan
            }
        }
        try output.emit(plan)
        if !plan.errors.isEmpty { throw CommandFailure(message: plan.errors.map { "error: " + $0 }.joined(separator: "\n")) }
        if output.detailedExitCode && plan.hasChanges { throw QuietExit(code: 2) }
    }
}

/// How a plan is shown and saved.
struct PlanOutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Save the plan as JSON for `kryoform apply FILE`.", valueName: "file"))
    var out: String?

    @Flag(help: "Print the plan as JSON instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Write a Markdown summary (for a pull-request comment).", valueName: "file"))
    var markdown: String?

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 0 when there are no changes, 2 when there are, 1 on error.")
    var detailedExitCode = false

    func emit(_ plan: Plan) throws {
        let renderer = PlanRenderer(plan: plan, color: Rainbow.enabled)
        if json {
            FileHandle.standardOutput.write(try PlanFile.encode(plan))
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            print(renderer.text())
        }
        if let out {
            try PlanFile.write(plan, to: out)
            if !json { print("Saved the plan to \(out); apply exactly it with: kryoform apply -e \(plan.environment) \(out)") }
        }
        if let markdown {
            do { try Data(renderer.markdown().utf8).write(to: URL(fileURLWithPath: markdown)) } catch {
                throw CommandFailure(message: "error: cannot write \(markdown): \(error.localizedDescription)")
            }
        }
    }
}

/// Plans saved as JSON.
enum PlanFile {
    static func encode(_ plan: Plan) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(plan)
    }

    static func write(_ plan: Plan, to path: String) throws {
        do { try AtomicFile.write(try encode(plan), to: URL(fileURLWithPath: path)) } catch {
            throw CommandFailure(message: "error: cannot save the plan to \(path): \(error)")
        }
    }

    static func read(_ path: String) throws -> Plan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure(message: "error: cannot read the plan file \(path)\n  = fix: make one with kryoform plan -e ENV --out \(path)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(Plan.self, from: data) } catch {
            throw CommandFailure(message: "error: \(path) is not a kryoform plan (\(error.localizedDescription))\n  = fix: make one with kryoform plan -e ENV --out \(path)")
        }
    }
}
