import ArgumentParser
import Foundation
import Planner
@preconcurrency import Rainbow

/// `kryoform destroy`: delete everything the environment owns.
struct DestroyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Delete everything the environment owns (refused for protect: true without --allow-destroy).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: EnvironmentOptions
    @OptionGroup var execution: ExecutionOptions

    func validate() throws { try execution.check() }

    func run() async throws {
        global.configureOutput()
        let session = try EngineSession.open(global, environment: target.environment)
        try await session.explaining {
            try await session.withLock("destroy") {
                let plan = try await session.engine.plan(mode: .destroy, allowDestroy: execution.allowDestroy).plan
                print(PlanRenderer(plan: plan, color: Rainbow.enabled).text())
                try await execution.carryOut(plan, desired: nil, session: session, confirmed: false, verb: .destroy)
            }
        }
    }
}

/// `kryoform drift`: what changed outside kryoform; exit 0 none, 2 some, 1 error.
struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Show what changed outside kryoform (plan --refresh-only --detailed-exitcode).",
        discussion: "Exit codes: 0 no drift, 2 drift found, 1 error.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: EnvironmentOptions

    @Flag(help: "Print the plan as JSON.")
    var json = false

    func run() async throws {
        global.configureOutput()
        let session = try EngineSession.open(global, environment: target.environment)
        let plan = try await session.explaining {
            try await session.withLock("drift") { try await session.engine.plan(mode: .refreshOnly).plan }
        }
        if json {
            FileHandle.standardOutput.write(try PlanFile.encode(plan))
            print()
        } else {
            print(PlanRenderer(plan: plan, color: Rainbow.enabled, driftReport: true).text())
        }
        if plan.hasChanges { throw QuietExit(code: 2) }
    }
}
