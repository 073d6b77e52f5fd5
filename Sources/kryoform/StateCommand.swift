import ArgumentParser
import Foundation
import Planner
import Spec

/// `kryoform state`: read the recorded state, clear a stale lock.
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Read an environment's state and its history; pull, push and migrate it; remove a lock whose holder is gone.",
        subcommands: [List.self, Show.self, History.self, Pull.self, Push.self, Migrate.self, Unlock.self])

    /// The state store of `-e ENV`, with no need for the specs to be valid.
    static func store(_ global: GlobalOptions, _ environment: String) throws -> StateStore {
        try StateStores.make(global, environment: environment)
    }

    static func read(_ store: StateStore, environment: String) throws -> State {
        do {
            guard let state = try store.read() else {
                throw CommandFailure(message: "error: environment \(environment) has no state yet (\(StateStores.describe(store)))\n  = fix: run kryoform apply -e \(environment)")
            }
            return state
        } catch let error as StateLockError {
            throw CommandFailure(message: error.message)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the resources the state records.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: EnvironmentOptions

        func run() throws {
            global.configureOutput()
            let state = try StateCommand.read(StateCommand.store(global, target.environment), environment: target.environment)
            for resource in state.resources {
                let status = resource.status == .ready ? "" : "  (\(resource.status.rawValue))"
                print("\(resource.address)  \(resource.providerID ?? "-")\(status)")
            }
        }
    }

    /// The history of a backend that keeps one, or why this one keeps none.
    static func history(_ store: StateStore, environment: String) throws -> StateHistory {
        guard let history = store as? StateHistory else {
            throw CommandFailure(message: "error: the local state backend keeps no history: only the state before its last write, in .kryoform/state/\(environment).json.backup\n"
                                 + "  = fix: keep state in PostgreSQL or S3 (state: {backend: postgres, url: env:KRYOFORM_STATE_URL} in kryoform.yaml; see docs/state.md), which keep every write; kryoform state migrate moves it there")
        }
        return history
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one resource of the state, or the state as it was at an earlier serial.",
            discussion: "With --serial N (a backend with history: postgres, s3), the state as serial N wrote it: every resource, or the one named.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: EnvironmentOptions

        @Argument(help: ArgumentHelp("The resource address, e.g. node.main.1.", valueName: "address"))
        var address: String?

        @Option(help: ArgumentHelp("Read the state as it was written at this serial (kryoform state history lists them).", valueName: "N"))
        var serial: Int?

        @Flag(help: "Print it as JSON.")
        var json = false

        func run() throws {
            global.configureOutput()
            let store = try StateCommand.store(global, target.environment)
            let state: State
            if let serial {
                do {
                    guard let found = try StateCommand.history(store, environment: target.environment).state(atSerial: serial) else {
                        throw CommandFailure(message: "error: environment \(target.environment) has no serial \(serial) in its history\n  = fix: kryoform state history -e \(target.environment) lists the serials there are")
                    }
                    state = found
                } catch let error as StateLockError {
                    throw CommandFailure(message: error.message)
                }
            } else {
                state = try StateCommand.read(store, environment: target.environment)
            }
            guard let address else {
                guard serial != nil else {
                    throw CommandFailure(message: "error: name a resource address, or --serial N for the whole state at a serial\n  = fix: kryoform state list -e \(target.environment) lists the addresses")
                }
                if json { return try printJSON(state) }
                print("Serial \(state.serial) of environment \(state.environment) (lineage \(state.lineage)), \(state.resources.count) resources:")
                for resource in state.resources {
                    let status = resource.status == .ready ? "" : "  (\(resource.status.rawValue))"
                    print("  \(resource.address)  \(resource.providerID ?? "-")\(status)")
                }
                return
            }
            guard let resource = state.resource(ResourceAddress(address)) else {
                var message = "error: the state of \(target.environment) has no resource \(address)"
                if let serial { message += " at serial \(serial)" }
                if let suggestion = Suggestion.didYouMean(address, in: state.resources.map(\.address.rawValue)) { message += "\n  = fix: \(suggestion)" }
                throw CommandFailure(message: message)
            }
            if json { return try printJSON(resource) }
            print("\(resource.address)  (\(resource.kind.rawValue))")
            print("  provider id: \(resource.providerID ?? "-")")
            print("  status:      \(resource.status.rawValue)")
            if !resource.dependsOn.isEmpty { print("  depends on:  \(resource.dependsOn.map(\.rawValue).joined(separator: ", "))") }
            let fields = resource.attributes.merging(resource.details) { attribute, _ in attribute }
            let width = fields.keys.map(\.count).max() ?? 0
            for key in fields.keys.sorted() {
                print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(fields[key] ?? "")")
            }
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every write of an environment's state: serial, when, who, which command, what changed (postgres and s3 backends).")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: EnvironmentOptions

        @Flag(help: "Print it as JSON.")
        var json = false

        func run() throws {
            global.configureOutput()
            let store = try StateCommand.store(global, target.environment)
            let entries: [StateHistoryEntry]
            do { entries = try StateCommand.history(store, environment: target.environment).history() } catch let error as StateLockError {
                throw CommandFailure(message: error.message)
            }
            if json { return try printJSON(entries) }
            guard !entries.isEmpty else {
                print("Environment \(target.environment) has no history yet.")
                return
            }
            let formatter = ISO8601DateFormatter()
            let rows = entries.map { ["\($0.serial)", formatter.string(from: $0.written), "\($0.owner)@\($0.host)", $0.operation, $0.summary] }
            let header = ["SERIAL", "WRITTEN", "BY", "COMMAND", "CHANGES"]
            let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                print(row.enumerated().map { index, text in index == row.count - 1 ? text : text.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                    .joined(separator: "  "))
            }
            let lineages = Set(entries.map(\.lineage))
            if lineages.count > 1 { print("(\(lineages.count) lineages: the state was removed and made again)") }
        }
    }

    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a lock whose holder is gone (refused while it runs on this host).",
            discussion: "A lock taken on another host is removed only with --force, once you know that run is gone.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: EnvironmentOptions

        @Flag(help: "Remove a lock taken on another host, whose holder cannot be checked from here.")
        var force = false

        func run() throws {
            global.configureOutput()
            let store = try StateCommand.store(global, target.environment)
            let environment = target.environment
            do {
                guard let holder = try store.currentLock() else {
                    print("Environment \(environment) is not locked.")
                    return
                }
                let removed: String
                if let session = holder.session {
                    throw CommandFailure(message: "error: the lock of environment \(environment) is held by \(holder.describe()), whose connection to the state database (session \(session)) is open\n"
                                         + "  = fix: wait for it to finish: a postgres lock goes with its holder's connection, however the holder ends, so it never needs removing; "
                                         + "if that session hangs, a database administrator can end it with SELECT pg_terminate_backend(\(session))")
                }
                switch LockHolders().status(of: holder) {
                case .running:
                    throw CommandFailure(message: "error: the lock of environment \(environment) is held by \(holder.describe()), which is still running\n"
                                         + "  = fix: wait for it to finish, or stop it (kill \(holder.pid)): its lock is released when it stops; --force does not remove a running holder's lock")
                case .elsewhere where !force:
                    throw CommandFailure(message: "error: the lock of environment \(environment) is held by \(holder.describe()), on another host; kryoform cannot tell from here whether it still runs\n"
                                         + "  = fix: make sure that run is gone, then run: kryoform state unlock -e \(environment) --force")
                case .elsewhere:
                    removed = "Removed the lock of environment \(environment) held by \(holder.describe()) (--force: it was taken on another host)."
                case .gone(let why):
                    removed = "Removed the stale lock of environment \(environment) held by \(holder.describe()): \(why)."
                }
                guard try store.breakLock(holder) else {
                    throw CommandFailure(message: "error: the lock of environment \(environment) changed while it was being removed; nothing was removed\n"
                                         + "  = fix: run kryoform state unlock -e \(environment) again to see who holds it now")
                }
                print(removed)
            } catch let error as StateLockError {
                throw CommandFailure(message: error.message)
            }
        }
    }
}
