import ArgumentParser
import Foundation
import Spec

/// `kryoform validate`: check every file and report every problem at once.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check every spec file and report all problems at once.",
        discussion: "Exits 0 when there is no error (warnings allowed) and 1 otherwise."
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: "Report only what blocks this environment: its file's problems, the project's and those of the stacks it selects (matched by the environment: key).")
    var environment: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(name: .customLong("explain-capacity"), help: "Print each environment's capacity per role: what its stacks reserve, what its nodes offer.")
    var explainCapacity = false

    func run() throws {
        global.configureOutput()
        let specs = try global.loadSpecs()
        var diagnostics = specs.diagnostics
        var environments = specs.environments
        if let name = environment {
            environments = [try specs.requireEnvironment(name)]
            diagnostics = specs.diagnostics(forEnvironment: name)
        }
        let reports = environments.map { CapacityPlanner.report(environment: $0, stacks: specs.stacks(in: $0)) }

        if json {
            try printJSON(ValidationResult(
                valid: !diagnostics.hasErrors, files: specs.fileCount, stacks: specs.stacks.count,
                environments: environments.map(\.name), errors: diagnostics.errorCount, warnings: diagnostics.warningCount,
                diagnostics: diagnostics, capacity: explainCapacity ? reports.map(CapacityJSON.init) : nil))
        } else {
            let renderer = DiagnosticRenderer(sources: specs.sources)
            for diagnostic in diagnostics {
                print(renderer.render(diagnostic) + "\n")
            }
            if explainCapacity {
                for report in reports { print(CapacityTable(report: report).render() + "\n") }
            }
            let scope = environment.map { "environment \($0)" } ?? "\(specs.fileCount) files"
            let what = "\(specs.stacks.count) stacks, \(environments.count) environment\(environments.count == 1 ? "" : "s")"
            if diagnostics.hasErrors {
                print("✗ ".red + "\(scope) (\(what)): \(DiagnosticRenderer.count(diagnostics))")
            } else {
                print("✓ ".green + "\(scope) valid (\(what)): \(DiagnosticRenderer.count(diagnostics))")
            }
        }
        if diagnostics.hasErrors { throw QuietExit(code: 1) }
    }
}

/// The JSON form of `kryoform validate --json`.
struct ValidationResult: Encodable {
    var valid: Bool
    var files: Int
    var stacks: Int
    var environments: [String]
    var errors: Int
    var warnings: Int
    var diagnostics: [Diagnostic]
    var capacity: [CapacityJSON]?
}
