/// Rules over one environment and the stacks it selects.
struct EnvironmentRules {
    let environment: Environment
    let specs: Specs
    /// The inventory by name.
    private let inventory: [String: Stack]
    /// The stacks the environment runs, pins and overrides applied.
    private let selected: [Stack]

    init(environment: Environment, specs: Specs, selected: [Stack]) {
        self.environment = environment
        self.specs = specs
        self.selected = selected
        self.inventory = Dictionary(specs.stacks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func check() -> [Diagnostic] {
        selectionReferences() + pinsAndOverrides() + placement() + publishedPorts() + routes() + unusedSecrets()
    }

    /// Where the environment selects `stack`: its entry in the `stacks` list, or the `stacks` value itself.
    private func selectionLocation(of stack: String) -> SourceLocation {
        if case .only(let names) = environment.stacks, let index = names.firstIndex(of: stack) {
            return environment.source.location(of: ModelPath.root / "stacks" / index)
        }
        return environment.source.location(of: "stacks")
    }

    private func selectionReferences() -> [Diagnostic] {
        let names: [String], path: ModelPath
        switch environment.stacks {
        case .all: return []
        case .only(let list): (names, path) = (list, "stacks")
        case .allExcept(let list): (names, path) = (list, ModelPath.root / "stacks" / "except")
        }
        return names.enumerated().compactMap { index, name in
            guard inventory[name] == nil, !specs.unreadableStacks.contains(name) else { return nil }
            return .error("environment '\(environment.name)' selects stack '\(name)', which is not in the inventory",
                          at: environment.source.location(of: path / index),
                          fix: Suggestion.didYouMean(name, in: inventory.keys) ?? "add stacks/\(name).yaml, or remove it from the list")
        }
    }

    private func pinsAndOverrides() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for (section, names) in [("pins", Array(environment.pins.keys)), ("overrides", Array(environment.overrides.keys))] {
            for name in names.sorted() {
                let at = environment.source.keyLocation(of: ModelPath.root / section / name)
                guard let stack = inventory[name] else {
                    if specs.unreadableStacks.contains(name) { continue }
                    diagnostics.append(.error("\(section) names stack '\(name)', which is not in the inventory", at: at,
                                              fix: Suggestion.didYouMean(name, in: inventory.keys)))
                    continue
                }
                if !environment.stacks.includes(name) {
                    diagnostics.append(.warning("\(section) names stack '\(name)', which environment '\(environment.name)' does not run", at: at,
                                                fix: "remove the entry, or add '\(name)' to stacks"))
                } else if section == "overrides", !stack.deploysSomething {
                    diagnostics.append(.error("stack '\(name)' is a \(stack.kind.rawValue) and deploys nothing, so it cannot be overridden", at: at))
                }
            }
        }
        return diagnostics
    }

    /// Each service runs on a role the environment has, and what it depends on runs too.
    private func placement() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let roles = environment.roles
        for stack in selected where stack.deploysSomething {
            let at = selectionLocation(of: stack.name)
            if !roles.contains(stack.role), environment.clustersAreComplete {
                diagnostics.append(.error(
                    "stack '\(stack.name)' runs on role '\(stack.role)', but environment '\(environment.name)' has no cluster with that role",
                    at: at,
                    notes: ["the role is set at \(stack.source.location(of: "role"))",
                            "the environment's roles: \(roles.sorted().joined(separator: ", "))"],
                    fix: Suggestion.closest(to: stack.role, in: roles).map { "did you mean role '\($0)'? fix it in \(stack.source.file)" }
                        ?? "add a cluster with role: \(stack.role), or stop running '\(stack.name)' here"))
            }
            for dependency in stack.dependsOn {
                guard let needed = inventory[dependency], needed.deploysSomething,
                      !environment.stacks.includes(dependency) else { continue }
                diagnostics.append(.error(
                    "stack '\(stack.name)' depends on '\(dependency)', which environment '\(environment.name)' does not run",
                    at: at, fix: "add '\(dependency)' to stacks, or stop running '\(stack.name)' here"))
            }
        }
        return diagnostics
    }

    /// The swarm's routing mesh opens a published port on every node, so each may be published once,
    /// and never on the nodes' SSH port.
    private func publishedPorts() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var owners: [String: (stack: Stack, index: Int)] = [:]
        let sshPort = specs.project?.ssh.port ?? 22
        for stack in selected where stack.deploysSomething {
            for (index, port) in stack.ports.enumerated() {
                guard let published = port.published else { continue }
                let at = stack.source.location(of: ModelPath.root / "ports" / index)
                let key = "\(published)/\(port.protocol.rawValue)"
                if published == sshPort, port.protocol == .tcp {
                    diagnostics.append(.error("stack '\(stack.name)' publishes port \(published), the nodes' SSH port", at: at,
                                              fix: "publish it on another port; kryoform reaches the nodes on \(sshPort)"))
                }
                if let owner = owners[key] {
                    diagnostics.append(.error(
                        "port \(key) is published twice in environment '\(environment.name)': by '\(owner.stack.name)' and '\(stack.name)'",
                        at: at,
                        notes: ["'\(owner.stack.name)' publishes it at \(owner.stack.source.location(of: ModelPath.root / "ports" / owner.index))"],
                        fix: "publish one of them on another port, or route it through Traefik"))
                } else {
                    owners[key] = (stack, index)
                }
            }
        }
        return diagnostics
    }

    private func routes() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var owners: [String: (stack: Stack, index: Int)] = [:]
        for stack in selected where stack.deploysSomething {
            for (index, route) in stack.routes.enumerated() {
                let at = stack.source.location(of: ModelPath.root / "routes" / index / "host")
                if !route.host.contains("."), environment.domain == nil {
                    diagnostics.append(.error(
                        "stack '\(stack.name)' routes host '\(route.host)', but environment '\(environment.name)' sets no domain",
                        at: selectionLocation(of: stack.name),
                        notes: ["the route is at \(at)"],
                        fix: "add domain: example.com to \(environment.source.file)"))
                    continue
                }
                let key = route.hostName(domain: environment.domain) + route.path
                if let owner = owners[key] {
                    diagnostics.append(.error(
                        "\(key) is routed twice in environment '\(environment.name)': by '\(owner.stack.name)' and '\(stack.name)'",
                        at: at,
                        notes: ["'\(owner.stack.name)' routes it at \(owner.stack.source.location(of: ModelPath.root / "routes" / owner.index / "host"))"],
                        fix: "give one of them another host or path"))
                } else {
                    owners[key] = (stack, index)
                }
            }
        }
        return diagnostics
    }

    private func unusedSecrets() -> [Diagnostic] {
        let used = Set(selected.flatMap(\.secrets))
        return environment.secrets.keys.sorted().filter { !used.contains($0) }.map { name in
            .warning("secret '\(name)' is not used by any stack environment '\(environment.name)' runs",
                     at: environment.source.keyLocation(of: ModelPath.root / "secrets" / name),
                     fix: Suggestion.didYouMean(name, in: used) ?? "remove it")
        }
    }
}
