import Foundation
@testable import Remote
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("SSH connect: host keys, login and network errors", .serialized)
struct SSHConnectTests {
    // MARK: - Host keys

    @Test("accept-new records the key (creating folder and file), then the key matches, also under strict")
    func acceptNewRecordsThenMatches() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let path = server.knownHostsPath()
        let knownHosts = KnownHosts(path: path)

        let first = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .acceptNew, knownHosts: knownHosts))
        let fingerprint = try server.hostKeyFingerprint()
        #expect(first.hostKeyFingerprint == fingerprint)
        await first.close()

        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("[127.0.0.1]:\(server.port) ssh-ed25519 AAAA"))
        #expect(text.split(separator: "\n").count == 1)
        let fileMode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        let folderMode = try FileManager.default.attributesOfItem(atPath: (path as NSString).deletingLastPathComponent)[.posixPermissions] as? Int
        #expect(fileMode == 0o600)
        #expect(folderMode == 0o700)
        // OpenSSH finds the entry we wrote.
        let found = try LocalTool.run("/usr/bin/ssh-keygen", ["-F", "[127.0.0.1]:\(server.port)", "-f", path])
        #expect(found.stdout.contains("ssh-ed25519"))

        let second = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .strict, knownHosts: knownHosts))
        #expect(try await second.run("echo matched").stdoutText == "matched\n")
        await second.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
    }

    @Test("hashed entries (ssh-keygen -H) and ssh-keyscan lines match under strict")
    func hashedAndKeyscanEntriesMatch() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }

        let hashedPath = server.knownHostsPath("hashed")
        let recorder = try await SSHSession.connect(to: server.target, settings: server.settings(knownHosts: KnownHosts(path: hashedPath)))
        await recorder.close()
        try LocalTool.run("/usr/bin/ssh-keygen", ["-H", "-f", hashedPath])
        let hashed = try String(contentsOfFile: hashedPath, encoding: .utf8)
        #expect(hashed.hasPrefix("|1|"))
        // A comment, an unrelated entry and a line libssh2 cannot parse must not get in the way.
        let extra = "# kryoform test\nexample.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3Hqlk8m3rrS8L1pCEGl7mI6pQ2z7ioVwK1yZ2cMGfS\n"
            + "@cert-authority *.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3Hqlk8m3rrS8L1pCEGl7mI6pQ2z7ioVwK1yZ2cMGfS\n"
            + "garbage line\n"
        try (extra + hashed).write(toFile: hashedPath, atomically: true, encoding: .utf8)
        let strictHashed = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .strict, knownHosts: KnownHosts(path: hashedPath)))
        await strictHashed.close()

        let scannedPath = server.directory.appendingPathComponent("scanned_known_hosts").path
        let scan = try LocalTool.run("/usr/bin/ssh-keyscan", ["-p", "\(server.port)", "-t", "ed25519", "127.0.0.1"])
        try scan.stdout.write(toFile: scannedPath, atomically: true, encoding: .utf8)
        let strictScanned = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .strict, knownHosts: KnownHosts(path: scannedPath)))
        await strictScanned.close()
    }

    @Test("a key marked @revoked is refused")
    func revokedKeyIsRefused() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let publicKey = try String(contentsOfFile: server.hostKeyPath + ".pub", encoding: .utf8)
        let fields = publicKey.split(separator: " ")
        try #require(fields.count >= 2)
        let path = server.directory.appendingPathComponent("revoked_known_hosts").path
        try "@revoked * \(fields[0]) \(fields[1])\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .acceptNew, knownHosts: KnownHosts(path: path)))
        }
        #expect(error?.kind == .hostKeyRevoked)
    }

    @Test("a changed host key is refused with both fingerprints, and known_hosts is left alone")
    func changedHostKeyIsRefused() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let path = server.knownHostsPath()
        let knownHosts = KnownHosts(path: path)
        let first = try await SSHSession.connect(to: server.target, settings: server.settings(knownHosts: knownHosts))
        await first.close()
        let oldFingerprint = try server.hostKeyFingerprint()
        let recorded = try String(contentsOfFile: path, encoding: .utf8)

        try server.restartWithNewHostKey()
        let newFingerprint = try server.hostKeyFingerprint()
        #expect(newFingerprint != oldFingerprint)

        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .acceptNew, knownHosts: knownHosts))
        }
        #expect(error?.kind == .hostKeyChanged)
        let message = error?.description ?? ""
        #expect(message.contains(oldFingerprint))
        #expect(message.contains(newFingerprint))
        #expect(message.contains(path))
        #expect(message.contains("127.0.0.1:\(server.port)"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == recorded)
    }

    @Test("strict refuses an unknown host and says how to add it")
    func strictRefusesUnknownHost() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let path = server.knownHostsPath()
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: server.target, settings: server.settings(policy: .strict, knownHosts: KnownHosts(path: path)))
        }
        #expect(error?.kind == .hostKeyUnknown)
        #expect(error?.description.contains("ssh-keyscan -p \(server.port)") == true)
        #expect(error?.description.contains(try server.hostKeyFingerprint()) == true)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    // MARK: - Login

    @Test("a key that is not authorized fails naming user@host:port and the key")
    func wrongKeyIsRefused() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let stranger = try server.makeUserKey(type: "ed25519", name: "stranger", authorize: false)
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: server.target, settings: server.settings(identity: SSHIdentity(privateKeyPath: stranger)))
        }
        #expect(error?.kind == .authentication)
        #expect(error?.description.contains("\(server.user)@127.0.0.1:\(server.port)") == true)
        #expect(error?.description.contains(stranger) == true)
    }

    @Test("an RSA key is refused with advice to use ed25519")
    func rsaKeyIsRefused() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let rsa = try server.makeUserKey(type: "rsa", name: "id_rsa", authorize: true)
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: server.target, settings: server.settings(identity: SSHIdentity(privateKeyPath: rsa)))
        }
        #expect(error?.kind == .rsaKeyRefused)
        #expect(error?.description.contains("ed25519") == true)
        #expect(error?.description.contains(rsa) == true)
    }

    @Test("a missing key file is reported with its path")
    func missingKeyFile() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let missing = server.directory.appendingPathComponent("no_such_key").path
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: server.target, settings: server.settings(identity: SSHIdentity(privateKeyPath: missing)))
        }
        #expect(error?.kind == .identityFile)
        #expect(error?.description.contains(missing) == true)
    }

    @Test("a key with a passphrase works with it and fails clearly with a wrong one")
    func passphraseKey() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let key = try server.makeUserKey(type: "ed25519", name: "locked", passphrase: "open sesame", authorize: true)
        let session = try await SSHSession.connect(
            to: server.target, settings: server.settings(identity: SSHIdentity(privateKeyPath: key, passphrase: "open sesame")))
        #expect(try await session.run("echo unlocked").stdoutText == "unlocked\n")
        await session.close()

        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(
                to: server.target, settings: server.settings(identity: SSHIdentity(privateKeyPath: key, passphrase: "wrong")))
        }
        #expect(error?.kind == .identityFile)
        #expect(error?.description.contains(key) == true)
    }

    @Test("login through an SSH agent")
    func agentLogin() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let socketPath = server.directory.appendingPathComponent("agent.sock").path
        let agent = try ChildProcess.spawn("/usr/bin/ssh-agent", ["-D", "-a", socketPath])
        defer { agent.terminate() }
        let limit = Date().addingTimeInterval(5)
        while !FileManager.default.fileExists(atPath: socketPath) && Date() < limit { usleep(20_000) }
        try #require(FileManager.default.fileExists(atPath: socketPath), "ssh-agent made no socket within 5 s")
        try LocalTool.run("/usr/bin/ssh-add", ["-q", server.userKeyPath], environment: ["SSH_AUTH_SOCK": socketPath])

        let session = try await SSHSession.connect(to: server.target, settings: server.settings(identity: .agent(socketPath: socketPath)))
        #expect(try await session.run("echo agent").stdoutText == "agent\n")
        await session.close()
    }

    // MARK: - Network errors

    @Test("nothing listening: connection refused")
    func connectionRefused() async throws {
        let port = try LoopbackNetwork.freePort()
        let target = SSHTarget(name: "nobody", host: "127.0.0.1", port: port, user: "root")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-ssh-refused-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyPath = folder.appendingPathComponent("id_ed25519").path
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyPath])
        let settings = SSHSettings(identity: SSHIdentity(privateKeyPath: keyPath),
                                   knownHosts: KnownHosts(path: folder.appendingPathComponent("known_hosts").path),
                                   policy: .acceptNew, connectTimeout: .seconds(5))
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: target, settings: settings)
        }
        #expect(error?.kind == .refused)
        #expect(error?.description.contains("nobody (127.0.0.1:\(port))") == true)
    }

    @Test("a listener that never sends a banner times out after the connect timeout it was given", .timeLimit(.minutes(1)))
    func silentHostTimesOut() async throws {
        let listener = try LoopbackNetwork.silentListener()
        defer { close(listener.descriptor) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-ssh-silent-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyPath = folder.appendingPathComponent("id_ed25519").path
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyPath])
        let target = SSHTarget(name: "silent", host: "127.0.0.1", port: listener.port, user: "root")
        // Waits as long as each timeout asks: at least that long; and the short one gives up
        // long before the long one would (a bound 5 s above the short timeout, so a loaded
        // machine that starts the connect late cannot fail it, yet a timeout ignored for the
        // long one or for the 10 s default would).
        var waits: [Duration] = []
        for timeout in [Duration.seconds(1), .seconds(8)] {
            let settings = SSHSettings(identity: SSHIdentity(privateKeyPath: keyPath),
                                       knownHosts: KnownHosts(path: folder.appendingPathComponent("known_hosts").path),
                                       policy: .acceptNew, connectTimeout: timeout)
            let start = ContinuousClock.now
            let error = await #expect(throws: SSHError.self) {
                _ = try await SSHSession.connect(to: target, settings: settings)
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.kind == .timeout)
            #expect(error?.description.contains("no SSH greeting within \(timeout.components.seconds)s") == true, "\(error?.description ?? "")")
            #expect(elapsed >= timeout - .milliseconds(100), "gave up after \(elapsed), asked to wait \(timeout)")
            waits.append(elapsed)
        }
        #expect(waits[0] < .seconds(6), "a 1 s and an 8 s connect timeout waited \(waits[0]) and \(waits[1])")
    }

    @Test("an unknown host name fails name resolution")
    func unknownHostName() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-ssh-dns-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyPath = folder.appendingPathComponent("id_ed25519").path
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyPath])
        let target = SSHTarget(host: "no-such-host.invalid", user: "root")
        let settings = SSHSettings(identity: SSHIdentity(privateKeyPath: keyPath),
                                   knownHosts: KnownHosts(path: folder.appendingPathComponent("known_hosts").path),
                                   connectTimeout: .seconds(5))
        let error = await #expect(throws: SSHError.self) {
            _ = try await SSHSession.connect(to: target, settings: settings)
        }
        #expect(error?.kind == .nameResolution)
        #expect(error?.description.contains("no-such-host.invalid") == true)
    }
}

@Suite("SSH helpers")
struct SSHHelperTests {
    @Test("SHA-256 matches the standard test vectors")
    func sha256Vectors() {
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(SSHDigest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SSHDigest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hex(SSHDigest.sha256(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("key files are recognised by algorithm")
    func keyAlgorithms() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-ssh-keys-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = SSHTarget(host: "example", user: "root")
        for (type, expected) in [("ed25519", SSHPrivateKeyInfo.Algorithm.ed25519), ("rsa", .rsa), ("ecdsa", .ecdsa)] {
            let path = folder.appendingPathComponent("id_\(type)").path
            try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", "secret", "-f", path])
            // Without the .pub file: the type comes from the private key's clear-text part.
            try FileManager.default.removeItem(atPath: path + ".pub")
            let info = try SSHPrivateKeyInfo.inspect(privateKeyPath: path, publicKeyPath: nil, target: target)
            #expect(info.algorithm == expected, "\(type)")
        }
        let pem = folder.appendingPathComponent("id_rsa_pem").path
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "rsa", "-m", "PEM", "-N", "", "-f", pem])
        #expect(try SSHPrivateKeyInfo.inspect(privateKeyPath: pem, publicKeyPath: nil, target: target).isRSA)
    }

    @Test("known_hosts lookups are exact, however the lines fall in memory")
    func knownHostsLookupsAreExact() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-ssh-kh-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let ed25519 = try #require(SSHHostKeyType.all.first { $0.name == "ssh-ed25519" })
        // ed25519 key blobs: string "ssh-ed25519" + string of 32 key bytes.
        func blob(_ seed: UInt8) -> [UInt8] {
            [0, 0, 0, 11] + Array("ssh-ed25519".utf8) + [0, 0, 0, 32] + (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(seed)) }
        }
        var lines: [String] = []
        for index in 0..<50 {
            let name = index % 2 == 0 ? "host\(index).example" : "[10.0.0.\(index)]:22\(index)"
            lines.append("\(name) ssh-ed25519 \(Data(blob(UInt8(index))).base64EncodedString())\(index % 3 == 0 ? " comment \(index)" : "")")
        }
        let path = folder.appendingPathComponent("known_hosts").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let knownHosts = KnownHosts(path: path)
        for round in 0..<200 {
            let index = round % 50
            let target = index % 2 == 0 ? SSHTarget(host: "host\(index).example", user: "root")
                                        : SSHTarget(host: "10.0.0.\(index)", port: 220 + index, user: "root")
            let port = index % 2 == 0 ? 22 : Int("22\(index)") ?? 0
            let lookup = SSHTarget(host: target.host, port: port, user: "root")
            #expect(try knownHosts.check(key: blob(UInt8(index)), type: ed25519, target: lookup) == .known)
            let expected = SSHDigest.fingerprint(ofKeyBlob: blob(UInt8(index)))
            #expect(try knownHosts.check(key: blob(200), type: ed25519, target: lookup) == .changed(recordedFingerprint: expected))
        }
        #expect(try knownHosts.check(key: blob(1), type: ed25519, target: SSHTarget(host: "other.example", user: "root")) == .unknown)
    }

    @Test("known_hosts entry names follow OpenSSH")
    func entryNames() {
        #expect(KnownHosts.entryName(host: "Example.org", port: 22) == "example.org")
        #expect(KnownHosts.entryName(host: "10.0.0.5", port: 2222) == "[10.0.0.5]:2222")
        #expect(KnownHosts.shared(path: "/tmp/x/../kh") === KnownHosts.shared(path: "/tmp/kh"))
    }

    @Test("errors name the target")
    func errorDescriptions() {
        let named = SSHTarget(name: "node.app[1]", host: "10.0.0.5", port: 22, user: "root")
        #expect(SSHError(.refused, named, "x").description == "ssh node.app[1] (10.0.0.5:22): x")
        let plain = SSHTarget(host: "::1", port: 2222, user: "root")
        #expect(SSHError(.refused, plain, "x").description == "ssh [::1]:2222: x")
        #expect(commandSummary("sleep 30") == "'sleep 30'")
        #expect(commandSummary("a b c d e f\nsecond") == "'a b c d ...'")
    }
}
