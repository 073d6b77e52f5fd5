import Foundation
@testable import Remote
import Testing
import TestSupport

/// Sessions through a bastion (`ssh.via`), on real test hosts: host 0 is the bastion, host 1
/// the node. What proves the way: the node's sshd sees the session come from the bastion's
/// address, where a direct session comes from the bridge's.
@Suite("SSH through a bastion (ssh.via), on real test hosts", .serialized)
struct SSHJumpTests {
    static func settings(_ hosts: TestHosts, knownHosts: String? = nil, policy: HostKeyPolicy = .strict, via: SSHTarget?) -> SSHSettings {
        SSHSettings(identity: SSHIdentity(privateKeyPath: hosts.key), knownHosts: KnownHosts(path: knownHosts ?? hosts.directory.appendingPathComponent("known_hosts").path),
                    policy: policy, connectTimeout: .seconds(10), via: via)
    }

    static func target(_ host: TestHosts.Host, port: Int? = nil) -> SSHTarget {
        SSHTarget(name: host.name, host: host.address, port: port ?? host.port, user: host.user)
    }

    /// The ssh processes this test process started that are still there (running or not reaped).
    static func jumpChildren() -> [String] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid -> String? in
            guard Int32(pid) != nil, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
            let fields = Dictionary(status.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: ":", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
            }, uniquingKeysWith: { first, _ in first })
            return fields["PPid"] == String(me) && fields["Name"] == "ssh" ? "\(pid) \(fields["State"] ?? "")" : nil
        }
    }

    @Test("a session through the bastion reaches the node from the bastion's address, runs commands, and leaves no ssh behind")
    func throughTheBastion() async throws {
        let hosts = try TestHosts.up(count: 2, docker: false, prefix: "kfj", subnet: "10.231.80", loginUser: "kfjuser")
        defer { hosts.down() }
        let bastion = Self.target(hosts.hosts[0])
        let node = Self.target(hosts.hosts[1])

        let direct = try await SSHSession.connect(to: node, settings: Self.settings(hosts, via: nil))
        let directFrom = try await direct.run("echo $SSH_CONNECTION").stdoutText.split(separator: " ").first.map(String.init)
        await direct.close()
        #expect(directFrom != nil && directFrom != hosts.hosts[0].address, "a direct session comes from the bridge: \(directFrom ?? "")")

        let session = try await SSHSession.connect(to: node, settings: Self.settings(hosts, via: bastion))
        let output = try await session.run("echo $SSH_CONNECTION; hostname")
        let lines = output.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ").first.map(String.init) == hosts.hosts[0].address, "came from the bastion: \(lines)")
        #expect(lines.first?.split(separator: " ").dropFirst(2).first.map(String.init) == hosts.hosts[1].address, "reached the node: \(lines)")
        // The node's own host key was checked end to end: the fingerprint is the node's.
        let nodeKey = try LocalTool.run("/usr/bin/ssh-keygen", ["-l", "-f", hosts.hosts[1].hostKeyPath + ".pub"]).stdout
        #expect(nodeKey.contains(session.hostKeyFingerprint), "\(nodeKey) vs \(session.hostKeyFingerprint)")
        // A few commands and an upload over the same way.
        for index in 1...3 { #expect(try await session.run("echo \(index)").stdoutText == "\(index)\n") }
        let uploaded = hosts.directory.appendingPathComponent("home/\(node.user)/kf-jump-upload").path
        try await session.upload(Data("through\n".utf8), to: uploaded)
        #expect(try await session.run("cat \(uploaded)").stdoutText == "through\n")
        #expect(!Self.jumpChildren().isEmpty, "ssh -W runs while the session is open")
        await session.close()
        #expect(Self.jumpChildren().isEmpty, "ssh exited and was reaped: \(Self.jumpChildren())")
    }

    @Test("a bastion that cannot be reached, refuses the login or cannot reach the node fails naming the bastion and what to check")
    func bastionFailures() async throws {
        let hosts = try TestHosts.up(count: 2, docker: false, prefix: "kfj", subnet: "10.231.80", loginUser: "kfjuser")
        defer { hosts.down() }
        let node = Self.target(hosts.hosts[1])

        // Nothing listens on the bastion's port.
        let closed = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: node, settings: Self.settings(hosts, via: Self.target(hosts.hosts[0], port: 2299)))
        }
        #expect(closed?.kind == .refused && closed?.message.contains("could not reach the bastion \(hosts.hosts[0].address):2299") == true,
                "\(closed?.description ?? "")")

        // The bastion is not in known_hosts, and the policy is strict.
        let empty = hosts.directory.appendingPathComponent("empty_known_hosts").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        let unknown = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: node, settings: Self.settings(hosts, knownHosts: empty, via: Self.target(hosts.hosts[0])))
        }
        #expect(unknown?.kind == .hostKeyUnknown && unknown?.message.contains("the bastion kfjuser@\(hosts.hosts[0].address):22 was refused") == true,
                "\(unknown?.description ?? "")")

        // The bastion refuses the user.
        var stranger = Self.target(hosts.hosts[0])
        stranger.user = "nobody"
        let denied = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: node, settings: Self.settings(hosts, via: stranger))
        }
        #expect(denied?.kind == .authentication && denied?.message.contains("refused the login") == true, "\(denied?.description ?? "")")

        // The bastion answers, but nothing listens on the node's port.
        let unreachable = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: Self.target(hosts.hosts[1], port: 2222), settings: Self.settings(hosts, via: Self.target(hosts.hosts[0])))
        }
        #expect(unreachable?.kind == .unreachable && unreachable?.message.contains("could not reach \(hosts.hosts[1].address):2222") == true,
                "\(unreachable?.description ?? "")")
        #expect(Self.jumpChildren().isEmpty, "every ssh reaped: \(Self.jumpChildren())")
    }

    @Test("ssh's command line: the node's address and port, the bastion's login, batch mode, the same key and known_hosts")
    func commandLine() {
        let settings = SSHSettings(identity: SSHIdentity(privateKeyPath: "/keys/id"), knownHosts: KnownHosts(path: "/p/known_hosts"),
                                   policy: .acceptNew, connectTimeout: .milliseconds(2_500))
        let arguments = SSHJump.arguments(to: SSHTarget(host: "fd00::5", port: 2222, user: "root"),
                                          via: SSHTarget(host: "bastion.example.com", port: 2200, user: "ops"), settings: settings)
        #expect(arguments == ["-W", "[fd00::5]:2222", "-p", "2200", "-l", "ops", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3",
                              "-o", "ServerAliveInterval=15", "-o", "UserKnownHostsFile=/p/known_hosts", "-o", "StrictHostKeyChecking=accept-new",
                              "-o", "ClearAllForwardings=yes", "-o", "LogLevel=ERROR", "-i", "/keys/id", "-o", "IdentitiesOnly=yes",
                              "--", "bastion.example.com"])
    }
}
