import ArgumentParser
import Foundation
@preconcurrency import Rainbow
import Spec

/// The options every command takes: where the project is, colours, logging.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customShort("C"), help: ArgumentHelp("The project root (default: the nearest folder upward holding kryoform.yaml).", valueName: "dir"))
    var directory: String?

    @Flag(name: .customLong("no-color"), help: "Print without colours (also when NO_COLOR is set).")
    var noColor = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, warning or error.")
    var logLevel: LogLevel = .warning

    enum LogLevel: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, warning, error
    }

    /// Sets up colours for this run: off with --no-color, NO_COLOR, or when stdout is not a terminal.
    func configureOutput() {
        let noColorVariable = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        Rainbow.enabled = !noColor && !noColorVariable && isatty(STDOUT_FILENO) == 1
        CommandLogHandler.bootstrap(level: logLevel.loggerLevel)
    }

    /// The project root: `-C DIR`, or the nearest folder upward from the current one holding kryoform.yaml.
    func projectRoot() throws -> URL {
        let fileManager = FileManager.default
        if let directory {
            let url = URL(fileURLWithPath: directory, relativeTo: URL(fileURLWithPath: fileManager.currentDirectoryPath)).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandFailure(message: "error: -C \(directory): no such directory")
            }
            guard fileManager.fileExists(atPath: url.appendingPathComponent(SpecLoader.projectFile).path) else {
                throw CommandFailure(message: "error: -C \(directory): no \(SpecLoader.projectFile) there; a kryoform project has one at its root")
            }
            return url
        }
        var current = URL(fileURLWithPath: fileManager.currentDirectoryPath).standardizedFileURL
        while true {
            if fileManager.fileExists(atPath: current.appendingPathComponent(SpecLoader.projectFile).path) { return current }
            let parent = current.deletingLastPathComponent()
            if parent.path == current.path { break }
            current = parent
        }
        throw CommandFailure(message: "error: no \(SpecLoader.projectFile) in this folder or any folder above it\n  = fix: run kryoform inside a project, or pass -C DIR")
    }

    /// Loads and validates the project's specs.
    func loadSpecs() throws -> Specs {
        SpecLoader(fileSystem: LocalFileSystem(root: try projectRoot())).load()
    }
}

extension Specs {
    /// The environment `name`, or a failure listing the project's environments with a did-you-mean.
    func requireEnvironment(_ name: String) throws -> Environment {
        if let environment = environment(named: name) { return environment }
        let names = environments.map(\.name)
        var message = "error: no environment '\(name)'; this project has \(names.isEmpty ? "none" : names.joined(separator: ", "))"
        if let suggestion = Suggestion.didYouMean(name, in: names) { message += "\n  = fix: \(suggestion)" }
        throw CommandFailure(message: message)
    }
}

/// Writes JSON with sorted keys and ISO-8601 dates (as the state file has them) to stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}
