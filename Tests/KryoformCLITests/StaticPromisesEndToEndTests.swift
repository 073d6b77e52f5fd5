import Foundation
import Testing
import TestSupport

/// The promises of node configuration, checked where they could be broken: real secret values
/// deployed to a real Swarm and searched for everywhere kryoform writes; a second apply that
/// must leave the state file and every Docker object as they were; a changed host key that must
/// stop an apply before anything runs on any host. Three test hosts per test (prefix `kfq`, so
/// this suite can run beside `StaticSwarmEndToEndTests`).
@Suite("Static hosts: secrets, a second apply and host keys, proved on a real Swarm", .serialized)
struct StaticPromisesEndToEndTests {
    static func upHosts() throws -> TestHosts {
        try TestHosts.up(count: 3, docker: true, prefix: "kfq", subnet: "10.231.20")
    }

    /// The api stack's task, on the application host: what its secret file holds.
    static func secretInContainer(_ lab: LabProject) throws -> String {
        let container = try lab.hosts.docker(1, ["ps", "-q", "--filter", "label=com.docker.swarm.service.name=api_api"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!container.isEmpty && !container.contains("\n"), "one api task on the application host: \(container)")
        return try lab.hosts.docker(1, ["exec", container, "cat", "/run/secrets/api_token"])
    }

    @Test func testSecrets_realValuesNeverInStateFilesOutputOrErrors() async throws {
        let hosts = try Self.upHosts()
        defer { hosts.down() }
        var lab = try LabProject.make(hosts: hosts)
        let root = lab.root
        defer { try? FileManager.default.removeItem(at: root) }
        let first = "Kf.Secret.\(UUID().uuidString)", second = "Kf.Rotated.\(UUID().uuidString)"
        lab.variables["LAB_API_TOKEN"] = first
        var transcript = Transcript()
        func run(_ arguments: [String]) async -> CommandRun {
            transcript.add(arguments.joined(separator: " "), await lab.run(arguments))
        }

        // Plans before anything exists, then the first deploy, which reads and sends the secret.
        for arguments in [["plan", "-e", "lab"], ["plan", "-e", "lab", "--json"], ["plan", "-e", "lab", "--log-level", "debug"]] {
            let plan = await run(arguments)
            #expect(plan.status == 0, "\(plan.stderr)")
        }
        let applied = await run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        try #require(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        // Not vacuous: the value did reach Docker, and the service reads it.
        #expect(try Self.secretInContainer(lab) == first, "the api task reads the value kryoform was given")

        // Everything that reads back afterwards: a no-change apply at trace, plans, drift, the state.
        let again = await run(["apply", "-e", "lab", "--auto-approve", "--log-level", "trace"])
        #expect(again.status == 0, "\(again.stderr)")
        for arguments in [["plan", "-e", "lab", "--json", "--log-level", "debug"], ["plan", "-e", "lab", "--detailed-exitcode"],
                          ["drift", "-e", "lab", "--log-level", "debug"], ["state", "list", "-e", "lab", "--log-level", "debug"]] {
            _ = await run(arguments)
        }
        let addresses = transcript.runs.last?.run.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) } ?? []
        #expect(addresses.contains("stack.api") && addresses.contains("swarm"), "\(addresses)")
        for address in addresses {
            let shown = await run(["state", "show", "-e", "lab", address, "--json", "--log-level", "debug"])
            #expect(shown.status == 0, "\(shown.stderr)")
        }

        // An error path after the secrets were read: a rotated value, and the api stack asks for
        // a port a service made by hand holds, so Docker refuses the deploy after the new secret
        // was made.
        lab.variables["LAB_API_TOKEN"] = second
        let secretsBefore = try hosts.docker(0, ["secret", "ls", "--format", "{{.Name}}"]).split(separator: "\n")
        _ = try hosts.docker(0, ["service", "create", "--detach", "--name", "squatter", "--publish", "19000:80", "kryoform/busybox:1", "httpd", "-f", "-p", "80"])
        try lab.edit("stacks/api.yaml") { $0 = $0.replacingOccurrences(of: "ports: [9000]", with: "ports: [ { target: 9000, published: 19000 } ]") }
        _ = await run(["plan", "-e", "lab", "--json", "--log-level", "debug"])
        let failed = await run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        #expect(failed.status == 1)
        #expect((failed.stdout + failed.stderr).contains("squatter"), "the deploy failed for the port: \(failed.stdout)\n\(failed.stderr)")
        let secretsAfter = try hosts.docker(0, ["secret", "ls", "--format", "{{.Name}}"]).split(separator: "\n")
        #expect(secretsAfter.filter { $0.hasPrefix("api_api_token_") }.count == 2,
                "the rotated value reached Docker before the deploy failed: \(secretsBefore) → \(secretsAfter)")
        _ = await run(["state", "show", "-e", "lab", "stack.api", "--json"])

        // Mended, the rotated value is what the service reads.
        try lab.edit("stacks/api.yaml") { $0 = $0.replacingOccurrences(of: "ports: [ { target: 9000, published: 19000 } ]", with: "ports: [9000]") }
        let mended = await run(["apply", "-e", "lab", "--auto-approve", "--log-level", "debug"])
        try #require(mended.status == 0, "\(mended.stdout)\n\(mended.stderr)")
        #expect(try Self.secretInContainer(lab) == second)

        // Searched: every output and every file under .kryoform, here and on the manager.
        let project = try leaks(of: SecretForms(first), inFilesUnder: root.appendingPathComponent(".kryoform"))
        #expect(project.searched >= 3, "the state, its backup and known_hosts at least")
        let manager = lab.home(0).appendingPathComponent(".kryoform")
        #expect(try fileContents(under: manager).keys.contains { $0.hasSuffix("-api.yml") }, "the api stack's Compose file was uploaded")
        for value in [first, second] {
            let forms = SecretForms(value)
            #expect(transcript.leaks(of: forms).isEmpty, "\(transcript.leaks(of: forms))")
            for folder in [root.appendingPathComponent(".kryoform"), manager] {
                let found = try leaks(of: forms, inFilesUnder: folder).leaks
                #expect(found.isEmpty, "\(found)")
            }
        }
        #expect(transcript.runs.count >= 15)
    }

    @Test func testSecondApply_changesNoStateByteAndNoDockerVersion() async throws {
        let hosts = try Self.upHosts()
        defer { hosts.down() }
        let lab = try LabProject.make(hosts: hosts)
        let root = lab.root
        defer { try? FileManager.default.removeItem(at: root) }
        let applied = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        try #require(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let settled = await lab.run(["plan", "-e", "lab", "--detailed-exitcode"])
        #expect(settled.status == 0, "converged: \(settled.stdout)")

        let kryoform = root.appendingPathComponent(".kryoform")
        let state = kryoform.appendingPathComponent("state/lab.json")
        let stateBefore = try Data(contentsOf: state)
        let filesBefore = try fileContents(under: kryoform)
        let versionsBefore = try lab.swarmVersions()
        for object in ["service web_web", "service api_api", "service cache_cache", "service agent_agent", "network kf-lab-lab", "node kfqh1"] {
            #expect(versionsBefore[object] != nil, "\(object) is observed: \(versionsBefore)")
        }
        #expect(versionsBefore.keys.contains { $0.hasPrefix("secret api_api_token_") }, "\(versionsBefore)")
        let uploads = lab.home(0).appendingPathComponent(".kryoform/stacks")
        let uploadsBefore = try FileManager.default.contentsOfDirectory(atPath: uploads.path).sorted()
            .map { ($0, try FileManager.default.attributesOfItem(atPath: uploads.appendingPathComponent($0).path)[.modificationDate] as? Date) }

        let again = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(try Data(contentsOf: state) == stateBefore, "the state file was rewritten")
        let filesAfter = try fileContents(under: kryoform)
        #expect(filesAfter == filesBefore, "changed under .kryoform: \(Set(filesAfter.keys).union(filesBefore.keys).filter { filesAfter[$0] != filesBefore[$0] }.sorted())")
        let versionsAfter = try lab.swarmVersions()
        #expect(versionsAfter == versionsBefore, "changed in Docker: \(versionsAfter.filter { versionsBefore[$0.key] != $0.value })")
        let uploadsAfter = try FileManager.default.contentsOfDirectory(atPath: uploads.path).sorted()
            .map { ($0, try FileManager.default.attributesOfItem(atPath: uploads.appendingPathComponent($0).path)[.modificationDate] as? Date) }
        #expect(uploadsAfter.map(\.0) == uploadsBefore.map(\.0) && uploadsAfter.map(\.1) == uploadsBefore.map(\.1), "no Compose file uploaded again")

        // The comparison sees a real change: a new version of web moves its service and the state.
        try lab.edit("stacks/web.yaml") { $0 = $0.replacingOccurrences(of: "version: \"1\"", with: "version: \"2\"") }
        let redeployed = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        #expect(redeployed.status == 0, "\(redeployed.stderr)")
        let moved = try lab.swarmVersions()
        #expect(moved["service web_web"] != versionsBefore["service web_web"] && moved["service api_api"] == versionsBefore["service api_api"])
        #expect(try Data(contentsOf: state) != stateBefore)
    }

    @Test func testHostKeyChanged_applyRefusedBeforeAnyCommandOnAnyHost() async throws {
        let hosts = try Self.upHosts()
        defer { hosts.down() }
        let lab = try LabProject.make(hosts: hosts)
        let root = lab.root
        defer { try? FileManager.default.removeItem(at: root) }
        let applied = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        try #require(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")

        // A change waits to be applied (a new version of web, deployed from the manager), both
        // from a fresh plan and from a plan saved now.
        try lab.edit("stacks/web.yaml") { $0 = $0.replacingOccurrences(of: "version: \"1\"", with: "version: \"2\"") }
        let planFile = root.appendingPathComponent("web.plan").path
        let saved = await lab.run(["plan", "-e", "lab", "--out", planFile])
        #expect(saved.status == 0, "\(saved.stderr)")

        let knownHosts = root.appendingPathComponent(".kryoform/known_hosts")
        let recorded = try Data(contentsOf: knownHosts)
        let versions = try lab.swarmVersions()
        let sessions = try hosts.hosts.indices.map(lab.sessionsStarted)
        let data = hosts.hosts[2].name
        let key = try lab.changeHostKey(2)
        #expect(key.old != key.new)

        for arguments in [["apply", "-e", "lab", "--auto-approve"], ["apply", planFile]] {
            let refused = await lab.run(arguments)
            let said = refused.stdout + refused.stderr
            #expect(refused.status == 1, "\(arguments): \(said)")
            #expect(said.contains(data) && said.contains("HOST KEY CHANGED"), "\(arguments): \(said)")
            #expect(said.contains(key.old) && said.contains(key.new), "\(arguments): both fingerprints, \(key.old) and \(key.new): \(said)")
            #expect(try Data(contentsOf: knownHosts) == recorded, "\(arguments): known_hosts was changed")
            for index in hosts.hosts.indices {
                #expect(try lab.sessionsStarted(index) == sessions[index], "\(arguments): a command ran on \(hosts.hosts[index].name)")
            }
            #expect(try lab.swarmVersions() == versions, "\(arguments): the swarm was changed")
        }

        // The same observation sees commands when they run: with the key back, apply goes ahead.
        try key.restore()
        let accepted = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        #expect(accepted.status == 0, "\(accepted.stdout)\n\(accepted.stderr)")
        #expect(try lab.services()["web_web"] == "2/2 kryoform/busybox:2")
        for index in hosts.hosts.indices {
            let now = try lab.sessionsStarted(index)
            #expect(now > sessions[index], "\(hosts.hosts[index].name): \(sessions[index]) → \(now) sessions")
        }
        #expect(try Data(contentsOf: knownHosts) == recorded)
    }
}
