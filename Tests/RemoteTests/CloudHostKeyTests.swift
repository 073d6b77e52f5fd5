import Foundation
@testable import Remote
import Testing
import TestSupport

/// The host keys kryoform makes for new cloud nodes, checked against real OpenSSH: ssh-keygen
/// reads them, sshd serves them, and a connection pinned to one is verified from the start.
@Suite("Cloud host keys: made by kryoform, pinned before the first connection", .serialized)
struct CloudHostKeyTests {
    @Test("ssh-keygen reads the private key kryoform writes and derives the same public key")
    func opensshReadsTheKey() throws {
        let pair = HostKeyPair.generate(comment: "kryoform-host shop/prod node.app.1")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-hostkey-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("key").path
        FileManager.default.createFile(atPath: path, contents: Data(pair.privateKeyText.utf8), attributes: [.posixPermissions: 0o600])
        let derived = try LocalTool.run("/usr/bin/ssh-keygen", ["-y", "-f", path]).stdout
        #expect(derived.split(separator: " ").prefix(2) == pair.publicKeyLine.split(separator: " ").prefix(2))
        #expect(pair.publicKeyLine.hasSuffix(" kryoform-host shop/prod node.app.1"))
        #expect(pair.privateKeyText.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----\n"))
        #expect(HostKeyPair.generate(comment: "").publicKeyLine != pair.publicKeyLine)
    }

    @Test("sshd serves a kryoform-made key; a connection pinned to it passes under strict, one pinned to another key is refused")
    func pinnedFirstContact() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let pair = HostKeyPair.generate(comment: "kryoform-host")
        try server.restart(withHostKey: pair.privateKeyText)
        let knownHosts = KnownHosts(path: server.knownHostsPath())
        try knownHosts.replace(host: "127.0.0.1", port: server.port, with: [pair.publicKeyLine])

        let session = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .strict, knownHosts: knownHosts))
        #expect(try await session.run("echo pinned").stdoutText == "pinned\n")
        await session.close()

        let other = HostKeyPair.generate(comment: "another")
        try knownHosts.replace(host: "127.0.0.1", port: server.port, with: [other.publicKeyLine])
        do {
            let refused = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .acceptNew, knownHosts: knownHosts))
            await refused.close()
            Issue.record("a host presenting another key than the pinned one was accepted")
        } catch let error as SSHError {
            #expect(error.kind == .hostKeyChanged)
        }
    }

    @Test("replace drops every entry of the host (plain, in a list, hashed) and keeps the others")
    func replaceDropsOnlyThatHost() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-known-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("known_hosts").path
        let old = HostKeyPair.generate(comment: "").publicKeyLine, keep = HostKeyPair.generate(comment: "").publicKeyLine
        let hashedSource = folder.appendingPathComponent("hashed").path
        try Data("203.0.113.7 \(old)\n".utf8).write(to: URL(fileURLWithPath: hashedSource))
        _ = try LocalTool.run("/usr/bin/ssh-keygen", ["-H", "-f", hashedSource])
        let hashed = try String(contentsOfFile: hashedSource, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hashed.hasPrefix("|1|"))
        try Data("# mine\n203.0.113.7 \(old)\nother.example,203.0.113.7 \(old)\n\(hashed)\n203.0.113.70 \(keep)\n[203.0.113.7]:2222 \(keep)\n".utf8)
            .write(to: URL(fileURLWithPath: path))

        let new = HostKeyPair.generate(comment: "kryoform-host")
        try KnownHosts(path: path).replace(host: "203.0.113.7", port: 22, with: [new.publicKeyLine])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let newKey = new.publicKeyLine.split(separator: " ").prefix(2).joined(separator: " ")
        #expect(lines == ["# mine", "203.0.113.70 \(keep)", "[203.0.113.7]:2222 \(keep)", "203.0.113.7 \(newKey)"])
        // OpenSSH agrees: the host's only key is the new one.
        let found = try LocalTool.run("/usr/bin/ssh-keygen", ["-F", "203.0.113.7", "-f", path]).stdout
        #expect(found.contains(newKey) && !found.contains(old.split(separator: " ")[1]))
    }

    @Test("pins are kept per node address across instances of the file, and removed")
    func pinsPersist() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-pins-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("host-keys/prod").path
        try HostKeyPins(path: path).add("ssh-ed25519 AAAA1 one", for: "node.app.1")
        try HostKeyPins(path: path).add("ssh-ed25519 AAAA2 two", for: "node.app.1")
        try HostKeyPins(path: path).add("ssh-ed25519 AAAA3", for: "node.app.2")
        let pins = HostKeyPins(path: path)
        #expect(pins.keys(for: "node.app.1") == ["ssh-ed25519 AAAA1 one", "ssh-ed25519 AAAA2 two"])
        try pins.remove("node.app.1")
        #expect(HostKeyPins(path: path).keys(for: "node.app.1").isEmpty)
        #expect(HostKeyPins(path: path).keys(for: "node.app.2") == ["ssh-ed25519 AAAA3"])
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
    }

    @Test("a booting node is tried again until its patience runs out, then named with its port and what to check")
    func patienceIsBounded() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let settings = server.settings()
        let target = server.target
        server.stopProcess()  // nothing listens on the port now
        let connections = NodeConnections(settings: settings)
        do {
            try await connections.reach(target, patience: .seconds(3))
            Issue.record("a port nothing listens on was reached")
        } catch let error as SSHError {
            #expect(error.kind == .refused)
            #expect(error.message.contains("did not answer SSH on port \(target.port) within 3 s"))
            #expect(error.message.contains("firewall's SSH rule"))
        }
    }

    @Test("first boot: cloud-init's wait is run once; done with recoverable errors (2) goes on, failed (1) stops naming its log; no cloud-init, no wait")
    func firstBootWait() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let calls = server.directory.appendingPathComponent("cloud-init-calls").path
        let status = server.directory.appendingPathComponent("cloud-init-exit").path
        // A stand-in cloud-init: records each call, answers `status --wait` with the exit code in a file.
        try server.install("cloud-init", script: """
        echo "$*" >> \(calls)
        [ "$2" = "--long" ] && { echo 'status: error'; echo 'errors: package_update_upgrade_install failed'; exit 1; }
        exit "$(cat \(status))"
        """)
        func node() -> NodeEndpoint {
            NodeEndpoint(address: "node.app.1", target: server.target, roles: ["application"], firstBoot: FirstBoot(sshPatience: .seconds(5)))
        }
        func operations() -> SwarmOperations {
            SwarmOperations(shell: NodeShell(connections: NodeConnections(settings: server.settings())), project: "p", environment: "e")
        }
        func called() -> [String] {
            ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        try "2".write(toFile: status, atomically: true, encoding: .utf8)
        let recovered = operations()
        #expect(await recovered.reach([node()]).isEmpty)
        #expect(await recovered.reach([node()]).isEmpty)
        #expect(called() == ["status --wait"], "waited once a run: \(called())")

        try "1".write(toFile: status, atomically: true, encoding: .utf8)
        let failed = await operations().reach([node()])
        #expect(failed.count == 1)
        #expect(failed.first?.message.contains("status: error") == true, "\(failed)")
        #expect(failed.first?.fix?.contains("/var/log/cloud-init-output.log") == true, "\(failed)")

        try FileManager.default.removeItem(atPath: server.directory.appendingPathComponent("bin/cloud-init").path)
        #expect(await operations().reach([node()]).isEmpty, "an image without cloud-init has nothing to wait for")
    }
}
