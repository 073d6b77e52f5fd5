import Foundation

/// The swarm an environment asks for: which nodes manage, which work, and their roles.
public struct DesiredSwarm: Hashable, Sendable {
    /// The first is where the swarm is initialised.
    public var managers: [NodeEndpoint]
    public var workers: [NodeEndpoint]

    public init(managers: [NodeEndpoint], workers: [NodeEndpoint]) {
        self.managers = managers
        self.workers = workers
    }

    public var members: [NodeEndpoint] { managers + workers }
}

/// The swarm as the nodes report it, by node address.
public struct ObservedSwarm: Hashable, Sendable {
    public var clusterID: String
    public var managers: [String]
    public var workers: [String]
    /// Node address → its roles, from the nodes' `kryoform.role` labels.
    public var roles: [String: [String]]
    /// Node address → swarm node id.
    public var nodeIDs: [String: String]
}

/// Node labels that mark what kryoform manages.
extension NodeLabel {
    /// The node's resource address, which ties a swarm node to a node of the environment.
    public static let address = "kryoform.node"
}

/// Docker and Swarm on the environment's nodes: facts, membership, stacks. Every step reads
/// first and changes only what differs, so running it again on a converged swarm changes nothing.
public struct SwarmOperations: Sendable {
    public let shell: NodeShell
    public let project: String
    public let environment: String
    /// How many hosts are worked on at once.
    public var fanOut: Int
    /// How long a node that leaves may take to drain: its tasks moved and running elsewhere.
    public var drainWait: Duration = .seconds(180)

    public init(shell: NodeShell, project: String, environment: String, fanOut: Int = 16) {
        self.shell = shell
        self.project = project
        self.environment = environment
        self.fanOut = fanOut
    }

    /// The overlay network every stack of the environment joins.
    public var network: String { "kf-\(project)-\(environment)" }

    // MARK: Facts

    /// One node's facts, in one round trip.
    public func facts(of node: NodeEndpoint) async throws -> NodeFacts {
        // A Docker engine that hangs must not hang the plan: facts get a minute.
        let output = try await shell.run(NodeFactsScript.script(project: project, environment: environment), on: node, mutating: false,
                                         what: "reading the node's facts", timeout: .seconds(60))
        do { return try NodeFactsScript.parse(output) } catch let error as FactsError {
            throw RemoteError(host: node.target.name, message: error.message)
        }
    }

    /// Connects to every node at once before anything runs on any of them, and returns the
    /// hosts that could not be reached. A host whose key is refused then stops the run before a
    /// single command ran elsewhere, instead of after the other hosts were read or changed.
    public func reach(_ nodes: [NodeEndpoint]) async -> [RemoteError] {
        let connections = shell.connections
        let failures = await boundedMap(nodes, limit: fanOut) { node -> RemoteError? in
            do {
                guard let boot = node.firstBoot else { try await connections.reach(node.target); return nil }
                try await connections.reach(node.target, patience: boot.sshPatience)
                try await waitForFirstBoot(node)
                return nil
            } catch let error as SSHError {
                return RemoteError(node: node, error)
            } catch {
                return Self.remoteError(error, node: node)
            }
        }
        return failures.compactMap { $0 }.sorted { $0.host < $1.host }
    }

    /// Waits (once a run, up to the node's patience or two minutes) until cloud-init says the
    /// node's first boot is done, so nothing kryoform runs races cloud-init's own package work.
    /// Exit 2 is "done, with recoverable errors": the node is usable. Images without cloud-init
    /// have nothing to wait for.
    func waitForFirstBoot(_ node: NodeEndpoint) async throws {
        let connections = shell.connections
        guard await !connections.firstBootSeen(node.target) else { return }
        let script = """
        command -v cloud-init >/dev/null 2>&1 || exit 0
        cloud-init status --wait >/dev/null 2>&1; kf_status=$?
        [ "$kf_status" -eq 0 ] || [ "$kf_status" -eq 2 ] && exit 0
        cloud-init status --long 2>&1 | tail -n 4 >&2; exit "$kf_status"
        """
        let patience = max(node.firstBoot?.sshPatience ?? .zero, .seconds(120))
        do {
            try await shell.run(script, on: node, mutating: false, what: "waiting for cloud-init to finish the first boot", timeout: patience)
        } catch let error as RemoteError {
            throw RemoteError(host: error.host, message: error.message,
                              fix: "read /var/log/cloud-init-output.log on the node; the user data kryoform sends only installs the host key and the login user")
        }
        await connections.recordFirstBoot(node.target)
    }

    /// Facts of many nodes at once; each result stands on its own.
    public func facts(of nodes: [NodeEndpoint]) async -> [String: Result<NodeFacts, RemoteError>] {
        let results = await boundedMap(nodes, limit: fanOut) { node in
            do { return (node.address, Result<NodeFacts, RemoteError>.success(try await facts(of: node))) } catch {
                return (node.address, .failure(Self.remoteError(error, node: node)))
            }
        }
        return Dictionary(results, uniquingKeysWith: { first, _ in first })
    }

    /// The swarm the reachable nodes are in, read from a manager's view.
    public static func observe(_ facts: [String: NodeFacts]) -> ObservedSwarm? {
        let clusterIDs = Set(facts.values.compactMap { $0.swarm?.isActive == true ? $0.swarm?.clusterID : nil })
        guard let manager = facts.values.first(where: { $0.cluster != nil && $0.swarm?.clusterID != nil }),
              let cluster = manager.cluster, let clusterID = manager.swarm?.clusterID else {
            // Members answer but no manager does: report the membership they know.
            guard let clusterID = clusterIDs.sorted().first else { return nil }
            let members = facts.filter { $0.value.swarm?.clusterID == clusterID || $0.value.swarm?.isActive == true }
            return ObservedSwarm(clusterID: clusterID,
                                 managers: members.filter { $0.value.swarm?.isManager == true }.map(\.key).sorted(),
                                 workers: members.filter { $0.value.swarm?.isManager != true }.map(\.key).sorted(),
                                 roles: [:], nodeIDs: members.compactMapValues { $0.swarm?.nodeID })
        }
        var observed = ObservedSwarm(clusterID: clusterID, managers: [], workers: [], roles: [:], nodeIDs: [:])
        let addressesByNodeID = Dictionary(facts.compactMap { entry in entry.value.swarm.map { ($0.nodeID, entry.key) } },
                                           uniquingKeysWith: { first, _ in first })
        // A node that left and joined again has an old entry, down, under the same address:
        // the live one counts.
        var seen: Set<String> = []
        for node in cluster.nodes.sorted(by: { ($0.state == "down" ? 1 : 0) < ($1.state == "down" ? 1 : 0) }) {
            guard let address = node.labels[NodeLabel.address] ?? addressesByNodeID[node.id], seen.insert(address).inserted else { continue }
            observed.nodeIDs[address] = node.id
            if node.role == "manager" { observed.managers.append(address) } else { observed.workers.append(address) }
            if let roles = node.labels[NodeLabel.roles] {
                observed.roles[address] = roles.split(separator: ",").map(String.init).sorted()
            }
        }
        observed.managers.sort()
        observed.workers.sort()
        return observed
    }

    // MARK: Membership

    /// Makes the nodes one swarm as `desired` says: Docker installed where missing, the swarm
    /// initialised on the first manager (or the existing one kept), the others joined, roles
    /// promoted or demoted, nodes labelled with their roles, the overlay network made. Each
    /// host's work goes on when another host fails; the failures are reported together at the end.
    public func converge(_ desired: DesiredSwarm) async throws -> ObservedSwarm {
        guard let first = desired.managers.first else {
            throw RemoteError(host: "swarm", message: "no manager node")
        }
        var failures: [RemoteError] = []
        // Facts, and Docker where it is missing.
        var facts: [String: NodeFacts] = [:]
        let installed = await boundedMap(desired.members, limit: fanOut) { node -> (String, Result<NodeFacts, RemoteError>) in
            do { return (node.address, .success(try await readyDocker(on: node))) } catch {
                return (node.address, .failure(Self.remoteError(error, node: node)))
            }
        }
        for (address, result) in installed {
            switch result {
            case .success(let nodeFacts): facts[address] = nodeFacts
            case .failure(let error): failures.append(error)
            }
        }
        // Only managers report the cluster id: the swarm is the one the active managers are in.
        let managerClusters = Set(facts.values.compactMap { $0.swarm?.isActive == true && $0.swarm?.isManager == true ? $0.swarm?.clusterID : nil })
        guard managerClusters.count <= 1 else {
            let list = facts.filter { $0.value.swarm?.isManager == true }.map { "\($0.key) in \($0.value.swarm?.clusterID?.prefix(12) ?? "?")" }.sorted()
            throw Self.combined(failures + [RemoteError(host: "swarm", message: "the managers are in different swarms (\(list.joined(separator: ", "))); kryoform does not break up a swarm",
                                                        fix: "run docker swarm leave --force on the nodes that should not be in their swarm, then apply again")])
        }
        // The node that leads: an existing manager of the swarm, or the first reachable desired
        // manager, initialised.
        var leader: NodeEndpoint
        let preferred = desired.managers + desired.workers
        if let existing = preferred.first(where: { facts[$0.address]?.swarm?.isManager == true && facts[$0.address]?.swarm?.isActive == true }) {
            leader = existing
        } else if let candidate = desired.managers.first(where: { facts[$0.address]?.swarm?.isActive == false }) {
            try await shell.run("docker swarm init --advertise-addr \(shellQuote(candidate.advertiseAddress))", on: candidate, mutating: true,
                                what: "docker swarm init")
            leader = candidate
        } else {
            throw Self.combined(failures + [RemoteError(host: "swarm", message: "no reachable manager to lead the swarm (the first is \(first.address))",
                                                        fix: "make a manager reachable, or run docker swarm leave --force on the members")])
        }
        var leaderFacts = try await self.facts(of: leader)
        facts[leader.address] = leaderFacts
        let leaderAddress = "\(leader.advertiseAddress):2377"
        // Membership by node id: a node is in when the leader lists its id. An active node the
        // leader does not list is in another swarm, and is left alone.
        let listed = Set((leaderFacts.cluster?.nodes ?? []).map(\.id))
        var missing: [NodeEndpoint] = []
        for node in desired.members {
            guard let swarm = facts[node.address]?.swarm else { continue }
            if swarm.isActive {
                if !listed.contains(swarm.nodeID) {
                    failures.append(RemoteError(host: node.target.name, message: "is in another swarm (node \(swarm.nodeID.prefix(12))); kryoform does not take a node out of a swarm it did not make",
                                                fix: "run docker swarm leave --force on it if it should join this one"))
                }
            } else {
                missing.append(node)
            }
        }
        if !missing.isEmpty {
            let managerToken = try await shell.run("docker swarm join-token -q manager", on: leader, mutating: false).trimmingCharacters(in: .whitespacesAndNewlines)
            let workerToken = try await shell.run("docker swarm join-token -q worker", on: leader, mutating: false).trimmingCharacters(in: .whitespacesAndNewlines)
            let managers = Set(desired.managers.map(\.address))
            let known = facts
            // Managers one at a time (Raft takes members in turn), then workers together.
            for node in missing where managers.contains(node.address) {
                do { try await join(node, token: managerToken, leader: leaderAddress, facts: facts[node.address]) } catch {
                    failures.append(Self.remoteError(error, node: node))
                }
            }
            let joined = await boundedMap(missing.filter { !managers.contains($0.address) }, limit: fanOut) { node -> RemoteError? in
                do { try await join(node, token: workerToken, leader: leaderAddress, facts: known[node.address]); return nil } catch {
                    return Self.remoteError(error, node: node)
                }
            }
            failures += joined.compactMap { $0 }
            // The joined nodes' new ids, read together.
            let joinedNodes = missing.filter { node in !failures.contains { $0.host == node.target.name } }
            for case let (address, .success(nodeFacts)) in await self.facts(of: joinedNodes) { facts[address] = nodeFacts }
            leaderFacts = try await self.facts(of: leader)
            facts[leader.address] = leaderFacts
        }
        // Roles and labels, from the leader's view of the swarm.
        let nodesByID = Dictionary((leaderFacts.cluster?.nodes ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let managerAddresses = Set(desired.managers.map(\.address))
        for node in desired.members {
            guard let nodeID = facts[node.address]?.swarm?.nodeID, let swarmNode = nodesByID[nodeID] else { continue }
            do {
                let wantsManager = managerAddresses.contains(node.address)
                if wantsManager && swarmNode.role != "manager" {
                    try await shell.run(Self.nodeChange("docker node promote \(nodeID)"), on: leader, mutating: true, what: "docker node promote \(node.address)")
                } else if !wantsManager && swarmNode.role == "manager" && node.address != leader.address {
                    try await shell.run(Self.nodeChange("docker node demote \(nodeID)"), on: leader, mutating: true, what: "docker node demote \(node.address)")
                }
                if let command = Self.labelling(node, as: swarmNode, facts: facts[node.address]) {
                    try await shell.run(command, on: leader, mutating: true, what: "labelling \(node.address)")
                }
            } catch {
                failures.append(Self.remoteError(error, node: node))
            }
        }
        // Nodes kryoform labelled once that the environment no longer has, drained first where
        // they still run, and old entries of a node that left and joined again (down, under the
        // same address label).
        let wantedAddresses = Set(desired.members.map(\.address))
        let currentIDs = Set(desired.members.compactMap { facts[$0.address]?.swarm?.nodeID })
        for swarmNode in leaderFacts.cluster?.nodes ?? [] {
            guard let address = swarmNode.labels[NodeLabel.address] else { continue }
            let stale = !wantedAddresses.contains(address) || (!currentIDs.contains(swarmNode.id) && swarmNode.state == "down")
            guard stale, swarmNode.id != facts[leader.address]?.swarm?.nodeID else { continue }
            do {
                if swarmNode.state != "down", let cluster = leaderFacts.cluster {
                    try await retire(swarmNode, endpoint: nil, manager: leader, cluster: cluster, waitLimit: drainWait)
                    continue
                }
                if swarmNode.role == "manager" { try await shell.run(Self.nodeChange("docker node demote \(swarmNode.id)"), on: leader, mutating: true, what: "docker node demote \(address)") }
                try await shell.run("docker node rm --force \(swarmNode.id)", on: leader, mutating: true, what: "removing \(address) from the swarm")
            } catch {
                failures.append(Self.remoteError(error, node: leader))
            }
        }
        try await ensureNetwork(on: leader)
        let final = try await self.facts(of: leader)
        facts[leader.address] = final
        guard let observed = Self.observe(facts) else {
            throw Self.combined(failures + [RemoteError(host: leader.target.name, message: "the swarm is not visible after joining")])
        }
        // The swarm runs, short of what failed: its stacks may go on where the roles they need are there.
        guard failures.isEmpty else { throw SwarmShortOfNodes(failure: Self.combined(failures), swarm: observed) }
        return observed
    }

    /// The swarm role (`manager`, `worker`) of the node labelled `address`, as a reachable
    /// manager among `nodes` sees it; nil when no swarm is reachable or the node is not in it.
    public func swarmRole(of address: String, among nodes: [NodeEndpoint]) async -> String? {
        guard let (_, leaderFacts) = try? await manager(among: nodes.filter { $0.address != address } + nodes.filter { $0.address == address }) else { return nil }
        return leaderFacts.cluster?.nodes.first { $0.labels[NodeLabel.address] == address && $0.state != "down" }?.role
    }

    /// Joins `node` to the swarm the other nodes are in (a manager or a worker) and labels it
    /// with its roles, as soon as it is ready: a node replacing another takes its place before
    /// the next one is replaced, so a swarm never runs short of managers or of a role's nodes.
    /// Entries its predecessor left (down, under the same address label) are removed. Does
    /// nothing when no other node is in a swarm: the `swarm` resource makes it.
    public func enroll(_ node: NodeEndpoint, asManager: Bool, among nodes: [NodeEndpoint]) async throws {
        let others = nodes.filter { $0.address != node.address }
        guard let (leader, leaderFacts) = try? await manager(among: others) else { return }
        let nodeFacts = try await readyDocker(on: node)
        let listed = leaderFacts.cluster?.nodes ?? []
        if !(nodeFacts.swarm?.isActive == true && listed.contains { $0.id == nodeFacts.swarm?.nodeID }) {
            let token = try await shell.run("docker swarm join-token -q \(asManager ? "manager" : "worker")", on: leader, mutating: false)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try await join(node, token: token, leader: "\(leader.advertiseAddress):2377", facts: nodeFacts)
        }
        guard let nodeID = try await facts(of: node).swarm?.nodeID, !nodeID.isEmpty else {
            throw RemoteError(host: node.target.name, message: "joined the swarm but reports no node id")
        }
        let labels = Self.labels(of: node, facts: nodeFacts)
        let arguments = labels.sorted { $0.key < $1.key }.map { "--label-add \(shellQuote("\($0.key)=\($0.value)"))" }
        try await shell.run(Self.nodeChange("docker node update \(arguments.joined(separator: " ")) \(nodeID)"), on: leader, mutating: true, what: "labelling \(node.address)")
        for stale in listed where stale.labels[NodeLabel.address] == node.address && stale.id != nodeID && stale.state == "down" {
            if stale.role == "manager" { try await shell.run(Self.nodeChange("docker node demote \(stale.id)"), on: leader, mutating: true, what: "docker node demote (the replaced \(node.address))") }
            try await shell.run("docker node rm --force \(stale.id)", on: leader, mutating: true, what: "removing the replaced \(node.address) from the swarm")
        }
        // Its place is taken once the services run all their tasks again (a global one on it too),
        // before the next node is retired.
        let script = DrainProgress.script(nodeID: nodeID, project: project, environment: environment)
        try await waitUntilNoneShort(read: {
            DrainProgress.parse(try await shell.run(script, on: leader, mutating: false, what: "reading the services (\(node.address) joined)")).short
        }, failure: { short in
            RemoteError(host: node.target.name, message: "joined the swarm, but after \(drainWait) these services still run fewer tasks than they want: \(short.prefix(6).joined(separator: ", "))",
                        fix: "see docker service ps on a manager; apply again once they run")
        })
    }

    /// Reads the services short of their wanted tasks every second until none is, and throws
    /// `failure` of the last read when `drainWait` passes first.
    func waitUntilNoneShort(read: () async throws -> [String], failure: ([String]) -> RemoteError) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + drainWait
        while true {
            let short = try await read()
            if short.isEmpty { return }
            if clock.now >= deadline { throw failure(short) }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The labels `node` carries: its roles, its address, and each of its cluster volumes that
    /// `facts` say is mounted.
    static func labels(of node: NodeEndpoint, facts: NodeFacts?) -> [String: String] {
        var labels = NodeLabel.labels(roles: node.roles)
        labels[NodeLabel.address] = node.address
        for volume in node.volumes where facts?.mounts.contains(volume) == true { labels[NodeLabel.volume(volume)] = "true" }
        return labels
    }

    /// Labels `node` with what it carries now (`labels(of:facts:)`), on a manager among
    /// `nodes`: after one of its volumes is mounted or unmounted. A node not in a swarm yet is
    /// left to `converge`, which labels it when it joins.
    public func relabel(_ node: NodeEndpoint, among nodes: [NodeEndpoint]) async throws {
        let nodeFacts = try await facts(of: node)
        guard let nodeID = nodeFacts.swarm?.nodeID, !nodeID.isEmpty, nodeFacts.swarm?.isActive == true else { return }
        try await onAManager(among: nodes, preferringOthersThan: node) { leader, leaderFacts in
            guard let swarmNode = leaderFacts.cluster?.nodes.first(where: { $0.id == nodeID }),
                  let command = Self.labelling(node, as: swarmNode, facts: nodeFacts) else { return }
            try await shell.run(command, on: leader, mutating: true, what: "labelling \(node.address)")
        }
    }

    /// Runs `body` on a manager among `nodes` (others than `node` first), found again and run
    /// again up to five times, 2 s apart, when it fails: while nodes are replaced one at a
    /// time, the manager found may be demoted or leave before `body` is done. Nothing is run
    /// where no node manages.
    func onAManager(among nodes: [NodeEndpoint], preferringOthersThan node: NodeEndpoint,
                    _ body: (NodeEndpoint, NodeFacts) async throws -> Void) async throws {
        var attempt = 0
        while true {
            guard let (leader, leaderFacts) = try? await manager(among: nodes.filter { $0.address != node.address } + [node]) else { return }
            do { return try await body(leader, leaderFacts) } catch {
                attempt += 1
                guard attempt < 5 else { throw error }
                try await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// The `docker node update` that gives `swarmNode` the labels `node` should carry and takes
    /// off kryoform's labels it should not; nil when they are right already.
    static func labelling(_ node: NodeEndpoint, as swarmNode: SwarmNode, facts: NodeFacts?) -> String? {
        let wanted = labels(of: node, facts: facts)
        let stale = swarmNode.labels.keys.filter { $0.hasPrefix("kryoform.") && wanted[$0] == nil }.sorted()
        let changed = wanted.filter { swarmNode.labels[$0.key] != $0.value }.sorted { $0.key < $1.key }
        guard !stale.isEmpty || !changed.isEmpty else { return nil }
        let arguments = changed.map { "--label-add \(shellQuote("\($0.key)=\($0.value)"))" } + stale.map { "--label-rm \(shellQuote($0))" }
        return nodeChange("docker node update \(arguments.joined(separator: " ")) \(shellQuote(swarmNode.id))")
    }

    /// Facts of `node` with Docker running, installing it first where it is missing, and its
    /// GPUs advertised where it has any.
    func readyDocker(on node: NodeEndpoint) async throws -> NodeFacts {
        var nodeFacts = try await facts(of: node)
        if case .missing = nodeFacts.docker {
            try await DockerInstall.install(on: node, facts: nodeFacts, shell: shell)
            nodeFacts = try await facts(of: node)
        }
        switch nodeFacts.docker {
        case .running:
            try await configureGPUs(on: node, facts: nodeFacts)
            return nodeFacts
        case .missing:
            throw RemoteError(host: node.target.name, message: "Docker is still missing after installing it")
        case .unreachable(let said):
            throw RemoteError(host: node.target.name, message: "the Docker engine does not answer \(node.target.user): \(NodeShell.excerpt(said))",
                              fix: nodeFacts.isRoot ? "start the engine (systemctl start docker)"
                                  : "add \(node.target.user) to the docker group (usermod -aG docker \(node.target.user)) or connect as root")
        }
    }

    private func join(_ node: NodeEndpoint, token: String, leader: String, facts: NodeFacts?) async throws {
        if let swarm = facts?.swarm, swarm.state != "inactive" {
            // Half-joined (pending, error) or in another swarm that is gone: start over.
            try await shell.run("docker swarm leave --force", on: node, mutating: true)
        }
        // The token goes over stdin, so it is in no SSH request, log or shell history; docker's
        // own argument list still holds it while the join runs (the CLI takes it no other way).
        try await shell.run("docker swarm join --token \"$(cat)\" --advertise-addr \(shellQuote(node.advertiseAddress)) \(shellQuote(leader))",
                            on: node, stdin: Data(token.utf8), mutating: true, what: "docker swarm join")
    }

    /// Makes the environment's overlay network when it is missing, encrypted: Swarm then
    /// carries the traffic between nodes in IPsec (ESP), since it crosses provider networks that
    /// kryoform does not own. Two deploys may race to make it: the loser finds it made.
    public func ensureNetwork(on manager: NodeEndpoint) async throws {
        let quoted = shellQuote(network)
        let found = try await shell.output("docker network inspect --format '{{.Name}}' \(quoted)", on: manager, mutating: false)
        guard found.exitStatus != 0 else { return }
        try await shell.run("docker network create --driver overlay --attachable --opt encrypted \(quoted) >/dev/null 2>&1 || docker network inspect \(quoted) >/dev/null",
                            on: manager, mutating: true, what: "creating the overlay network \(network)")
    }

    /// Takes the nodes out of the swarm: workers first, then managers.
    public func leave(_ nodes: [NodeEndpoint], managers: Set<String>) async throws {
        var failures: [RemoteError] = []
        for group in [nodes.filter { !managers.contains($0.address) }, nodes.filter { managers.contains($0.address) }] {
            let results = await boundedMap(group, limit: fanOut) { node -> RemoteError? in
                do {
                    let nodeFacts = try await facts(of: node)
                    guard let swarm = nodeFacts.swarm, swarm.state != "inactive" else { return nil }
                    // An engine whose manager is slow to answer (several leaving at once) gives up
                    // with "context deadline exceeded", sometimes after it left: read it again, and
                    // try once more where it is still in.
                    for attempt in 1...3 {
                        do {
                            try await shell.run("docker swarm leave --force", on: node, mutating: true)
                            return nil
                        } catch let error as RemoteError where error.message.contains("context deadline exceeded") && attempt < 3 {
                            if try await facts(of: node).swarm?.state == "inactive" { return nil }
                        }
                    }
                    return nil
                } catch { return Self.remoteError(error, node: node) }
            }
            failures += results.compactMap { $0 }
        }
        guard failures.isEmpty else { throw Self.combined(failures) }
    }

    /// `command` (a `docker node update`, `promote` or `demote`) run again, up to five times a
    /// second apart, while the manager answers "update out of sequence": Swarm changes a node's
    /// spec by version, and one changed meanwhile (by a demotion settling, a status update) makes
    /// the next change lose the race. Any other failure is reported at once.
    static func nodeChange(_ command: String) -> String {
        """
        kf_try=1
        while :; do
          kf_out=$(\(command) 2>&1) && { printf '%s\\n' "$kf_out"; exit 0; }
          case "$kf_out" in *"update out of sequence"*) [ "$kf_try" -lt 5 ] && { kf_try=$((kf_try + 1)); sleep 1; continue; } ;; esac
          printf '%s\\n' "$kf_out" >&2; exit 1
        done
        """
    }

    static func remoteError(_ error: Error, node: NodeEndpoint) -> RemoteError {
        error as? RemoteError ?? RemoteError(host: node.target.name, message: String(describing: error))
    }

    /// The stack `role`'s nodes in the swarm `cluster` lists: a stack placed on that role has
    /// nowhere to run without one (a node that never answered did not join).
    static func hasNode(ofRole role: String, in cluster: ClusterFacts?) -> Bool {
        (cluster?.nodes ?? []).contains { $0.labels[NodeLabel.role(role)] == "true" && $0.state != "down" }
    }

    static func combined(_ failures: [RemoteError]) -> RemoteError {
        guard failures.count > 1 else { return failures.first ?? RemoteError(host: "swarm", message: "failed") }
        return RemoteError(host: "", message: failures.map(\.description).joined(separator: "; "))
    }
}

/// A swarm converged but for some nodes (they never answered, or would not join): the swarm as
/// it is, and what failed.
public struct SwarmShortOfNodes: Error {
    public let failure: RemoteError
    public let swarm: ObservedSwarm
}
