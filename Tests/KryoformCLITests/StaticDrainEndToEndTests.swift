import Foundation
import Testing
import TestSupport

/// A host taken out of the environment leaves the swarm only once its tasks run elsewhere:
/// three test hosts (one manager, two application hosts) run the lab's web stack with a
/// replica on each application host; the third host is removed from the environment and
/// applied, and Docker's own record (node events, task states, container events) shows the
/// node drained before it was removed. Prefix `kfd`, so it runs beside the other static suites.
@Suite("Static hosts: a removed host is drained before it leaves the swarm", .serialized)
struct StaticDrainEndToEndTests {
    static let roles = ["management", "application", "application"]

    @Test func testRemovedHost_isDrainedThenLeavesWithTheServiceAtFullReplicas() async throws {
        let hosts = try TestHosts.up(count: 3, docker: true, prefix: "kfd", subnet: "10.231.30")
        defer { hosts.down() }
        let lab = try LabProject.make(hosts: hosts, roles: Self.roles)
        let root = lab.root
        defer { try? FileManager.default.removeItem(at: root) }
        // The web stack alone: two replicas on the application role.
        try lab.edit("environments/lab.yaml") { $0 = $0.replacingOccurrences(of: "stacks: all", with: "stacks: [web]") }
        try lab.edit("stacks/web.yaml") { $0 = $0.replacingOccurrences(of: "depends_on: [api]", with: "depends_on: []") }

        let applied = await lab.run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        try #require(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        // Nodes without GPUs: their engine configuration is the user's, not even read.
        #expect(applied.stderr.contains("ssh \(hosts.hosts[1].name): "), "commands are logged at debug")
        #expect(!applied.stderr.contains("daemon.json"), "a node with no GPU ran an engine configuration command: \(applied.stderr)")
        let management = hosts.hosts[0].name, staying = hosts.hosts[1].name, leaving = hosts.hosts[2].name
        try #require(try lab.nodes(of: "web_web") == [staying, leaving], "one replica on each application host")
        let leavingID = try hosts.docker(0, ["node", "inspect", leaving, "--format", "{{.ID}}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let since = String(Int(Date().timeIntervalSince1970) - 1)

        // The third host leaves the environment.
        var smaller = lab
        smaller.hosts.hosts.removeLast()
        try smaller.writeHosts(roles: Self.roles)
        let removal = await lab.run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        try #require(removal.status == 0, "\(removal.stdout)\n\(removal.stderr)")
        let until = String(Int(Date().timeIntervalSince1970) + 1)

        // kryoform drained it, then removed it.
        let log = removal.stderr
        let drained = log.range(of: "draining node.\(leaving)"), removed = log.range(of: "removing node.\(leaving) from the swarm")
        #expect(drained != nil && removed != nil, "\(log)")
        if let drained, let removed { #expect(drained.lowerBound < removed.lowerBound) }

        // Docker's record: the node's availability went to drain, and only later was it removed.
        let events = try hosts.docker(0, ["events", "--since", since, "--until", until, "--filter", "type=node", "--filter", "node=\(leavingID)",
                                          "--format", "{{.TimeNano}} {{.Action}} {{index .Actor.Attributes \"availability.new\"}}"])
        let nodeEvents = events.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let drainedAt = nodeEvents.first { $0.count == 3 && $0[1] == "update" && $0[2] == "drain" }.flatMap { Int($0[0]) }
        let removedAt = try #require(nodeEvents.first { $0.count >= 2 && $0[1] == "remove" }.flatMap { Int($0[0]) }, "\(events)")
        #expect(drainedAt.map { $0 < removedAt } == true, "the node was drained before it was removed: \(events)")
        // Its task was shut down by the drain (a node removed under its tasks orphans them), and
        // its container stopped before the node was removed.
        let tasks = try hosts.docker(0, ["service", "ps", "web_web", "--format", "{{.Node}} {{.DesiredState}} {{.CurrentState}}"])
        let leftBehind = tasks.split(separator: "\n").filter { $0.hasPrefix(leavingID + " ") || $0.hasPrefix(leaving + " ") }
        #expect(!leftBehind.isEmpty && leftBehind.allSatisfy { $0.split(separator: " ").dropFirst().prefix(2) == ["Shutdown", "Shutdown"] },
                "the removed node's tasks: \(tasks)")
        let stops = try hosts.docker(2, ["events", "--since", since, "--until", until, "--filter", "type=container", "--filter", "event=die",
                                         "--format", "{{.TimeNano}}"]).split(separator: "\n").compactMap { Int($0) }
        #expect(!stops.isEmpty && stops.allSatisfy { $0 < removedAt }, "container stops \(stops), removal \(removedAt)")

        // The service runs its two replicas on the remaining application host; the node is out.
        let services = try lab.services()
        let history = try hosts.docker(0, ["service", "ps", "web_web", "--format", "{{.Node}} {{.DesiredState}} {{.CurrentState}}"])
        #expect(services["web_web"] == "2/2 kryoform/busybox:1", "\(services); \(history)")
        #expect(try lab.nodes(of: "web_web") == [staying])
        let members = try hosts.docker(0, ["node", "ls", "--format", "{{.Hostname}}"]).split(separator: "\n").map(String.init)
        #expect(Set(members) == [management, staying], "\(members)")
        let settled = await lab.run(["plan", "-e", "lab", "--detailed-exitcode"])
        #expect(settled.status == 0, "\(settled.stdout)\n\(settled.stderr)")
    }
}
