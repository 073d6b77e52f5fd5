import Foundation
import Remote
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A private sshd on 127.0.0.1 for tests: its own temporary folder, ed25519 host and user keys,
/// authorized_keys and sshd_config, running `/usr/sbin/sshd -D -e` as a child process on a free
/// port, as the current user. Call `stop()` (in a `defer`) when done.
final class LoopbackSSHServer: @unchecked Sendable {
    let directory: URL
    let port: Int
    let user: String
    let hostKeyPath: String
    let userKeyPath: String
    let authorizedKeysPath: String
    private let configPath: String
    private let logPath: String
    private var process: ChildProcess?

    /// Whether remote commands run through the user's full bash start-up. Debian's bash sources
    /// ~/.bashrc for commands run by sshd unless it is nested (SHLVL >= 1 before it starts), and
    /// on a development machine that file can take ~100 ms (pyenv, nvm, ...) per command, which
    /// would hide what the SSH layer itself costs. Set KF_SSH_TEST_BASHRC=1 to include it.
    static let sourceBashrc = ProcessInfo.processInfo.environment["KF_SSH_TEST_BASHRC"] == "1"

    /// Sets up the folder and keys and starts sshd, logging at `logLevel` (sshd_config's
    /// LogLevel; DEBUG shows each global request a client sends, keepalives among them).
    static func start(logLevel: String = "ERROR") throws -> LoopbackSSHServer {
        let server = try LoopbackSSHServer(logLevel: logLevel)
        do {
            try server.launch()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// What sshd has logged so far (its stderr), for a command on the same machine to watch.
    var logFile: String { logPath }

    private init(logLevel: String) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kf-ssh-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        directory = base
        port = try LoopbackNetwork.freePort()
        user = LoopbackSSHServer.currentUser()
        hostKeyPath = base.appendingPathComponent("ssh_host_ed25519_key").path
        userKeyPath = base.appendingPathComponent("id_ed25519").path
        authorizedKeysPath = base.appendingPathComponent("authorized_keys").path
        configPath = base.appendingPathComponent("sshd_config").path
        logPath = base.appendingPathComponent("sshd.log").path

        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kf-test-host", "-f", hostKeyPath])
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kf-test-user", "-f", userKeyPath])
        try FileManager.default.copyItem(atPath: userKeyPath + ".pub", toPath: authorizedKeysPath)
        let config = """
            ListenAddress 127.0.0.1
            Port \(port)
            HostKey \(hostKeyPath)
            PidFile \(base.appendingPathComponent("sshd.pid").path)
            AuthorizedKeysFile \(authorizedKeysPath)
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PermitRootLogin prohibit-password
            Subsystem sftp /usr/lib/openssh/sftp-server
            MaxStartups 64
            SetEnv SHLVL=\(LoopbackSSHServer.sourceBashrc ? 0 : 1) PATH=\(base.appendingPathComponent("bin").path):/usr/local/bin:/usr/bin:/bin
            LogLevel \(logLevel)

            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    private static func currentUser() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "root"
    }

    /// Starts sshd and waits (at most 10 s) until it accepts connections.
    private func launch() throws {
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let process = try ChildProcess.spawn("/usr/sbin/sshd", ["-D", "-e", "-f", configPath], stdoutPath: logPath, stderrPath: logPath)
        self.process = process
        let limit = Date().addingTimeInterval(10)
        while Date() < limit {
            if !process.isRunning {
                throw FixtureError("sshd exited with status \(process.wait()): \(logText())")
            }
            if LoopbackNetwork.accepts(port: port) { return }
            usleep(20_000)
        }
        throw FixtureError("sshd did not accept connections on port \(port) within 10 s: \(logText())")
    }

    /// What sshd wrote to its log.
    func logText() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Stops sshd (terminate, then wait) and removes the folder. Harmless to call twice.
    func stop() {
        stopProcess()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops sshd, keeping the folder (keys, known_hosts): nothing listens on the port after.
    func stopProcess() {
        guard let process else { return }
        process.terminate()
        self.process = nil
    }

    /// Restarts sshd on the same port with a newly generated host key.
    func restartWithNewHostKey() throws {
        stopProcess()
        try? FileManager.default.removeItem(atPath: hostKeyPath)
        try? FileManager.default.removeItem(atPath: hostKeyPath + ".pub")
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kf-test-host-2", "-f", hostKeyPath])
        try launch()
    }

    /// Puts an executable `name` with `script` (a shell script) first on the PATH of commands
    /// run over this server: a stand-in for a program the machine does not have.
    func install(_ name: String, script: String) throws {
        let folder = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: folder.appendingPathComponent(name).path, contents: Data("#!/bin/sh\n\(script)\n".utf8),
                                       attributes: [.posixPermissions: 0o755])
    }

    /// Restarts sshd on the same port with `privateKeyText` (OpenSSH format) as its host key.
    func restart(withHostKey privateKeyText: String) throws {
        stopProcess()
        try? FileManager.default.removeItem(atPath: hostKeyPath + ".pub")
        FileManager.default.createFile(atPath: hostKeyPath, contents: Data(privateKeyText.utf8), attributes: [.posixPermissions: 0o600])
        try launch()
    }

    /// Makes a user key of `type` (`ed25519`, `rsa`, ...) in the server's folder, adding it to
    /// authorized_keys when `authorize` is set. Returns the private key's path.
    func makeUserKey(type: String, name: String, passphrase: String = "", authorize: Bool) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", name, "-f", path])
        if authorize {
            let key = try String(contentsOfFile: path + ".pub", encoding: .utf8)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: authorizedKeysPath))
            handle.seekToEndOfFile()
            handle.write(Data(key.utf8))
            try handle.close()
        }
        return path
    }

    /// The SHA256 fingerprint of the current host key, as `ssh-keygen -l` prints it.
    func hostKeyFingerprint() throws -> String {
        let output = try LocalTool.run("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", hostKeyPath + ".pub"]).stdout
        let fields = output.split(separator: " ")
        guard fields.count > 1 else { throw FixtureError("unexpected ssh-keygen -l output: \(output)") }
        return String(fields[1])
    }

    /// The target for this server.
    var target: SSHTarget {
        SSHTarget(name: "loopback", host: "127.0.0.1", port: port, user: user)
    }

    /// A known_hosts path inside the server's folder (in a subfolder that does not exist yet).
    func knownHostsPath(_ name: String = "known_hosts") -> String {
        directory.appendingPathComponent("client/\(name)").path
    }

    /// Settings for this server: the fixture's user key and a fresh known_hosts file unless given.
    func settings(policy: HostKeyPolicy = .acceptNew, knownHosts: KnownHosts? = nil, identity: SSHIdentity? = nil,
                  connectTimeout: Duration = .seconds(10)) -> SSHSettings {
        SSHSettings(identity: identity ?? SSHIdentity(privateKeyPath: userKeyPath),
                    knownHosts: knownHosts ?? KnownHosts(path: knownHostsPath()),
                    policy: policy, connectTimeout: connectTimeout)
    }
}
