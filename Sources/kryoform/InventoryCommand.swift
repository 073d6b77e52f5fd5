import ArgumentParser
import Foundation
import Rainbow
import Spec

/// `kryoform inventory`: the stacks of the inventory by layer and role.
struct InventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "List the inventory's stacks by layer and role."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the inventory as JSON.")
    var json = false

    func run() throws {
        global.configureOutput()
        let specs = try global.loadSpecs()
        let stackFiles = Set(specs.stacks.map(\.source.file))
        let problems = specs.diagnostics.filter { $0.severity == .error && ($0.location.file.hasPrefix("stacks/") || stackFiles.contains($0.location.file)) }
        if !problems.isEmpty {
            let renderer = DiagnosticRenderer(sources: specs.sources)
            for problem in problems { FileHandle.standardError.write(Data((renderer.render(problem) + "\n\n").utf8)) }
            throw CommandFailure(message: "✗ the inventory has \(DiagnosticRenderer.count(problems)); run 'kryoform validate' for all problems")
        }
        let ordered = specs.stacks.sorted {
            (Stack.Layer.allCases.firstIndex(of: $0.layer) ?? 0, $0.role, $0.name) < (Stack.Layer.allCases.firstIndex(of: $1.layer) ?? 0, $1.role, $1.name)
        }
        if json {
            try printJSON(ordered.map(InventoryEntry.init))
            return
        }
        for layer in Stack.Layer.allCases {
            let stacks = ordered.filter { $0.layer == layer }
            guard !stacks.isEmpty else { continue }
            print("\(layer.rawValue) (\(stacks.count))".bold)
            let nameWidth = stacks.map(\.name.count).max() ?? 0
            let imageWidth = stacks.map { ($0.imageReference ?? "").count }.max() ?? 0
            for stack in stacks {
                var line = "  " + stack.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                line += "  " + stack.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                line += "  " + stack.role.padding(toLength: 11, withPad: " ", startingAt: 0)
                if stack.deploysSomething {
                    line += "  " + (stack.imageReference ?? "").padding(toLength: imageWidth, withPad: " ", startingAt: 0)
                    let count = stack.mode == .global ? "1/node" : "\(stack.replicas) ×"
                    line += "  \(count) \(stack.resources.cpu) vCPU, \(stack.resources.memory)" + (stack.resources.gpu > 0 ? ", \(stack.resources.gpu) GPU" : "")
                } else {
                    line += "  " + (stack.description ?? "").lightBlack
                }
                print(line)
            }
            print("")
        }
        let counts = Dictionary(grouping: specs.stacks, by: \.kind).mapValues(\.count)
        print("\(specs.stacks.count) stacks: \(counts[.service] ?? 0) services, \(counts[.library] ?? 0) libraries, \(counts[.external] ?? 0) external")
    }
}

/// One stack in `kryoform inventory --json`.
struct InventoryEntry: Encodable {
    var name: String
    var kind: String
    var layer: String
    var role: String
    var description: String?
    var image: String?
    var version: String?
    var mode: String?
    var replicas: Int?
    var resources: Resources?
    var depends_on: [String]
    var file: String

    init(_ stack: Stack) {
        name = stack.name
        kind = stack.kind.rawValue
        layer = stack.layer.rawValue
        role = stack.role
        description = stack.description
        image = stack.image
        version = stack.version
        let service = stack.deploysSomething
        mode = service ? stack.mode.rawValue : nil
        replicas = service && stack.mode == .replicated ? stack.replicas : nil
        resources = service ? stack.resources : nil
        depends_on = stack.dependsOn
        file = stack.source.file
    }
}
