import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The way to a host through a bastion, as OpenSSH's ProxyJump makes it: `ssh -W host:port`
/// runs against the bastion with its standard input and output on one end of a socket pair,
/// and the session to the host runs over the other end, so the host's own handshake, host key
/// check and login happen end to end, from here, as over TCP. The bastion only forwards bytes.
///
/// OpenSSH logs in to the bastion with the same identity (the key file, or the agent) and the
/// same known_hosts and policy as the nodes; a key with a passphrase works for the bastion only
/// when it is in the agent (the bastion's login runs in batch mode, with no prompt).
///
/// `@unchecked Sendable`: used by one connection's jobs, which run on its queue one at a time.
final class SSHJump: @unchecked Sendable {
    let bastion: SSHTarget
    /// Our end of the socket pair, non-blocking: the session's descriptor.
    let descriptor: Int32
    private let pid: pid_t
    private let errorFile: URL
    private var exitStatus: Int32?

    /// The ssh program to run; `KRYOFORM_SSH` overrides it (for a non-standard install).
    static var program: String {
        if let path = ProcessInfo.processInfo.environment["KRYOFORM_SSH"], !path.isEmpty { return path }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(folder)/ssh"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "/usr/bin/ssh"
    }

    /// The ssh command line that opens the way to `target` through `bastion`.
    static func arguments(to target: SSHTarget, via bastion: SSHTarget, settings: SSHSettings) -> [String] {
        let (whole, fraction) = settings.connectTimeout.components
        let seconds = max(1, Int(whole) + (fraction > 0 ? 1 : 0))
        var arguments = ["-W", target.endpoint,
                         "-p", String(bastion.port), "-l", bastion.user,
                         "-o", "BatchMode=yes", "-o", "ConnectTimeout=\(seconds)",
                         "-o", "ServerAliveInterval=\(max(settings.keepaliveInterval, 0))",
                         "-o", "UserKnownHostsFile=\(settings.knownHosts.path)",
                         "-o", "StrictHostKeyChecking=\(settings.policy == .strict ? "yes" : "accept-new")",
                         "-o", "ClearAllForwardings=yes", "-o", "LogLevel=ERROR"]
        switch settings.identity.source {
        case .keyFile(let privateKeyPath, _, _):
            arguments += ["-i", privateKeyPath, "-o", "IdentitiesOnly=yes"]
        case .agent(let socketPath):
            if let socketPath { arguments += ["-o", "IdentityAgent=\(socketPath)"] }
        }
        return arguments + ["--", bastion.host]
    }

    private init(bastion: SSHTarget, descriptor: Int32, pid: pid_t, errorFile: URL) {
        self.bastion = bastion
        self.descriptor = descriptor
        self.pid = pid
        self.errorFile = errorFile
    }

    /// Starts `ssh -W` to `target` through `bastion`.
    static func start(to target: SSHTarget, via bastion: SSHTarget, settings: SSHSettings) throws(SSHError) -> SSHJump {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SSHError(.unreachable, target, "could not make a socket pair for the bastion \(bastion.login): \(systemErrorText(errno))")
        }
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-ssh-jump-\(UUID().uuidString.prefix(12)).err")
        let program = Self.program
        let argv = [program] + arguments(to: target, via: bastion, settings: settings)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], 0)
        posix_spawn_file_actions_adddup2(&actions, pair[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, errorFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let cStrings = argv.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, cStrings + [nil], environ)
        close(pair[1])
        guard spawned == 0 else {
            close(pair[0])
            throw SSHError(.unreachable, target, "could not start \(program) to reach the host through the bastion \(bastion.login): "
                           + "\(systemErrorText(spawned)); install OpenSSH's client or set KRYOFORM_SSH to its path")
        }
        let flags = fcntl(pair[0], F_GETFL)
        _ = fcntl(pair[0], F_SETFL, flags | O_NONBLOCK)
        return SSHJump(bastion: bastion, descriptor: pair[0], pid: pid, errorFile: errorFile)
    }

    /// Whether ssh has exited (the way is closed); reaps it when it has.
    var hasExited: Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        let waited = waitpid(pid, &status, WNOHANG)
        if waited == pid || (waited < 0 && errno == ECHILD) {
            // ECHILD: something else in the process reaped it; it is gone all the same.
            exitStatus = waited == pid ? status : -1
            return true
        }
        return false
    }

    /// What ssh said on stderr.
    var saidAll: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// The last line of what ssh said (empty when it said nothing).
    static func lastLine(of text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.last(where: { !$0.isEmpty }) ?? ""
    }

    /// The failure to report when the session over this way failed with `error`: what ssh said
    /// when it gave up (the bastion refused us, or could not reach the host), else `error`.
    func explain(_ error: SSHError, target: SSHTarget) -> SSHError {
        // ssh writes its reason, then exits: give it a moment to finish once the pair closed.
        for _ in 0..<20 where !hasExited { usleep(10_000) }
        let text = saidAll
        let said = Self.lastLine(of: text)
        guard hasExited, !said.isEmpty else { return error }
        let through = "through the bastion \(bastion.login)"
        let lower = text.lowercased()
        if lower.contains("host key verification failed") || lower.contains("remote host identification has changed") {
            return SSHError(lower.contains("has changed") ? .hostKeyChanged : .hostKeyUnknown, target, "the bastion \(bastion.login) was refused: \(said); record its key in "
                            + "known_hosts (ssh-keyscan -p \(bastion.port) \(bastion.host)) or use host_key_policy: accept-new")
        }
        if lower.contains("permission denied") {
            return SSHError(.authentication, target, "the bastion \(bastion.login) refused the login: \(said); authorize the key on the "
                            + "bastion for \(bastion.user), or set ssh.via's user (user@host)")
        }
        if lower.contains("channel 0: open failed") || lower.contains("stdio forwarding failed") {
            return SSHError(.unreachable, target, "the bastion \(bastion.login) could not reach \(target.endpoint): \(said); check that the "
                            + "host is up, that its firewall admits SSH from the bastion, and that the bastion allows TCP forwarding")
        }
        if lower.contains("connection refused") {
            return SSHError(.refused, target, "could not reach the bastion \(bastion.endpoint): \(said); check that sshd runs there on port \(bastion.port)")
        }
        if lower.contains("timed out") {
            return SSHError(.timeout, target, "could not reach the bastion \(bastion.endpoint) \(through): \(said); check the address and "
                            + "that a firewall lets port \(bastion.port) through")
        }
        return SSHError(.unreachable, target, "the way \(through) failed: \(said)")
    }

    /// Ends ssh (the session is over: nothing more goes this way) and removes its stderr file.
    func stop() {
        if !hasExited {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            exitStatus = waitpid(pid, &status, 0) == pid ? status : -1
        }
        try? FileManager.default.removeItem(at: errorFile)
    }
}
