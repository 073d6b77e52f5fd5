import Foundation
import Remote
import Synchronization
import Testing
import TestSupport

/// `SwarmConfigurator.retire`, which the cloud wiring calls before a node is deleted, on real
/// hosts: three test hosts (two managers, one worker) with a service of the environment on
/// each. Prefix `kfr`, so it runs beside the static-host suites.
@Suite("Retiring a node: demoted, drained, left and removed, on real hosts", .serialized)
struct SwarmRetireEndToEndTests {
    /// The commands run, as `host: what`.
    final class CommandLog: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ record: CommandRecord) { lines.withLock { $0.append("\(record.host): \(record.command)") } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func testRetire_managerIsDemotedDrainedAndLeaves_lastManagerIsRefused() async throws {
        let hosts = try TestHosts.up(count: 3, docker: true, prefix: "kfr", subnet: "10.231.31")
        defer { hosts.down() }
        let nodes = hosts.hosts.map { host in
            NodeEndpoint(address: "node.\(host.name)", target: SSHTarget(name: host.name, host: host.address, port: host.port, user: host.user),
                         roles: ["application"])
        }
        let log = CommandLog()
        let settings = SSHSettings(identity: SSHIdentity(privateKeyPath: hosts.key),
                                   knownHosts: KnownHosts(path: hosts.directory.appendingPathComponent("known_hosts").path), policy: .strict)
        let connections = NodeConnections(settings: settings, log: log.add)
        let operations = SwarmOperations(shell: NodeShell(connections: connections), project: "lab", environment: "lab")
        var configurator = SwarmConfigurator(operations: operations, locate: { nodes }, stacks: [], domain: nil, secretValue: { _ in Data() })
        configurator.deployWait = .seconds(90)

        // Two managers and a worker; a service of the environment with a task on each node
        // (`docker service create` returns once its tasks run).
        _ = try await operations.converge(DesiredSwarm(managers: [nodes[0], nodes[1]], workers: [nodes[2]]))
        _ = try hosts.docker(0, ["service", "create", "--quiet", "--name", "web_web", "--replicas", "3", "--label", "kryoform.project=lab",
                                 "--label", "kryoform.environment=lab", "kryoform/busybox:1", "httpd", "-f", "-p", "8080"])
        let leavingID = try hosts.docker(1, ["info", "--format", "{{.Swarm.NodeID}}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let since = String(Int(Date().timeIntervalSince1970) - 1)

        try await configurator.retire(nodes[1].address, among: nodes)
        let until = String(Int(Date().timeIntervalSince1970) + 1)

        // kryoform's commands, in order; Docker's record on the remaining manager: the node became
        // a worker and was drained before it was removed (the role change is recorded when the
        // node takes it, which may come a moment after the drain was asked for).
        let order = ["demoting node.\(hosts.hosts[1].name) before it leaves", "draining node.\(hosts.hosts[1].name)",
                     "\(hosts.hosts[1].name): docker swarm leave (drained)", "removing node.\(hosts.hosts[1].name) from the swarm"]
        let positions = order.map { step in log.all.firstIndex { $0.contains(step) } }
        #expect(positions.allSatisfy { $0 != nil } && positions.compactMap { $0 } == positions.compactMap { $0 }.sorted(), "\(log.all)")
        let events = try hosts.docker(0, ["events", "--since", since, "--until", until, "--filter", "type=node", "--filter", "node=\(leavingID)",
                                          "--format", "{{.TimeNano}} {{.Action}} {{index .Actor.Attributes \"role.new\"}}/{{index .Actor.Attributes \"availability.new\"}}"])
        let times = events.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        func time(_ action: String, _ attributes: String) -> Int? {
            times.first { $0.count >= 2 && $0[1] == action && ($0.count > 2 ? $0[2] : "") == attributes }.flatMap { Int($0[0]) }
        }
        let demoted = time("update", "worker/"), drained = time("update", "/drain"), removed = time("remove", "/")
        #expect(demoted != nil && drained != nil && removed != nil, "\(events)")
        if let demoted, let drained, let removed { #expect(demoted < removed && drained < removed, "\(events)") }
        #expect(try hosts.docker(1, ["info", "--format", "{{.Swarm.LocalNodeState}}"]).trimmingCharacters(in: .whitespacesAndNewlines) == "inactive")
        // The service kept its three tasks, on the two nodes left.
        let members = try hosts.docker(0, ["node", "ls", "--format", "{{.Hostname}}"]).split(separator: "\n").map(String.init)
        #expect(Set(members) == [hosts.hosts[0].name, hosts.hosts[2].name])
        #expect(try hosts.docker(0, ["service", "ls", "--format", "{{.Replicas}}"]).trimmingCharacters(in: .whitespacesAndNewlines) == "3/3")

        // A node the swarm no longer lists is already out: nothing to do.
        let before = log.all.count
        try await configurator.retire(nodes[1].address, among: nodes)
        #expect(!log.all.dropFirst(before).contains { $0.contains("drain") || $0.contains("leave") || $0.contains("removing") }, "\(log.all)")

        // The last manager, with a worker staying, is refused, and left as it was.
        let refusal = await #expect(throws: (any Error).self) { try await configurator.retire(nodes[0].address, among: [nodes[0], nodes[2]]) }
        #expect(String(describing: refusal).contains("is the swarm's last manager"), "\(String(describing: refusal))")
        #expect(try hosts.docker(0, ["node", "inspect", "self", "--format", "{{.Spec.Role}} {{.Spec.Availability}}"])
            .trimmingCharacters(in: .whitespacesAndNewlines) == "manager active")
        await connections.closeAll()
    }
}
