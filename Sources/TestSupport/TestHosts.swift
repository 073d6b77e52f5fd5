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
        /// With `disks`: the host's own /dev/disk/by-id, where a disk attached to it is linked.
        public var diskDirectory: String?

        enum CodingKeys: String, CodingKey {
            case name, address, port, user, dockerHost = "docker_host", hostKeyPath = "host_key", sshdPIDFile = "sshd_pid_file",
                 diskDirectory = "disk_dir"
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
    /// With `disks`, each host has its own /mnt, /etc/fstab and /dev/disk, and the login users
    /// may use sudo without a password (`LoopDisks` attaches disks to them).
    public static func up(count: Int, docker: Bool, prefix: String, subnet: String, loginUser: String? = nil, disks: Bool = false) throws -> TestHosts {
        let directory = URL(fileURLWithPath: "/tmp/kryoform-test-hosts-\(prefix)")
        // A run killed earlier may have left its hosts: remove them first.
        try LocalTool.run(script.path, ["down", "--dir", directory.path], check: false)
        var arguments = ["up", "--dir", directory.path, "--count", String(count), "--prefix", prefix, "--subnet", subnet]
        if docker { arguments.append("--docker") }
        if let loginUser { arguments += ["--login-user", loginUser] }
        if disks { arguments.append("--disks") }
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

    /// Runs `command` as root in host `index`'s own mount namespace (hosts made with `disks`):
    /// what its mounts, /etc/fstab and /dev/disk are.
    public func onHost(_ index: Int, _ command: [String], check: Bool = true) throws -> ToolResult {
        let folder = URL(fileURLWithPath: hosts[index].hostKeyPath).deletingLastPathComponent()
        return try LocalTool.run("/usr/bin/nsenter", ["--mount=\(folder.appendingPathComponent("mntns").path)", "--"] + command, check: check)
    }

    /// The source device of each mount under /mnt/kryoform on host `index`, by mount point.
    public func kryoformMounts(_ index: Int) throws -> [String: String] {
        let lines = try onHost(index, ["/usr/bin/findmnt", "-rn", "-o", "TARGET,SOURCE"]).stdout.split(separator: "\n")
        var mounts: [String: String] = [:]
        for line in lines {
            let fields = line.split(separator: " ").map(String.init)
            if fields.count == 2, fields[0].hasPrefix("/mnt/kryoform/") { mounts[fields[0]] = fields[1] }
        }
        return mounts
    }

    /// Runs the docker CLI against host `index`'s engine, through its socket (no network).
    public func docker(_ index: Int, _ arguments: [String]) throws -> String {
        guard let socket = hosts[index].dockerHost else { throw FixtureError("host \(index) has no Docker engine") }
        return try LocalTool.run("/usr/bin/docker", ["-H", socket] + arguments).stdout
    }
}
