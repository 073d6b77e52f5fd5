import Foundation
import Testing
import TestSupport

/// `examples/lab` copied, with its hosts pointed at test hosts this suite made.
struct LabProject {
    var root: URL
    var hosts: TestHosts
    var variables: [String: String]

    /// The role of each test host, in turn.
    static let roles = ["management", "application", "data"]

    static func make(hosts: TestHosts, extraHosts: [String] = [], roles: [String] = LabProject.roles) throws -> LabProject {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-lab-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: CommandRun.packageRoot.appendingPathComponent("examples/lab"), to: root)
        let project = LabProject(root: root, hosts: hosts, variables: ["KRYOFORM_LAB_KEY": hosts.key, "LAB_API_TOKEN": "token-\(UUID().uuidString)"])
        try project.writeHosts(extra: extraHosts, roles: roles)
        return project
    }

    /// Rewrites `provider.hosts` of environments/lab.yaml: the test hosts (with `roles` in
    /// turn: management, application, data), then `extra` entries as written.
    func writeHosts(extra: [String] = [], roles: [String] = LabProject.roles) throws {
        var lines = hosts.hosts.enumerated().map { index, host in
            "    - { name: \(host.name), address: \(host.address), port: \(host.port), user: \(host.user), roles: [\(roles[index % roles.count])] }"
        }
        lines += extra.map { "    - \($0)" }
        let url = root.appendingPathComponent("environments/lab.yaml")
        var text = try String(contentsOf: url, encoding: .utf8)
        let start = try #require(text.range(of: "  hosts:\n"))
        let end = try #require(text.range(of: "domain:"))
        text.replaceSubrange(start.upperBound..<end.lowerBound, with: lines.joined(separator: "\n") + "\n")
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func edit(_ path: String, _ change: (inout String) -> Void) throws {
        let url = root.appendingPathComponent(path)
        var text = try String(contentsOf: url, encoding: .utf8)
        change(&text)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func run(_ arguments: [String]) async -> CommandRun {
        let root = self.root, variables = self.variables
        return await Task.detached {
            (try? CommandRun.run(arguments + ["-C", root.path, "--no-color"], environment: variables))
                ?? CommandRun(status: -1, stdout: "", stderr: "could not start kryoform")
        }.value
    }

    /// `service → "running/wanted image"` on the swarm, read through host 0's engine.
    func services() throws -> [String: String] {
        let lines = try hosts.docker(0, ["service", "ls", "--format", "{{.Name}} {{.Replicas}} {{.Image}}"])
        return Dictionary(uniqueKeysWithValues: lines.split(separator: "\n").map { line in
            let fields = line.split(separator: " ", maxSplits: 1).map(String.init)
            return (fields[0], fields.count > 1 ? fields[1] : "")
        })
    }

    /// When each service was last changed.
    func updatedAt() throws -> [String: String] {
        let names = try services().keys.sorted()
        guard !names.isEmpty else { return [:] }
        let lines = try hosts.docker(0, ["service", "inspect", "--format", "{{.Spec.Name}} {{.UpdatedAt}}"] + names)
        return Dictionary(uniqueKeysWithValues: lines.split(separator: "\n").map { line in
            let fields = line.split(separator: " ", maxSplits: 1).map(String.init)
            return (fields[0], fields.count > 1 ? fields[1] : "")
        })
    }

    /// The nodes a service's running tasks are on.
    func nodes(of service: String) throws -> Set<String> {
        let lines = try hosts.docker(0, ["service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}}"])
        return Set(lines.split(separator: "\n").map(String.init))
    }
}

/// kryoform configuring real hosts: three network namespaces, each with its own sshd and Docker
/// engine, made into one Swarm running the lab's stacks; then no-change, a version change, a
/// removed stack, a changed host key, unreachable and broken hosts, and destroy.
@Suite("Static hosts: a real Swarm over SSH", .serialized)
struct StaticSwarmEndToEndTests {
    @Test func configureRedeployRemoveAndDestroyOnThreeHosts() async throws {
        let hosts = try TestHosts.up(count: 3, docker: true, prefix: "kfs", subnet: "10.231.10")
        defer { hosts.down() }
        // A plain host whose user cannot reach any Docker engine: its commands fail with stderr.
        let plain = try TestHosts.up(count: 1, docker: false, prefix: "kfp", subnet: "10.231.11")
        defer { plain.down() }
        // The project's key is the first harness's; the plain host lets it in too.
        let authorized = plain.directory.appendingPathComponent("home/\(plain.hosts[0].user)/.ssh/authorized_keys")
        let ourKey = try String(contentsOfFile: hosts.key + ".pub", encoding: .utf8)
        let handle = try FileHandle(forWritingTo: authorized)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(ourKey.utf8))
        try handle.close()
        let silent = try LoopbackNetwork.silentListener()
        defer { close(silent.descriptor) }
        var lab = try LabProject.make(hosts: hosts, extraHosts: [
            "{ name: ghost, address: \(hosts.hosts[0].address), port: 2222, roles: [application] }",
            "{ name: hung, address: 127.0.0.1, port: \(silent.port), user: nobody, roles: [application] }",
            "{ name: outsider, address: \(hosts.hosts[1].address), user: root, roles: [application] }",
            "{ name: nodocker, address: \(plain.hosts[0].address), user: \(plain.hosts[0].user), roles: [data] }",
        ])
        let root = lab.root
        defer { try? FileManager.default.removeItem(at: root) }

        // 1. Broken hosts: the plan leaves the unreachable ones out with a note; apply configures
        //    the good hosts and names each broken one with its reason.
        let brokenPlan = await lab.run(["plan", "-e", "lab"])
        #expect(brokenPlan.status == 0, "\(brokenPlan.stderr)")
        for host in ["ghost", "hung", "outsider"] {
            #expect(brokenPlan.stdout.contains("note: \(host): ") && brokenPlan.stdout.contains("this plan leaves that host out"), "\(brokenPlan.stdout)")
        }
        let broken = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        #expect(broken.status == 1)
        let said = broken.stdout + broken.stderr
        #expect(said.contains("ghost") && said.lowercased().contains("refused"), "\(said)")
        #expect(said.contains("hung") && said.contains("sent no SSH greeting within 5s"), "\(said)")
        #expect(said.contains("outsider") && said.contains("root@"), "\(said)")
        #expect(said.contains("nodocker: the Docker engine does not answer"), "\(said)")
        let nodes = try hosts.docker(0, ["node", "ls", "--format", "{{.Hostname}}"]).split(separator: "\n")
        #expect(nodes.count == 3, "the good hosts' work completed: \(nodes)")
        // The broken hosts fail the swarm and skip only what depends on them: every role has a
        // good node, so every stack deployed on the swarm as it is.
        #expect(!said.contains("skipped: swarm failed"), "\(said)")
        let partServices = try lab.services()
        #expect(partServices["web_web"] == "2/2 kryoform/busybox:1" && partServices["cache_cache"] == "1/1 kryoform/busybox:1", "\(partServices)")
        #expect(said.contains("✗ swarm"), "the swarm's step still fails, naming the hosts: \(said)")

        // 2. The good hosts alone: the swarm is adopted, the stacks deployed in dependency order.
        try lab.writeHosts()
        let applied = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let services = try lab.services()
        #expect(services["web_web"] == "2/2 kryoform/busybox:1")
        #expect(services["api_api"] == "1/1 kryoform/busybox:1")
        #expect(services["cache_cache"] == "1/1 kryoform/busybox:1")
        #expect(services["agent_agent"] == "1/1 kryoform/busybox:1")
        #expect(services["shell-tools_shell-tools"] == nil, "a library deploys nothing")
        let management = hosts.hosts[0].name, application = hosts.hosts[1].name, data = hosts.hosts[2].name
        #expect(try lab.nodes(of: "web_web") == [application])
        #expect(try lab.nodes(of: "cache_cache") == [data])
        #expect(try lab.nodes(of: "agent_agent") == [management])
        let labels = try hosts.docker(0, ["node", "inspect", data, "--format", "{{json .Spec.Labels}}"])
        #expect(labels.contains(#""kryoform.role":"data""#) && labels.contains(#""kryoform.role.data":"true""#))
        let managers = try hosts.docker(0, ["node", "ls", "--filter", "role=manager", "--format", "{{.Hostname}}"])
        #expect(managers.trimmingCharacters(in: .whitespacesAndNewlines) == management)
        // The overlay between the nodes is encrypted (IPsec), as stacks/cilium.yaml promises.
        // Docker records the option with an empty value ("encrypted": ""); unencrypted, the key is absent.
        let options = try hosts.docker(0, ["network", "inspect", "kf-lab-lab", "--format", "{{json .Options}}"])
        #expect(options.contains("\"encrypted\""), "the overlay network is not encrypted: \(options)")

        // 3. Nothing changed: no-change plan, and apply runs no command that changes anything.
        var before = try lab.updatedAt()
        let same = await lab.run(["plan", "-e", "lab", "--detailed-exitcode"])
        #expect(same.status == 0, "\(same.stdout)")
        let again = await lab.run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("ssh \(management): "), "commands are logged at debug")
        #expect(!again.stderr.contains("(change)"), "a second apply sent a mutating command: \(again.stderr)")
        #expect(try lab.updatedAt() == before)

        // 3b. A node takes another role: the swarm is updated in place (labels only), no node
        //     leaves or joins again, and the agent (global on management) follows the label.
        let nodeIDs = try hosts.docker(0, ["node", "ls", "--format", "{{.ID}}"])
        try lab.edit("environments/lab.yaml") { $0 = $0.replacingOccurrences(of: "roles: [data] }", with: "roles: [data, management] }") }
        let rolePlan = await lab.run(["plan", "-e", "lab", "--json"])
        #expect(try Self.changedAddresses(rolePlan.stdout) == ["swarm"], "\(rolePlan.stdout)")
        let relabel = await lab.run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        #expect(relabel.status == 0, "\(relabel.stderr)")
        #expect(!relabel.stderr.contains("docker swarm join") && !relabel.stderr.contains("docker swarm leave"), "\(relabel.stderr)")
        #expect(try hosts.docker(0, ["node", "ls", "--format", "{{.ID}}"]) == nodeIDs, "the same nodes, none down")
        #expect(try hosts.docker(0, ["node", "inspect", data, "--format", "{{index .Spec.Labels \"kryoform.role\"}}"])
            .trimmingCharacters(in: .whitespacesAndNewlines) == "data,management")
        let settled = await lab.run(["plan", "-e", "lab", "--detailed-exitcode"])
        #expect(settled.status == 0, "\(settled.stdout)")
        try lab.edit("environments/lab.yaml") { $0 = $0.replacingOccurrences(of: "roles: [data, management] }", with: "roles: [data] }") }
        #expect(await lab.run(["apply", "-e", "lab", "--auto-approve"]).status == 0)
        let before3 = try lab.updatedAt()

        // 3c. A rotated secret redeploys the stack that uses it (the plan says a value changed,
        //     never which), and the old Docker secret goes.
        let oldSecrets = try hosts.docker(0, ["secret", "ls", "--format", "{{.Name}}"])
        lab.variables["LAB_API_TOKEN"] = "rotated-\(UUID().uuidString)"
        let rotation = await lab.run(["plan", "-e", "lab", "--json"])
        #expect(try Self.changedAddresses(rotation.stdout) == ["stack.api"], "\(rotation.stdout)")
        #expect(rotation.stdout.contains("a value changed") && !rotation.stdout.contains(lab.variables["LAB_API_TOKEN"] ?? "?"))
        #expect(await lab.run(["apply", "-e", "lab", "--auto-approve"]).status == 0)
        let newSecrets = try hosts.docker(0, ["secret", "ls", "--format", "{{.Name}}"])
        #expect(newSecrets.contains("api_api_token_") && newSecrets != oldSecrets, "\(oldSecrets) → \(newSecrets)")
        #expect(try lab.updatedAt()["web_web"] == before3["web_web"])

        // 4. A new version of one stack redeploys that stack alone.
        try lab.edit("stacks/web.yaml") { $0 = $0.replacingOccurrences(of: "version: \"1\"", with: "version: \"2\"") }
        let versionPlan = await lab.run(["plan", "-e", "lab", "--json"])
        let changed = try Self.changedAddresses(versionPlan.stdout)
        #expect(changed == ["stack.web"], "\(versionPlan.stdout)")
        before = try lab.updatedAt()
        let redeploy = await lab.run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        #expect(redeploy.status == 0, "\(redeploy.stderr)")
        #expect(try lab.services()["web_web"] == "2/2 kryoform/busybox:2")
        let after = try lab.updatedAt()
        #expect(after["web_web"] != before["web_web"])
        for name in ["api_api", "cache_cache", "agent_agent"] { #expect(after[name] == before[name], "\(name) was redeployed") }

        // 5. A stack no longer selected is removed from the swarm, with its secret.
        try lab.edit("environments/lab.yaml") { $0 = $0.replacingOccurrences(of: "stacks: all", with: "stacks: [web, cache, agent]") }
        try lab.edit("stacks/web.yaml") { $0 = $0.replacingOccurrences(of: "depends_on: [api]", with: "depends_on: []") }
        let removal = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        #expect(removal.status == 0, "\(removal.stderr)")
        #expect(try lab.services()["api_api"] == nil)
        let secrets = try hosts.docker(0, ["secret", "ls", "--format", "{{.Name}}"])
        #expect(!secrets.contains("api_api_token_"), "\(secrets)")

        // 6. A changed host key is refused, naming the host and both fingerprints.
        let knownHosts = lab.root.appendingPathComponent(".kryoform/known_hosts")
        let recorded = try String(contentsOf: knownHosts, encoding: .utf8)
        let otherKey = try Self.otherHostKey()
        let forged = recorded.split(separator: "\n").map { line -> String in
            let fields = line.split(separator: " ")
            guard fields.first == Substring(hosts.hosts[2].address), fields.count >= 3 else { return String(line) }
            return "\(fields[0]) \(otherKey)"
        }.joined(separator: "\n") + "\n"
        try forged.write(to: knownHosts, atomically: true, encoding: .utf8)
        let refused = await lab.run(["plan", "-e", "lab"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(data) && refused.stderr.contains("SHA256:"), "\(refused.stderr)")
        #expect(refused.stderr.lowercased().contains("changed"), "\(refused.stderr)")
        try recorded.write(to: knownHosts, atomically: true, encoding: .utf8)

        // 7. destroy removes the stacks and takes every node out of the swarm.
        let destroyed = await lab.run(["destroy", "-e", "lab", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        for index in hosts.hosts.indices {
            #expect(try hosts.docker(index, ["info", "--format", "{{.Swarm.LocalNodeState}}"]).trimmingCharacters(in: .whitespacesAndNewlines) == "inactive")
        }
        let empty = await lab.run(["plan", "-e", "lab", "--json"])
        #expect(try Self.changedAddresses(empty.stdout).contains("swarm"))
    }

    static func changedAddresses(_ json: String) throws -> Set<String> {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let changes = try #require(object["changes"] as? [[String: Any]])
        return Set(changes.filter { ($0["action"] as? String) != "no-op" }.compactMap { $0["address"] as? String })
    }

    /// `ssh-ed25519 AAAA…` of a key no test host has.
    static func otherHostKey() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key").path
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
        let line = try String(contentsOfFile: key + ".pub", encoding: .utf8)
        return line.split(separator: " ").prefix(2).joined(separator: " ")
    }
}
