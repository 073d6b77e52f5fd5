import Foundation

/// Real test hosts made by `scripts/test-hosts`: network namespaces on a private bridge, each
/// with its own sshd, user and (with `docker`) Docker engine. `down()` removes them.
public struct TestHosts: Sendable {
    public struct Host: Decodable, Sendable {
        public var name: String
        public var address: String
        public var port: Int
        public var user: String
        public var dockerHost: String?
        /// The file of sshd's ed25519 host key (its public half beside it, `.pub`); sshd re-reads
        /// it on every connection and on SIGHUP.
        public var hostKeyPath: String
        /// sshd's pid file: the process to send SIGHUP to.
        public var sshdPIDFile: String

        enum CodingKeys: String, CodingKey {
            case name, address, port, user, dockerHost = "docker_host", hostKeyPath = "host_key", sshdPIDFile = "sshd_pid_file"
        }
    }

    struct Inventory: Decodable {
        var key: String
        var hosts: [Host]
    }

    public var directory: URL
    /// The client's private key, authorized on every host.
    public var key: String
    public var hosts: [Host]

    /// This repository's root, found from this file.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let script = packageRoot.appendingPathComponent("scripts/test-hosts")

    /// Makes `count` hosts; `prefix` and `subnet` (`10.231.10`) keep concurrent harnesses apart.
    /// With `loginUser`, every host's login user is that one user (and it can use every engine),
    /// as on cloud nodes made from one user data; without it, each host has a user of its own.
    public static func up(count: Int, docker: Bool, prefix: String, subnet: String, loginUser: String? = nil) throws -> TestHosts {
        let directory = URL(fileURLWithPath: "/tmp/kryoform-test-hosts-\(prefix)")
        // A run killed earlier may have left its hosts: remove them first.
        try LocalTool.run(script.path, ["down", "--dir", directory.path], check: false)
        var arguments = ["up", "--dir", directory.path, "--count", String(count), "--prefix", prefix, "--subnet", subnet]
        if docker { arguments.append("--docker") }
        if let loginUser { arguments += ["--login-user", loginUser] }
        let run = try LocalTool.run(script.path, arguments, check: false)
        guard run.status == 0 else {
            throw FixtureError("scripts/test-hosts up failed (\(run.status)): \(run.stderr)")
        }
        return try read(directory.appendingPathComponent("hosts.json"))
    }

    /// The hosts a `hosts.json` written by `scripts/test-hosts up` describes.
    public static func read(_ hostsFile: URL) throws -> TestHosts {
        let inventory = try JSONDecoder().decode(Inventory.self, from: Data(contentsOf: hostsFile))
        return TestHosts(directory: hostsFile.deletingLastPathComponent(), key: inventory.key, hosts: inventory.hosts)
    }

    public func down() {
        _ = try? LocalTool.run(Self.script.path, ["down", "--dir", directory.path], check: false)
    }

    /// Runs the docker CLI against host `index`'s engine, through its socket (no network).
    public func docker(_ index: Int, _ arguments: [String]) throws -> String {
        guard let socket = hosts[index].dockerHost else { throw FixtureError("host \(index) has no Docker engine") }
        return try LocalTool.run("/usr/bin/docker", ["-H", socket] + arguments).stdout
    }
}
