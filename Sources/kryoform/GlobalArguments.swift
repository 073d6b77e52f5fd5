import ArgumentParser

/// Lets the global options (`-C DIR`, `--no-color`, `--log-level LEVEL`) come before the command
/// as well as after it: `kryoform -C DIR state list -e ENV` is read as `kryoform state list -e ENV -C DIR`.
///
/// swift-argument-parser reads an option group only after the subcommand that holds it, so the
/// leading global options are moved to just after the subcommand's name (nested names included).
enum GlobalArguments {
    /// The options that take a value, and the flags, as `GlobalOptions` declares them.
    static let valued: Set<String> = ["-C", "--log-level"]
    static let flags: Set<String> = ["--no-color"]

    /// `arguments` (without the program's name) with any leading global options moved after the
    /// subcommand path. Anything else, including a leading option that is not global, is left as
    /// it is, so the parser reports it as usual.
    static func reorder(_ arguments: [String], root: ParsableCommand.Type = Kryoform.self) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if flags.contains(argument) || valued.contains(where: { argument.hasPrefix($0 + "=") }) {
                leading.append(argument)
                index += 1
            } else if valued.contains(argument), index + 1 < arguments.count {
                leading += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty else { return arguments }
        let rest = Array(arguments[index...])
        var command = root
        var depth = 0
        while depth < rest.count, let subcommand = command.configuration.subcommands.first(where: { $0.names.contains(rest[depth]) }) {
            command = subcommand
            depth += 1
        }
        guard depth > 0 else { return arguments }
        return Array(rest[..<depth]) + leading + Array(rest[depth...])
    }
}

extension ParsableCommand {
    /// The words that name this command on the command line.
    fileprivate static var names: [String] { [_commandName] + configuration.aliases }
}
