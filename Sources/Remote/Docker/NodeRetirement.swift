import Foundation

/// Where a node's tasks stand while it drains: what still runs on it, and which services of
/// the environment run fewer tasks than they want.
struct DrainProgress: Hashable, Sendable {
    /// Tasks of the environment's services still on the node (`web_web.1 Running`).
    var onNode: [String]
    /// Services short of their wanted tasks (`web_web 1/2`).
    var short: [String]

    var isDone: Bool { onNode.isEmpty && short.isEmpty }

    /// The separator between the two parts of `script`'s output.
    static let marker = "@@kf-node-tasks"

    /// The separator before the services held to a node by their volume.
    static let pinnedMarker = "@@kf-node-pinned"

    /// One read of all three: the environment's services with their replicas, the node's
    /// tasks, and the services held to a node by the cluster volume their data is on. Those
    /// are not waited for: draining another node never moves them, and draining theirs stops
    /// them until the volume is mounted on the node that replaces it (`mount` waits for them).
    static func script(nodeID: String, project: String, environment: String) -> String {
        let filter = "--filter label=\(ServiceLabel.project)=\(shellQuote(project)) --filter label=\(ServiceLabel.environment)=\(shellQuote(environment))"
        return "docker service ls \(filter) --format '{{.Name}} {{.Replicas}}' && echo '\(marker)' && docker node ps \(shellQuote(nodeID)) --format '{{.Name}} {{.CurrentState}}'"
            + " && echo '\(pinnedMarker)' && docker service ls \(filter) --filter label=\(ServiceLabel.pinnedNode) --format '{{.Name}}'"
    }

    /// Task states of a task that is on the node and not finished.
    static let liveStates = ["New", "Allocated", "Assigned", "Accepted", "Preparing", "Ready", "Starting", "Running"]

    /// Reads `script`'s output. A service is short when its running tasks (`1/2`) are fewer than
    /// wanted; a task counts as on the node while its current state is a live one.
    static func parse(_ output: String) -> DrainProgress {
        let held = output.components(separatedBy: "\(pinnedMarker)\n")
        let pinned = Set((held.count > 1 ? held[1] : "").split(separator: "\n").map(String.init))
        let parts = (held.first ?? "").components(separatedBy: "\(marker)\n")
        var services: [String] = []
        var short: [String] = []
        for line in (parts.first ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, !pinned.contains(String(fields[0])) else { continue }
            services.append(String(fields[0]))
            let counts = fields[1].split(separator: "/").compactMap { Int($0) }
            if counts.count == 2, counts[0] < counts[1] { short.append("\(fields[0]) \(fields[1])") }
        }
        var onNode: [String] = []
        for line in (parts.count > 1 ? parts[1] : "").split(separator: "\n") {
            // `docker node ps` marks earlier tasks of a slot with `\_`.
            let fields = line.split(separator: " ").filter { $0 != "\\_" }
            guard fields.count >= 2, liveStates.contains(String(fields[1])) else { continue }
            let task = String(fields[0])
            if services.contains(where: { task.hasPrefix($0 + ".") }) { onNode.append("\(task) \(fields[1])") }
        }
        return DrainProgress(onNode: onNode, short: short)
    }
}

extension RemoteError {
    /// The refusal to take the swarm's last manager out while `staying` other nodes stay in it.
    static func lastManager(_ host: String, staying: Int) -> RemoteError {
        RemoteError(host: host, message: "is the swarm's last manager; taking it out would leave the other \(staying) node\(staying == 1 ? "" : "s") without a swarm",
                    fix: "give another node the management role and apply, then remove this one")
    }
}

extension SwarmOperations {
    /// Takes one node out of the swarm without stopping the environment's services: demoted
    /// first when it manages (refused when it is the last manager and other nodes stay),
    /// drained, and once none of the environment's tasks runs on it and every service runs its
    /// wanted tasks elsewhere (within `waitLimit`), made to leave (`endpoint`, where it is given
    /// and answers: a node already gone is fine) and removed from the swarm on `manager`. A
    /// node the swarm sees down is only demoted and removed.
    public func retire(_ node: SwarmNode, endpoint: NodeEndpoint?, manager: NodeEndpoint, cluster: ClusterFacts,
                       waitLimit: Duration) async throws {
        let address = node.labels[NodeLabel.address] ?? node.hostname
        if node.role == "manager" {
            let otherManagers = cluster.nodes.filter { $0.role == "manager" && $0.id != node.id && $0.state != "down" }
            let others = cluster.nodes.filter { $0.id != node.id && $0.state != "down" }
            guard !otherManagers.isEmpty || others.isEmpty else { throw RemoteError.lastManager(address, staying: others.count) }
            try await shell.run(Self.nodeChange("docker node demote \(shellQuote(node.id))"), on: manager, mutating: true, what: "demoting \(address) before it leaves")
            if node.state != "down" { try await waitUntilDemoted(node.id, address: address, on: manager, limit: waitLimit) }
        }
        // A node that is down already runs nothing the swarm counts: Swarm has moved its tasks,
        // and there is nothing to drain or to make leave.
        if node.state != "down" {
            try await shell.run(Self.nodeChange("docker node update --availability drain \(shellQuote(node.id))"), on: manager, mutating: true,
                                what: "draining \(address): its tasks move to the other nodes")
            try await waitUntilDrained(node.id, address: address, on: manager, limit: waitLimit)
            if let endpoint, let facts = try? await facts(of: endpoint), let swarm = facts.swarm, swarm.state != "inactive" {
                try await shell.run("docker swarm leave", on: endpoint, mutating: true, what: "docker swarm leave (drained)")
            }
        }
        // Drained and (where it answered) left, or down: nothing of the environment runs on it,
        // so the removal need not wait for the manager to see it down.
        try await shell.run("docker node rm --force \(shellQuote(node.id))", on: manager, mutating: true, what: "removing \(address) from the swarm")
    }

    /// Polls until the swarm no longer counts the node among its Raft managers: only then may
    /// it leave without taking a vote from the quorum.
    func waitUntilDemoted(_ nodeID: String, address: String, on manager: NodeEndpoint, limit: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        let command = "docker node inspect --format '{{if .ManagerStatus}}manager{{end}}' \(shellQuote(nodeID))"
        while try await !shell.run(command, on: manager, mutating: false, what: "reading whether \(address) still manages")
            .trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard clock.now < deadline else {
                throw RemoteError(host: address, message: "is still a manager \(limit) after it was demoted", fix: "see docker node ls on a manager; apply again")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// Polls until none of the environment's tasks is on the node and every service runs its
    /// wanted tasks; fails naming what is left when `limit` passes first.
    func waitUntilDrained(_ nodeID: String, address: String, on manager: NodeEndpoint, limit: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        let script = DrainProgress.script(nodeID: nodeID, project: project, environment: environment)
        while true {
            let progress = DrainProgress.parse(try await shell.run(script, on: manager, mutating: false, what: "reading the tasks of \(address) (draining)"))
            if progress.isDone { return }
            if clock.now >= deadline {
                let left = (progress.onNode.map { "\($0) on it" } + progress.short.map { "\($0) running" }).prefix(6).joined(separator: ", ")
                throw RemoteError(host: address, message: "still draining after \(limit): \(left); it stays in the swarm, drained",
                                  fix: "the other nodes of its roles may lack room (see docker service ps on a manager); apply again once they have it")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
