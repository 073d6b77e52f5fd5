import ArgumentParser
import Foundation
import Planner
import Providers
import Remote
import Spec

/// Options of the commands that work on one environment's resources.
struct EnvironmentOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: EnvironmentOptions.help)
    var environment: String

    /// Says which name -e matches: the `environment:` key, not the file's name.
    static let help = ArgumentHelp("The environment: the name an environments/*.yaml file declares with its environment: key.",
                                   valueName: "name")
}

/// One environment loaded, checked and wired to its provider and state: what plan, apply,
/// destroy, drift and state commands start from.
struct EngineSession {
    var specs: Specs
    var root: URL
    var engine: Engine
    var renderer: DiagnosticRenderer

    /// `mayMakeKey`: whether this command may make the project's SSH key pair when it is missing
    /// (apply does; read-only commands write no file, and plan with a placeholder instead).
    static func open(_ global: GlobalOptions, environment name: String, mayMakeKey: Bool = false) throws -> EngineSession {
        let root = try global.projectRoot()
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
        let renderer = DiagnosticRenderer(sources: specs.sources)
        let environment = try specs.requireEnvironment(name)
        // The environment's own problems, the project's and the inventory's stop the run; other environments' do not.
        let errors = specs.diagnostics(forEnvironment: name).filter { $0.severity == .error }
        guard errors.isEmpty, let project = specs.project else {
            let text = errors.map { renderer.render($0) }.joined(separator: "\n\n")
            throw CommandFailure(message: text + "\n\n" + "✗ ".red + "\(DiagnosticRenderer.count(errors)): fix the specs, then run again (kryoform validate -e \(name) lists them)")
        }
        // The provider's own needs (credentials) are checked before a key is made.
        do { try ProviderFactory.preflight(environment, projectRoot: root) } catch let error as ProviderError {
            throw CommandFailure(message: EngineSession.describe(error))
        }
        let keys = try ProjectKey.publicKeys(project: project, root: root, renderer: renderer, mayMake: mayMakeKey)
        let publicKey = keys.first ?? ""
        let stacks = specs.stacks(in: environment)
        let logsCommands = global.logLevel == .debug || global.logLevel == .trace
        let nodes = NodeAccess(project: project, stacks: stacks, log: { record in
            guard logsCommands else { return }
            FileHandle.standardError.write(Data("ssh \(record.host)\(record.mutating ? " (change)" : ""): \(record.command)\n".utf8))
        })
        let drivers: (cloud: CloudProvider, configurator: ResourceDriver?)
        do { drivers = try ProviderFactory.drivers(for: environment, projectRoot: root, publicKey: publicKey, nodes: nodes) } catch let error as ProviderError {
            throw CommandFailure(message: EngineSession.describe(error))
        }
        var files = [(path: SpecLoader.projectFile, text: specs.sources[SpecLoader.projectFile]?.text ?? "")]
        files.append((environment.source.file, specs.sources[environment.source.file]?.text ?? ""))
        for stack in stacks { files.append((stack.source.file, specs.sources[stack.source.file]?.text ?? "")) }
        var context = EnvironmentContext(project: project.name, environment: environment, stacks: stacks,
                                         publicKey: publicKey, specsDigest: Engine.specsDigest(files))
        context.authorizedKeys = keys
        let store = try StateStores.make(project.state, project: project.name, environment: name, root: root)
        let engine = Engine(context: context, cloud: drivers.cloud, configurator: drivers.configurator,
                            store: SignalSafeStateStore(base: store, environment: name))
        return EngineSession(specs: specs, root: root, engine: engine, renderer: renderer)
    }

    /// Runs `body` holding the environment's lock; a stale lock broken on the way is warned about.
    func withLock<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        try await engine.withLock(operation, warn: { message in
            FileHandle.standardError.write(Data(("warning".yellow.bold + ": " + message + "\n").utf8))
        }, body)
    }

    /// Runs `body`, turning the engine's errors into messages that say what to do.
    /// The drivers are finished (SSH sessions closed) before the answer or the error goes back.
    func explaining<T>(_ body: () async throws -> T) async throws -> T {
        let outcome: Result<T, Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        await engine.finish()
        do {
            return try outcome.get()
        } catch let error as DesiredStateError {
            let text = error.diagnostics.map { renderer.render($0) }.joined(separator: "\n\n")
            throw CommandFailure(message: text + "\n\n" + "✗ ".red + DiagnosticRenderer.count(error.diagnostics))
        } catch let error as ProviderError {
            throw CommandFailure(message: Self.describe(error))
        } catch let error as StateLockError {
            throw CommandFailure(message: error.message)
        } catch let error as StalePlanError {
            throw CommandFailure(message: "error: \(error.message)")
        } catch let error as UnknownTargetError {
            throw CommandFailure(message: "error: \(error.message)\n  = fix: \(error.fix)")
        }
    }

    static func describe(_ error: ProviderError) -> String {
        "error: \(error.message)" + (error.fix.map { "\n  = fix: \($0)" } ?? "")
    }
}
