import Foundation

/// A failure talking to one host over SSH. The description names the host and its address and
/// says what to do about it.
public struct SSHError: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {
    /// What went wrong, for callers that react differently to different failures.
    public enum Kind: String, Hashable, Sendable {
        /// The host name could not be resolved.
        case nameResolution
        /// The host answered that nothing listens on the port.
        case refused
        /// No route to the host or its network.
        case unreachable
        /// The TCP connection or the SSH handshake/login did not finish within the connect timeout.
        case timeout
        /// The SSH handshake failed (no common algorithms, not an SSH server, ...).
        case handshake
        /// The host presented a key other than the one recorded in known_hosts.
        case hostKeyChanged
        /// The host is not in known_hosts and the policy is strict.
        case hostKeyUnknown
        /// The host key is marked `@revoked` in known_hosts.
        case hostKeyRevoked
        /// known_hosts could not be read or written.
        case knownHosts
        /// The private key file is missing, unreadable, or could not be decrypted.
        case identityFile
        /// The server refused the key (or the agent's keys).
        case authentication
        /// The server refused an RSA key, which libssh2 1.10 can only sign with SHA-1.
        case rsaKeyRefused
        /// A channel could not be opened or the command could not be started.
        case channel
        /// An SFTP operation failed.
        case sftp
        /// A local file to upload could not be read.
        case localFile
        /// A command did not finish within its timeout.
        case commandTimeout
        /// The connection broke.
        case disconnected
        /// The session was closed by `close()`.
        case closed
        /// The task waiting for the operation was cancelled.
        case cancelled
    }

    /// What went wrong.
    public var kind: Kind
    /// The target's name and address, e.g. `node.app[1] (10.0.0.5:22)`.
    public var target: String
    /// What happened and what to do about it.
    public var message: String

    /// An error about `target` (as `SSHTarget` names itself in messages).
    public init(_ kind: Kind, target: String, message: String) {
        self.kind = kind
        self.target = target
        self.message = message
    }

    init(_ kind: Kind, _ target: SSHTarget, _ message: String) {
        self.init(kind, target: target.label, message: message)
    }

    public var description: String { "ssh \(target): \(message)" }
    public var errorDescription: String? { description }
}
