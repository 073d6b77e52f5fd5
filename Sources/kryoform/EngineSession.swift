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

    static func open(_ global: GlobalOptions, environment name: String) throws -> EngineSession {
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
        let publicKey = try ProjectKey.publicKey(project: project, root: root, renderer: renderer)
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
        let context = EnvironmentContext(project: project.name, environment: environment, stacks: stacks,
                                         publicKey: publicKey, specsDigest: Engine.specsDigest(files))
        let engine = Engine(context: context, cloud: drivers.cloud, configurator: drivers.configurator,
                            store: SignalSafeStateStore(base: LocalStateStore(projectRoot: root, environment: name), environment: name))
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

/// The project's public SSH key, which every node gets.
enum ProjectKey {
    static let defaultPath = ".kryoform/ssh/id_ed25519.pub"

    /// Reads `ssh.public_key`. A key under `.kryoform/` is kryoform's own: made with ssh-keygen
    /// the first time it is needed. A missing key anywhere else is an error at its line.
    static func publicKey(project: Project, root: URL, renderer: DiagnosticRenderer) throws -> String {
        let configured = project.ssh.publicKey ?? defaultPath
        let expanded = NSString(string: configured).expandingTildeInPath
        let url = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded) : root.appendingPathComponent(expanded)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard configured.hasPrefix(".kryoform/") else {
                let diagnostic = Diagnostic.error(
                    "ssh.public_key: \(configured) does not exist", at: project.source.location(of: "ssh.public_key"),
                    fix: "create the key pair with ssh-keygen -t ed25519 -f \(configured.replacingOccurrences(of: ".pub", with: "")), or point public_key at an existing key")
                throw CommandFailure(message: renderer.render(diagnostic))
            }
            try generate(privateKey: url.deletingPathExtension(), comment: "kryoform-\(project.name)")
            FileHandle.standardError.write(Data("kryoform: made the project's SSH key pair \(configured.replacingOccurrences(of: ".pub", with: "")) (ed25519)\n".utf8))
        }
        guard let text = try? String(contentsOf: url, encoding: .utf8),
              let line = text.split(separator: "\n").first.map(String.init), line.split(separator: " ").count >= 2 else {
            let diagnostic = Diagnostic.error("ssh.public_key: \(configured) is not an OpenSSH public key",
                                              at: project.source.location(of: "ssh.public_key"),
                                              fix: "point public_key at a .pub file such as ~/.ssh/id_ed25519.pub")
            throw CommandFailure(message: renderer.render(diagnostic))
        }
        return line
    }

    private static func generate(privateKey: URL, comment: String) throws {
        try? FileManager.default.createDirectory(at: privateKey.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", privateKey.path]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch {
            throw CommandFailure(message: "error: cannot run ssh-keygen to make the project's SSH key: \(error.localizedDescription)\n  = fix: install openssh-client, or set ssh.public_key in kryoform.yaml to an existing key")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw CommandFailure(message: "error: ssh-keygen could not make \(privateKey.path): \(detail.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
