import Foundation
import ProviderFakes
import TestSupport
import XCTest

/// Real test hosts for the fakes to hand out, a fresh host key for a node's user data, and the
/// real `ssh-keyscan` to see which key a host presents.
enum NodeHostSupport {
    /// Two hosts with one login user, as two cloud nodes made from one user data.
    static func up() throws -> TestHosts {
        try TestHosts.up(count: 2, docker: false, prefix: "kfb", subnet: "10.231.40", loginUser: "kfbuser")
    }

    static func fakeHosts(_ hosts: TestHosts) -> [FakeNodeHost] {
        hosts.hosts.map { FakeNodeHost(address: $0.address, hostKeyPath: $0.hostKeyPath, sshdPIDFile: $0.sshdPIDFile) }
    }

    /// A host key pair made by `ssh-keygen -t ed25519`: the private key file's text and the public line.
    static func newHostKey() throws -> (privateKey: String, publicKey: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-host-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("key").path
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kryoform-host", "-f", file])
        return (try String(contentsOfFile: file, encoding: .utf8), try String(contentsOfFile: file + ".pub", encoding: .utf8))
    }

    /// The user data kryoform sends a new node, carrying `hostKey` (written here by hand, as
    /// the fakes must not depend on kryoform's own).
    static func userData(hostKey: (privateKey: String, publicKey: String), loginUser: String = "deploy") -> String {
        let privateKey = hostKey.privateKey.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
        return """
            #cloud-config
            # Made by kryoform for acme/dev, cluster app.
            ssh_deletekeys: true
            ssh_genkeytypes: []
            ssh_keys:
              ed25519_private: |
            \(privateKey)
              ed25519_public: \(keyFields(hostKey.publicKey)) kryoform-host
            users:
              - default
              - name: \(loginUser)
                shell: /bin/sh
                sudo: "ALL=(ALL) NOPASSWD:ALL"
                lock_passwd: true
                ssh_authorized_keys:
                  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL0u0NuSSHwAja7kHGf5zRRNXahDDda3PGlFTpk/a1xK kryoform
            ssh_authorized_keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL0u0NuSSHwAja7kHGf5zRRNXahDDda3PGlFTpk/a1xK kryoform
            write_files:
              - path: /etc/kryoform/node
                content: "acme/dev app"

            """
    }

    /// `ssh-ed25519 AAAA…` of a public key line, without the comment.
    static func keyFields(_ line: String) -> String {
        line.split(separator: " ").prefix(2).joined(separator: " ")
    }

    /// The ed25519 key `address` presents (`ssh-ed25519 AAAA…`), asked with the real
    /// `ssh-keyscan` until it is `expected` or 5 s have passed (sshd re-execs after SIGHUP).
    static func presentedKey(_ address: String, expecting expected: String) throws -> String {
        let deadline = Date().addingTimeInterval(5)
        var presented = ""
        repeat {
            let scan = try LocalTool.run("/usr/bin/ssh-keyscan", ["-T", "2", "-t", "ed25519", address], check: false)
            let line = scan.stdout.split(separator: "\n").first { !$0.hasPrefix("#") } ?? ""
            presented = line.split(separator: " ").dropFirst().prefix(2).joined(separator: " ")
            if presented == expected { break }
            usleep(100_000)
        } while Date() < deadline
        return presented
    }

    /// Runs `true` over SSH as the hosts' login user, trusting only `hostKey` for `address`: it
    /// succeeds only when sshd really holds that key's private half.
    static func login(_ hosts: TestHosts, _ address: String, trusting hostKey: String) throws -> ToolResult {
        let knownHosts = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-known-hosts-\(UUID().uuidString)").path
        try "\(address) \(hostKey)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: knownHosts) }
        return try LocalTool.run("/usr/bin/ssh", ["-F", "/dev/null", "-i", hosts.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                                                  "-o", "UserKnownHostsFile=\(knownHosts)", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5",
                                                  "\(hosts.hosts[0].user)@\(address)", "true"], check: false)
    }

    /// The ed25519 key the host presents before any boot: the one scripts/test-hosts made.
    static func ownKey(_ host: TestHosts.Host) throws -> String {
        keyFields(try String(contentsOfFile: host.hostKeyPath + ".pub", encoding: .utf8))
    }
}
