/// Everything a project's files say: the project, the inventory of stacks and the environments,
/// with every problem found while reading and checking them.
public struct Specs: Sendable {
    public var project: Project?
    /// The inventory, sorted by name.
    public var stacks: [Stack]
    /// Sorted by name.
    public var environments: [Environment]
    /// The text of each file read, by path, for quoting in diagnostics.
    public var sources: [String: SourceFile]
    /// Every problem found, in file, line, column order.
    public var diagnostics: [Diagnostic]
    /// Names of stack files that could not be read: references to them are not reported again.
    public var unreadableStacks: Set<String> = []
    /// The stack each file under stacks/ declares, by path: its `stack:` name, or the file's base
    /// name when the file could not be read.
    public var stackFiles: [String: String] = [:]
    /// The same for the files under environments/: the `environment:` each declares, or its base name.
    public var environmentFiles: [String: String] = [:]
    /// How many files were read.
    public var fileCount: Int { sources.count }

    public func stack(named name: String) -> Stack? {
        stacks.first { $0.name == name }
    }

    public func environment(named name: String) -> Environment? {
        environments.first { $0.name == name }
    }

    /// Every problem that concerns `environment`: the project's, its own file's, and those of the
    /// stack files it selects. Other environments' files and the stack files it does not select
    /// do not block it (`validate` without `-e` still reports them).
    public func diagnostics(forEnvironment name: String) -> [Diagnostic] {
        var otherFiles = Set(environmentFiles.filter { $0.value != name }.keys)
        if let selection = environment(named: name)?.stacks {
            otherFiles.formUnion(stackFiles.filter { !selection.includes($0.value) }.keys)
        }
        return diagnostics.filter { !otherFiles.contains($0.location.file) }
    }

    /// The stacks `environment` runs, with its pins and overrides applied, in inventory order.
    public func stacks(in environment: Environment) -> [Stack] {
        stacks.filter { environment.stacks.includes($0.name) }.map { environment.applying(to: $0) }
    }
}

extension Environment {
    /// The stack as this environment runs it: version pin and scale overrides applied.
    public func applying(to stack: Stack) -> Stack {
        var stack = stack
        if let pin = pins[stack.name] { stack.version = pin }
        if let override = overrides[stack.name], stack.kind == .service {
            if let replicas = override.replicas { stack.replicas = replicas }
            if let cpu = override.cpu { stack.resources.cpu = cpu }
            if let memory = override.memory { stack.resources.memory = memory }
            if let gpu = override.gpu { stack.resources.gpu = gpu }
        }
        return stack
    }
}
