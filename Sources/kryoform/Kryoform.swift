import ArgumentParser
import Foundation

/// The `kryoform` command: parses arguments, calls the modules, prints.
@main
struct Kryoform: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kryoform",
        abstract: "Declarative clusters and stacks on DigitalOcean, Vultr, AWS and your own hosts.",
        version: "0.1.0",
        subcommands: [ValidateCommand.self, InventoryCommand.self, PlanCommand.self, ApplyCommand.self, DestroyCommand.self,
                      DriftCommand.self, StateCommand.self, CostCommand.self, VersionCommand.self]
    )

    /// Exit codes: 0 success, 1 any error (usage errors included), 2 success with changes present.
    static func main() async {
        do {
            var command = try parseAsRoot(GlobalArguments.reorder(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let quiet as QuietExit {
            Foundation.exit(quiet.code)
        } catch let error as CommandFailure {
            FileHandle.standardError.write(Data((error.message + "\n").utf8))
            Foundation.exit(error.exitCode)
        } catch {
            // --help and --version exit 0 as usual; every other failure, usage errors included, exits 1.
            if exitCode(for: error) == .success {
                exit(withError: error)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(1)
        }
    }
}

/// `kryoform version`: what `kryoform --version` prints.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print kryoform's version (as --version does).")

    /// Accepted, so `kryoform -C DIR version` works like every other command.
    @OptionGroup var global: GlobalOptions

    func run() {
        print(Kryoform.configuration.version)
    }
}

/// A failure already explained to the user; `message` is printed as is.
struct CommandFailure: Error {
    var message: String
    var exitCode: Int32 = 1
}

/// Exit quietly with `code`, everything having been printed already.
struct QuietExit: Error {
    var code: Int32
}
