import Foundation
import Testing
import TestSupport

/// `ssh.via`: kryoform reaches every node through a bastion, as a team whose firewall admits SSH
/// only from inside the network does. The management host is the bastion; each node's sshd log
/// shows every login coming from it.
@Suite("Static hosts through a bastion (ssh.via), over real SSH", .serialized)
struct StaticBastionEndToEndTests {
    /// The addresses every accepted login on host `index` came from, from its sshd's log.
    static func loginSources(_ hosts: TestHosts, _ index: Int) throws -> [String] {
        let log = URL(fileURLWithPath: hosts.hosts[index].hostKeyPath).deletingLastPathComponent().appendingPathComponent("sshd.log")
        // sshd ends its log lines with CRLF, one Character in Swift: split on any newline.
        return try String(contentsOf: log, encoding: .utf8).split(whereSeparator: \.isNewline).compactMap { line -> String? in
            guard let range = line.range(of: "Accepted publickey for ") else { return nil }
            let words = line[range.upperBound...].split(separator: " ")
            guard let from = words.firstIndex(of: "from"), from + 1 < words.count else { return nil }
            return String(words[from + 1])
        }
    }

    @Test func applyThroughTheBastion() async throws {
        let hosts = try TestHosts.up(count: 3, docker: true, prefix: "kfx", subnet: "10.231.81")
        defer { hosts.down() }
        // The data role's only host is one the bastion cannot reach (nothing on port 2222).
        let lab = try LabProject.make(hosts: hosts, extraHosts: ["{ name: ghost, address: \(hosts.hosts[0].address), port: 2222, roles: [data] }"],
                                      roles: ["management", "application", "application"])
        defer { try? FileManager.default.removeItem(at: lab.root) }
        let bastion = hosts.hosts[0]
        let before = try (1...2).map { try Self.loginSources(hosts, $0).count }

        // A bastion with nothing listening: the plan stops, naming the bastion.
        try lab.edit("kryoform.yaml") { $0 = $0.replacingOccurrences(of: "ssh:\n", with: "ssh:\n  via: \(bastion.user)@\(bastion.address):2299\n") }
        let closed = await lab.run(["plan", "-e", "lab"])
        #expect(closed.status == 1, "\(closed.stdout)\n\(closed.stderr)")
        #expect((closed.stdout + closed.stderr).contains("could not reach the bastion \(bastion.address):2299"), "\(closed.stdout)\n\(closed.stderr)")

        try lab.edit("kryoform.yaml") { $0 = $0.replacingOccurrences(of: ":2299\n", with: "\n") }

        // A node the bastion cannot reach fails the swarm and skips only what needs it: the
        // data stack has nowhere to run and says so, the stacks that depend on it (api, then
        // web) are skipped, and the management agent, which needs none of it, deploys.
        let partial = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        let said = partial.stdout + partial.stderr
        #expect(partial.status == 1, "\(said)")
        #expect(said.contains("✗ swarm") && said.contains("the bastion \(bastion.user)@\(bastion.address):22 could not reach \(bastion.address):2222"), "\(said)")
        #expect(said.contains("stack.cache (create) failed: stack.cache: no data node is in the swarm, so the stack has nowhere to run"), "\(said)")
        #expect(said.contains("stack.api (create) skipped: stack.cache failed") && said.contains("stack.web (create) skipped"), "\(said)")
        let partServices = try lab.services()
        #expect(partServices == ["agent_agent": "1/1 kryoform/busybox:1"], "\(partServices)")

        // The hosts as they should be: the next apply converges.
        try lab.writeHosts()
        let applied = await lab.run(["apply", "-e", "lab", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let services = try lab.services()
        #expect(services["web_web"] == "2/2 kryoform/busybox:1" && services["cache_cache"] == "1/1 kryoform/busybox:1", "\(services)")
        let again = await lab.run(["plan", "-e", "lab", "--detailed-exitcode"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")

        // Every login kryoform made on the other hosts came from the bastion.
        for index in 1...2 {
            let sources = try Self.loginSources(hosts, index).dropFirst(before[index - 1])
            let log = URL(fileURLWithPath: hosts.hosts[index].hostKeyPath).deletingLastPathComponent().appendingPathComponent("sshd.log")
            #expect(!sources.isEmpty && sources.allSatisfy { $0 == bastion.address },
                    "host \(index): logins from \(Array(sources)); \(((try? String(contentsOf: log, encoding: .utf8)) ?? "").suffix(1500))")
        }
    }
}
