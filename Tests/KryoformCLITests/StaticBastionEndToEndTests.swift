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
        let lab = try LabProject.make(hosts: hosts)
        defer { try? FileManager.default.removeItem(at: lab.root) }
        let bastion = hosts.hosts[0]
        let before = try (1...2).map { try Self.loginSources(hosts, $0).count }

        // A bastion with nothing listening: the plan stops, naming the bastion.
        try lab.edit("kryoform.yaml") { $0 = $0.replacingOccurrences(of: "ssh:\n", with: "ssh:\n  via: \(bastion.user)@\(bastion.address):2299\n") }
        let closed = await lab.run(["plan", "-e", "lab"])
        #expect(closed.status == 1, "\(closed.stdout)\n\(closed.stderr)")
        #expect((closed.stdout + closed.stderr).contains("could not reach the bastion \(bastion.address):2299"), "\(closed.stdout)\n\(closed.stderr)")

        try lab.edit("kryoform.yaml") { $0 = $0.replacingOccurrences(of: ":2299\n", with: "\n") }
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
