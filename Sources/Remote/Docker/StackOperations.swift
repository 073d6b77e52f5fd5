import Foundation

/// A stack as the swarm runs it.
public struct DeployedStack: Hashable, Sendable {
    public var name: String
    /// The compared attributes the services carry, with the image and replicas as Docker reports them.
    public var attributes: [String: String]
    public var composeHash: String?
    /// Running tasks / wanted tasks, over the stack's services (`3/3`).
    public var tasks: String

    /// Reads a stack back from its services' labels and specs.
    public static func from(name: String, services: [DeployedService]) -> DeployedStack {
        let primary = services.first { $0.name == "\(name)_\(name)" } ?? services.sorted { $0.name < $1.name }.first
        var attributes = primary.flatMap { $0.labels[ServiceLabel.attributes] }.flatMap(ComposeFile.decodeAttributes) ?? [:]
        if let primary {
            // What someone changed by hand shows as drift: Docker's own image and replicas win.
            if !primary.image.isEmpty { attributes["image"] = primary.image }
            if let replicas = primary.replicas, attributes["mode"] != "global" { attributes["replicas"] = String(replicas) }
        }
        let running = services.compactMap(\.running).reduce(0, +)
        let wanted = services.compactMap(\.replicas).reduce(0, +)
        return DeployedStack(name: name, attributes: attributes, composeHash: primary?.labels[ServiceLabel.composeHash],
                             tasks: "\(running)/\(wanted)")
    }
}

extension SwarmOperations {
    /// Where stack files are kept on the manager (relative to the user's home).
    static let stackFolder = ".kryoform/stacks"

    /// Where the Compose file of stack `name` is kept on the manager.
    func stackFile(_ name: String) -> String { "\(Self.stackFolder)/\(project)-\(environment)-\(name).yml" }

    /// Deploys (or redeploys) one stack from a manager: its secrets made where missing, the
    /// Compose file uploaded, `docker stack deploy`, then waits until every task runs.
    public func deploy(_ deployment: StackDeployment, secrets: [String: Data], on manager: NodeEndpoint,
                       waitLimit: Duration = .seconds(180)) async throws -> DeployedStack {
        let name = deployment.stack.name
        let compose: ComposeFile
        do { compose = try ComposeFile(deployment) } catch {
            throw RemoteError(host: manager.target.name, message: "stack \(name): cannot write its Compose file: \(error)")
        }
        try await ensureNetwork(on: manager)
        for (secret, dockerName) in deployment.secretNames.sorted(by: { $0.key < $1.key }) {
            guard let value = secrets[secret] else { continue }
            // The value goes over stdin: never in a command line, a log or the process table.
            try await shell.run("docker secret inspect \(shellQuote(dockerName)) >/dev/null 2>&1 || docker secret create \(shellQuote(dockerName)) - >/dev/null",
                                on: manager, stdin: value, mutating: true, what: "creating secret \(dockerName)")
        }
        let path = stackFile(name)
        try await shell.run("mkdir -p \(Self.stackFolder)", on: manager, mutating: false)
        try await shell.upload(Data(compose.text.utf8), to: path, on: manager, mode: 0o600)
        try await shell.run("docker stack deploy --prune --resolve-image never -c \(shellQuote(path)) \(shellQuote(name))", on: manager, mutating: true,
                            what: "docker stack deploy \(name)")
        let deployed = try await waitUntilRunning(name, composeHash: compose.hash, on: manager, limit: waitLimit)
        // Secrets of earlier values that no service uses any more; Docker refuses to remove one in use.
        try await shell.run(
            "docker secret ls --format '{{.Name}}' | grep -E '^\(name)_.+_[0-9a-f]{12}$' | grep -v -x -F \(deployment.secretNames.values.sorted().map { "-e \(shellQuote($0))" }.joined(separator: " ")) -e '' | xargs -r docker secret rm >/dev/null 2>&1; true",
            on: manager, mutating: true, what: "removing unused secrets of \(name)")
        return deployed
    }

    /// Polls the stack's services until each carries the new spec (`composeHash`), has finished
    /// its rolling update and runs its wanted tasks; fails at once when Docker rolled the update
    /// back, and with the tasks' errors when `limit` passes first.
    func waitUntilRunning(_ name: String, composeHash: String, on manager: NodeEndpoint, limit: Duration) async throws -> DeployedStack {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while true {
            let facts = try await self.facts(of: manager)
            let services = facts.cluster?.stacks[name] ?? []
            let stack = DeployedStack.from(name: name, services: services)
            if let failed = services.first(where: { ["rollback_completed", "rollback_paused", "paused"].contains($0.updateState ?? "") }) {
                throw RemoteError(host: manager.target.name,
                                  message: "stack \(name): Docker stopped the update of \(failed.name) (\(failed.updateState ?? "")): \(failed.updateMessage ?? "no message")",
                                  fix: "see docker service ps \(failed.name) on the manager; apply again once it is fixed")
            }
            let settled = !services.isEmpty && services.allSatisfy { service in
                guard let running = service.running, service.labels[ServiceLabel.composeHash] == composeHash,
                      service.updateState == nil || service.updateState == "completed" else { return false }
                return service.replicas.map { running == $0 } ?? (running > 0)
            }
            if settled { return stack }
            if clock.now >= deadline {
                let tasks = try? await shell.run(
                    "docker stack ps \(shellQuote(name)) --no-trunc --filter desired-state=running --format '{{.Name}} {{.CurrentState}} {{.Error}}' | head -n 5",
                    on: manager, mutating: false)
                let detail = (tasks ?? "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; ")
                throw RemoteError(host: manager.target.name,
                                  message: "stack \(name) has \(stack.tasks) tasks running after \(limit)" + (detail.isEmpty ? "" : ": \(detail)"),
                                  fix: "see docker stack ps \(name) on the manager; apply again once it is fixed")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// Removes a stack, waits until its services are gone, then removes its secrets.
    public func remove(stack name: String, on manager: NodeEndpoint, waitLimit: Duration = .seconds(120)) async throws {
        // The name comes back from a service label; it goes into commands only if it is a stack name.
        guard !name.isEmpty, name.allSatisfy({ ($0.isLetter && $0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "-" }) else {
            throw RemoteError(host: manager.target.name, message: "'\(name)' is not a stack name kryoform makes; remove it by hand with docker stack rm")
        }
        try await shell.run("docker stack rm \(shellQuote(name))", on: manager, mutating: true, what: "docker stack rm \(name)")
        let clock = ContinuousClock()
        let deadline = clock.now + waitLimit
        while clock.now < deadline {
            let left = try await shell.run("docker service ls -q --filter label=com.docker.stack.namespace=\(shellQuote(name))", on: manager, mutating: false)
            if left.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
            try await Task.sleep(for: .seconds(1))
        }
        // Tasks release their secrets a moment after the services go: a few tries.
        try await shell.run(
            "for i in 1 2 3 4 5 6 7 8 9 10; do names=$(docker secret ls --format '{{.Name}}' | grep -E '^\(name)_.+_[0-9a-f]{12}$'); "
                + "[ -z \"$names\" ] && exit 0; echo \"$names\" | xargs docker secret rm >/dev/null 2>&1 || sleep 1; done; true",
            on: manager, mutating: true, what: "removing the secrets of \(name)")
        try? await shell.run("rm -f \(shellQuote(stackFile(name)))", on: manager, mutating: true)
    }

    /// A manager of the swarm among `nodes`, with its facts: the first that answers as one.
    public func manager(among nodes: [NodeEndpoint]) async throws -> (NodeEndpoint, NodeFacts) {
        var failures: [RemoteError] = []
        for node in nodes {
            do {
                let nodeFacts = try await facts(of: node)
                if nodeFacts.swarm?.isManager == true, nodeFacts.cluster != nil { return (node, nodeFacts) }
            } catch {
                failures.append(Self.remoteError(error, node: node))
            }
        }
        throw RemoteError(host: "swarm", message: "no reachable manager" + (failures.isEmpty ? "" : ": " + failures.map(\.description).joined(separator: "; ")),
                          fix: "apply the swarm first, or make a manager reachable")
    }
}
