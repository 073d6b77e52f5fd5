/// Rules over the inventory alone: file names, duplicate names, dependencies and their cycles.
struct InventoryRules {
    let stacks: [Stack]
    /// Stacks whose files could not be read; depending on them is not reported again.
    let unreadable: Set<String>

    func check() -> [Diagnostic] {
        fileNames() + duplicates() + unknownDependencies() + cycles()
    }

    /// `stacks/postgres.yaml` must declare `stack: postgres`, so a name always finds its file.
    private func fileNames() -> [Diagnostic] {
        stacks.compactMap { stack in
            let file = stack.source.file.split(separator: "/").last.map(String.init) ?? stack.source.file
            let base = String(file.prefix { $0 != "." })
            guard base != stack.name else { return nil }
            return .error("stack '\(stack.name)' is declared in \(stack.source.file); the file and the stack must share a name",
                          at: stack.source.location(of: "stack"),
                          fix: "rename the file to stacks/\(stack.name).yaml, or the stack to '\(base)'")
        }
    }

    private func duplicates() -> [Diagnostic] {
        var first: [String: Stack] = [:]
        var diagnostics: [Diagnostic] = []
        for stack in stacks.sorted(by: { $0.source.file < $1.source.file }) {
            if let earlier = first[stack.name] {
                diagnostics.append(.error("stack '\(stack.name)' is declared twice",
                                          at: stack.source.location(of: "stack"),
                                          notes: ["first declared at \(earlier.source.location(of: "stack"))"],
                                          fix: "remove or rename one of them"))
            } else {
                first[stack.name] = stack
            }
        }
        return diagnostics
    }

    private func unknownDependencies() -> [Diagnostic] {
        let names = Set(stacks.map(\.name))
        var diagnostics: [Diagnostic] = []
        for stack in stacks {
            for (index, dependency) in stack.dependsOn.enumerated() where !names.contains(dependency) && !unreadable.contains(dependency) {
                diagnostics.append(.error("stack '\(stack.name)' depends on '\(dependency)', which is not in the inventory",
                                          at: stack.source.location(of: ModelPath.root / "depends_on" / index),
                                          fix: Suggestion.didYouMean(dependency, in: names) ?? "add stacks/\(dependency).yaml, or remove the dependency"))
            }
        }
        return diagnostics
    }

    /// Every dependency cycle, once, reported at the dependency that closes it in the
    /// alphabetically first stack of the cycle.
    private func cycles() -> [Diagnostic] {
        let byName = Dictionary(stacks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var state: [String: Bool] = [:]  // false: on the current path, true: finished
        var path: [String] = []
        var found: [[String]] = []

        func visit(_ name: String) {
            state[name] = false
            path.append(name)
            for dependency in byName[name]?.dependsOn ?? [] where byName[dependency] != nil {
                switch state[dependency] {
                case nil: visit(dependency)
                case false?:
                    if let start = path.firstIndex(of: dependency) { found.append(Array(path[start...])) }
                case true?: break
                }
            }
            path.removeLast()
            state[name] = true
        }
        for name in byName.keys.sorted() where state[name] == nil {
            visit(name)
        }
        var reported: Set<Set<String>> = []
        return found.compactMap { cycle in
            // A stack depending on itself is reported where it is read.
            guard cycle.count > 1, reported.insert(Set(cycle)).inserted else { return nil }
            let startIndex = cycle.indices.min { cycle[$0] < cycle[$1] } ?? 0
            let rotated = Array(cycle[startIndex...] + cycle[..<startIndex])
            let first = rotated[0]
            let next = rotated.count > 1 ? rotated[1] : first
            guard let stack = byName[first], let index = stack.dependsOn.firstIndex(of: next) else { return nil }
            return .error("dependency cycle: \((rotated + [first]).joined(separator: " → "))",
                          at: stack.source.location(of: ModelPath.root / "depends_on" / index),
                          fix: "remove one of these dependencies; stacks deploy in dependency order, so a cycle can never start")
        }
    }
}
