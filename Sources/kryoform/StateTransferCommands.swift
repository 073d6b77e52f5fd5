import ArgumentParser
import Foundation
import Planner
import Spec

/// `state pull`, `state push` and `state migrate`: state out of a backend, into one, and from
/// one backend to another.
extension StateCommand {
    /// Runs `body` holding the environment's lock in `store`, breaking a lock whose holder is
    /// gone from this host (with a warning) as every command does.
    static func withLock<T>(_ store: StateStore, environment: String, operation: String, _ body: () throws -> T) throws -> T {
        let info = LockInfo(operation: operation)
        do {
            do {
                try store.lock(info)
            } catch StateLockError.held(_, let holder) {
                guard case .gone(let why) = LockHolders().status(of: holder) else { throw StateLockError.held(environment: environment, by: holder) }
                if try store.breakLock(holder) {
                    FileHandle.standardError.write(Data("kryoform: warning: broke the stale lock of environment \(environment): \(holder.describe()); \(why)\n".utf8))
                }
                try store.lock(info)
            }
        } catch let error as StateLockError {
            throw CommandFailure(message: error.message)
        }
        do {
            let result = try body()
            try store.unlock(id: info.id)
            return result
        } catch {
            try? store.unlock(id: info.id)
            if let error = error as? StateLockError { throw CommandFailure(message: error.message) }
            throw error
        }
    }

    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("kryoform: warning: \(text)\n".utf8))
    }

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an environment's state as JSON (the local state file's format), to keep or to edit and push.",
            discussion: "Reads without taking the lock, with the steps of an apply under way applied. Example: kryoform state pull -e prod > prod.state.json")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: EnvironmentOptions

        func run() throws {
            global.configureOutput()
            let store = try StateCommand.store(global, target.environment)
            let state = try StateCommand.read(store, environment: target.environment)
            if let moved = state.movedTo { StateCommand.warn("this is the read-only copy left by state migrate; the state of \(target.environment) is now in \(moved)") }
            FileHandle.standardOutput.write(try LocalStateStore.encoder.encode(state))
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace an environment's state with a state file (as state pull prints it).",
            discussion: """
                Refused unless the file has the state's lineage and a newer serial than the state has now: so a file pulled \
                before another apply cannot undo it. --force replaces whatever is there, and needs --reason, which the \
                history (postgres, s3) records with who pushed.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: EnvironmentOptions

        @Argument(help: ArgumentHelp("The state file.", valueName: "file"))
        var file: String

        @Flag(help: "Push even when the lineage differs or the serial is not newer (the serial is then moved past the current one).")
        var force = false

        @Option(help: ArgumentHelp("Why the state is forced: recorded in the history. Needed with --force.", valueName: "text"))
        var reason: String?

        func run() throws {
            global.configureOutput()
            let environment = target.environment
            guard !force || !(reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty else {
                throw CommandFailure(message: "error: state push --force needs --reason TEXT, which the history records\n  = fix: e.g. --reason \"restore serial 41 after a bad hand edit\"")
            }
            let url = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw CommandFailure(message: "error: cannot read \(file)\n  = fix: name a file that state pull wrote")
            }
            var pushed: State
            do { pushed = try LocalStateStore.decoder.decode(State.self, from: data) } catch {
                throw CommandFailure(message: "error: \(file) is not a kryoform state: \(JSONProblem.describe(error, in: data))\n  = fix: push a file that state pull wrote")
            }
            let (store, project, _) = try StateStores.located(global, environment: environment)
            if !force, pushed.project != project.name || pushed.environment != environment {
                throw CommandFailure(message: "error: \(file) is the state of environment \(pushed.environment) of project \(pushed.project), not \(environment) of \(project.name)\n"
                                     + "  = fix: push it to its own environment, or use --force --reason TEXT if that is what you mean")
            }
            pushed.project = project.name
            pushed.environment = environment
            pushed.movedTo = nil
            let operation = force ? "state push --force (reason: \(reason ?? ""))" : "state push"
            let written: (before: State?, after: State) = try StateCommand.withLock(store, environment: environment, operation: operation) {
                try store.compact()
                let current = try store.read()
                if let moved = current?.movedTo { throw StateLockError.moved(environment: environment, to: moved) }
                if let current {
                    if pushed.lineage != current.lineage || pushed.serial <= current.serial {
                        let why = pushed.lineage != current.lineage
                            ? "its lineage is \(pushed.lineage), the state's is \(current.lineage) (it is another state of this environment)"
                            : "its serial \(pushed.serial) is not newer than the state's \(current.serial) (it was pulled before a later write, which pushing it would undo)"
                        guard force else {
                            throw CommandFailure(message: "error: \(file) is not pushed: \(why)\n"
                                                 + "  = fix: pull the state again and make the change on that; or, to replace it anyway, --force --reason TEXT")
                        }
                        StateCommand.warn("forcing \(file) over the state of \(environment) (serial \(current.serial)): \(why); reason: \(reason ?? "")")
                        pushed.serial = max(pushed.serial, current.serial + 1)
                    }
                }
                try store.write(pushed)
                return (current, pushed)
            }
            let summary = written.after.changeSummary(since: written.before)
            print("Pushed \(file) to environment \(environment) (\(StateStores.describe(store))): serial \(written.after.serial), \(summary).")
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move an environment's state, with its history, to another backend; the old one keeps a read-only copy.",
            discussion: """
                --to local, or --to FILE: a YAML file holding the new backend's state: block, as kryoform.yaml would \
                (state: {backend: postgres, url: env:KRYOFORM_STATE_URL}). The state and its history (who wrote each serial, \
                when, with which command) are copied; the old backend's state is then marked as moved, and every command \
                that would change it there is refused with a pointer to the new one. Then put the new block in kryoform.yaml.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: EnvironmentOptions

        @Option(help: ArgumentHelp("local, or a YAML file with the new backend's state: block.", valueName: "backend"))
        var to: String

        func run() throws {
            global.configureOutput()
            let environment = target.environment
            let (source, project, root) = try StateStores.located(global, environment: environment)
            let (settings, block) = try targetSettings()
            let destination = try StateStores.make(settings, project: project.name, environment: environment, root: root)
            let from = StateStores.describe(source), into = StateStores.describe(destination)
            guard from != into else {
                throw CommandFailure(message: "error: the state of \(environment) is in \(from) already\n  = fix: name another backend with --to")
            }
            let copied: (state: State, history: Int, kept: Bool) = try StateCommand.withLock(source, environment: environment, operation: "state migrate") {
                try source.compact()
                guard var current = try source.read() else {
                    throw CommandFailure(message: "error: environment \(environment) has no state in \(from) to migrate\n  = fix: nothing to move: put the new state: block in kryoform.yaml")
                }
                if let moved = current.movedTo { throw StateLockError.moved(environment: environment, to: moved) }
                current.movedTo = nil
                let result = try StateCommand.withLock(destination, environment: environment, operation: "state migrate") { () throws -> (Int, Bool) in
                    if let there = try destination.read(), there.movedTo != nil, there.lineage == current.lineage {
                        // Back to a backend the state was moved away from: its read-only copy is
                        // replaced, and the serial stays above every serial it had.
                        if current.serial <= there.serial { current.serial = there.serial + 1 }
                    } else if let there = try destination.read() {
                        // A migration cut short after the copy: finish it; anything else is refused.
                        guard there.lineage == current.lineage, there.serial == current.serial else {
                            throw CommandFailure(message: "error: \(into) holds a state of environment \(environment) already (lineage \(there.lineage), serial \(there.serial)); nothing was copied\n"
                                                 + "  = fix: migrate into a backend (or schema, or prefix) that has no state of this environment")
                        }
                        return (0, destination is StateHistoryImporting)
                    }
                    var history = try (source as? StateHistory)?.historyStates() ?? []
                    if !history.contains(where: { $0.entry.lineage == current.lineage && $0.entry.serial == current.serial }) {
                        history.append((StateHistoryEntry(lineage: current.lineage, serial: current.serial, written: Date(), owner: LockInfo.currentUser,
                                                          host: ProcessInfo.processInfo.hostName, operation: "state migrate", summary: "copied from \(from)"), current))
                    }
                    if let importer = destination as? StateHistoryImporting {
                        try importer.adopt(current: current, history: history)
                    } else {
                        try destination.write(current)
                    }
                    guard try destination.read() == current else {
                        throw StateLockError.io("the state read back from \(into) is not the one copied; the old backend is left as it was")
                    }
                    return (destination is StateHistoryImporting ? history.count : 0, destination is StateHistoryImporting)
                }
                var left = current
                left.serial += 1
                left.movedTo = into
                try source.write(left)
                return (current, result.0, result.1)
            }
            print("Moved the state of environment \(environment) (serial \(copied.state.serial), \(copied.state.resources.count) resources) from \(from) to \(into)"
                  + (copied.kept ? ", with \(copied.history) history \(copied.history == 1 ? "entry" : "entries")." : "; the local backend keeps no history, so the history stays in the old backend's read-only copy."))
            print("The old backend keeps a read-only copy; commands that would change it there are refused.")
            print("Now put this in kryoform.yaml in place of its state: block:\n\n\(block)")
        }

        /// The new backend's settings and its block as text.
        func targetSettings() throws -> (Project.StateSettings, String) {
            if to == "local" { return (Project.StateSettings(backend: .local), "state:\n  backend: local") }
            let url = URL(fileURLWithPath: to, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
            let folder = url.deletingLastPathComponent()
            let specs = SpecLoader(fileSystem: LocalFileSystem(root: folder)).loadStateSettings(url.lastPathComponent)
            guard let settings = specs.project?.state else {
                let renderer = DiagnosticRenderer(sources: specs.sources)
                throw CommandFailure(message: specs.diagnostics.filter { $0.severity == .error }.map { renderer.render($0) }.joined(separator: "\n\n")
                                     + "\n\nerror: --to names local, or a YAML file holding a state: block")
            }
            let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            return (settings, text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
