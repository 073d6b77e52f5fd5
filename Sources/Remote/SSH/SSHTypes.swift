import Foundation

/// A host to reach over SSH: where it is, who to log in as, and the name kryoform calls it.
public struct SSHTarget: Hashable, Sendable {
    /// The name used in messages, e.g. `node.app[1]` or the host name.
    public var name: String
    /// A host name or an IPv4/IPv6 address.
    public var host: String
    /// The TCP port sshd listens on (22 by default).
    public var port: Int
    /// The remote user to log in as.
    public var user: String

    /// A target; `name` defaults to `host`.
    public init(name: String? = nil, host: String, port: Int = 22, user: String) {
        self.name = name ?? host
        self.host = host
        self.port = port
        self.user = user
    }

    /// `user@host:port`, with IPv6 addresses in brackets.
    public var login: String { "\(user)@\(endpoint)" }

    /// `host:port`, with IPv6 addresses in brackets.
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// How the target is named in messages: `node.app[1] (10.0.0.5:22)`, or just `10.0.0.5:22`.
    var label: String { name == host ? endpoint : "\(name) (\(endpoint))" }
}

/// The credential used to log in: a private key file, or the keys of a running SSH agent.
public struct SSHIdentity: Hashable, Sendable {
    /// Where the key comes from.
    public enum Source: Hashable, Sendable {
        /// A private key file; `publicKeyPath` nil lets libssh2 derive the public key from it.
        case keyFile(privateKeyPath: String, publicKeyPath: String?, passphrase: String?)
        /// The SSH agent at `socketPath`, or at `$SSH_AUTH_SOCK` when nil.
        case agent(socketPath: String?)
    }

    /// Where the key comes from.
    public var source: Source

    /// A private key file, with its `.pub` file and passphrase when it has them.
    public init(privateKeyPath: String, publicKeyPath: String? = nil, passphrase: String? = nil) {
        source = .keyFile(privateKeyPath: privateKeyPath, publicKeyPath: publicKeyPath, passphrase: passphrase)
    }

    /// An identity from `source`.
    public init(source: Source) {
        self.source = source
    }

    /// The keys of the SSH agent named by `$SSH_AUTH_SOCK`.
    public static var agent: SSHIdentity { SSHIdentity(source: .agent(socketPath: nil)) }

    /// The keys of the SSH agent listening on `socketPath`.
    public static func agent(socketPath: String) -> SSHIdentity {
        SSHIdentity(source: .agent(socketPath: socketPath))
    }

    /// The private key file, or nil when the agent is used.
    public var privateKeyPath: String? {
        if case .keyFile(let path, _, _) = source { return path }
        return nil
    }

    /// The public key file given with the private key, if any.
    public var publicKeyPath: String? {
        if case .keyFile(_, let path, _) = source { return path }
        return nil
    }

    /// The private key's passphrase, if any.
    public var passphrase: String? {
        if case .keyFile(_, _, let passphrase) = source { return passphrase }
        return nil
    }
}

/// What to do with a host key that known_hosts does not vouch for.
public enum HostKeyPolicy: String, Hashable, Sendable, CaseIterable {
    /// Record the key of a host seen for the first time; refuse a key that changed.
    case acceptNew = "accept-new"
    /// Refuse hosts that are not in known_hosts already, and keys that changed.
    case strict
}

/// How sessions connect and prove who they are.
public struct SSHSettings: Sendable {
    public var identity: SSHIdentity
    public var knownHosts: KnownHosts
    public var policy: HostKeyPolicy
    /// Limit for TCP connect, SSH handshake and login together.
    public var connectTimeout: Duration
    /// Seconds between keepalive messages while a session is busy; 0 turns them off.
    public var keepaliveInterval: Int
    /// The bastion to reach the host through (`SSHJump`); nil: straight over TCP.
    public var via: SSHTarget?

    /// Settings with kryoform's defaults: accept-new, 10 s to connect, keepalive every 15 s.
    public init(identity: SSHIdentity, knownHosts: KnownHosts, policy: HostKeyPolicy = .acceptNew,
                connectTimeout: Duration = .seconds(10), keepaliveInterval: Int = 15, via: SSHTarget? = nil) {
        self.identity = identity
        self.knownHosts = knownHosts
        self.policy = policy
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
        self.via = via
    }
}

/// What a remote command wrote and how it ended.
public struct CommandOutput: Hashable, Sendable {
    public var stdout: Data
    public var stderr: Data
    /// The exit status; -1 when the command was killed by a signal (see `exitSignal`).
    public var exitStatus: Int32
    /// The signal that ended the command without the `SIG` prefix (`TERM`, `KILL`), or nil.
    public var exitSignal: String?

    /// An output, as `SSHSession.run` returns it (public for tests and fakes).
    public init(stdout: Data, stderr: Data, exitStatus: Int32, exitSignal: String? = nil) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitStatus = exitStatus
        self.exitSignal = exitSignal
    }

    /// Standard output as UTF-8 text (invalid bytes replaced).
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// Standard error as UTF-8 text (invalid bytes replaced).
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// True when the command exited with status 0 and no signal.
    public var succeeded: Bool { exitStatus == 0 && exitSignal == nil }
}
