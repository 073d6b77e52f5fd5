import Foundation

/// An SSH connection to one host, logged in, over which commands run one after another.
///
/// Calls on one session are serialized (libssh2 allows one thread per session at a time); use
/// several sessions for work in parallel. The blocking libssh2 work runs on the session's own
/// dispatch queue, never on the Swift concurrency thread pool. Every failure is an `SSHError`
/// naming the host.
public final class SSHSession: Sendable {
    /// The host this session is connected to.
    public let target: SSHTarget
    /// The host key's fingerprint as `ssh-keygen -l` shows it (`SHA256:...`).
    public let hostKeyFingerprint: String
    private let connection: SSHConnection

    private init(connection: SSHConnection, hostKeyFingerprint: String) {
        self.connection = connection
        target = connection.target
        self.hostKeyFingerprint = hostKeyFingerprint
    }

    deinit {
        connection.shutdownLater()
    }

    /// Connects to `target`, checks its host key against `settings.knownHosts` under
    /// `settings.policy`, and logs in with `settings.identity`, all within
    /// `settings.connectTimeout`.
    ///
    /// - Throws: `SSHError` — `.refused`, `.unreachable`, `.nameResolution`, `.timeout`,
    ///   `.handshake`, `.hostKeyChanged`, `.hostKeyUnknown`, `.hostKeyRevoked`, `.knownHosts`,
    ///   `.identityFile`, `.authentication`, `.rsaKeyRefused`, `.cancelled`.
    public static func connect(to target: SSHTarget, settings: SSHSettings) async throws -> SSHSession {
        let connection = SSHConnection(target: target, settings: settings)
        let fingerprint = try await connection.perform { connection, control throws(SSHError) -> String in
            do throws(SSHError) {
                try connection.establish(control: control)
                return connection.hostKeyFingerprint
            } catch {
                // Say goodbye politely only to a server that got as far as the login.
                if ![.authentication, .rsaKeyRefused, .identityFile, .hostKeyChanged, .hostKeyUnknown, .hostKeyRevoked,
                     .knownHosts].contains(error.kind) {
                    connection.markBroken(error)
                }
                connection.shutdown()
                throw error
            }
        }
        return SSHSession(connection: connection, hostKeyFingerprint: fingerprint)
    }

    /// Runs `command` through the login shell of the remote user (`sh -c` semantics), feeds it
    /// `stdin` (or an immediate end of input), and returns what it wrote to stdout and stderr
    /// and how it exited. A non-zero exit status is not an error.
    ///
    /// - Throws: `SSHError` — `.commandTimeout` when the command runs longer than `timeout` (the
    ///   channel is abandoned; the session stays usable when libssh2 allows it, otherwise the
    ///   next call fails with `.disconnected`), `.channel`, `.disconnected`, `.closed`, `.cancelled`.
    public func run(_ command: String, stdin: Data? = nil, timeout: Duration = .seconds(600)) async throws -> CommandOutput {
        try await connection.perform { connection, control throws(SSHError) in
            try connection.run(command, stdin: stdin, timeout: timeout, control: control)
        }
    }

    /// Writes `data` to `path` on the host with `mode`, atomically for readers as far as SFTP
    /// allows: the bytes go to `<folder>/.<name>.kf-tmp-<random>` first, which is then renamed
    /// over `path` (an existing `path` is removed just before the rename, because OpenSSH's
    /// SFTP rename never overwrites). Parent folders are not created.
    ///
    /// - Throws: `SSHError` — `.sftp` naming the path (missing folder, permission denied, ...),
    ///   `.commandTimeout`, `.disconnected`, `.closed`, `.cancelled`.
    public func upload(_ data: Data, to path: String, mode: Int32 = 0o644, timeout: Duration = .seconds(600)) async throws {
        try await connection.perform { connection, control throws(SSHError) in
            try connection.upload(.data(data), to: path, mode: mode, timeout: timeout, control: control)
        }
    }

    /// Like `upload(_:to:mode:timeout:)`, streaming the local file at `file` in chunks.
    ///
    /// - Throws: `SSHError` — additionally `.localFile` when the local file cannot be read.
    public func upload(file: URL, to path: String, mode: Int32 = 0o644, timeout: Duration = .seconds(600)) async throws {
        try await connection.perform { connection, control throws(SSHError) in
            try connection.upload(.file(file), to: path, mode: mode, timeout: timeout, control: control)
        }
    }

    /// Ends the session (waiting at most about a second for the server), after any calls
    /// already queued on it. Later calls fail with `.closed`. Calling it twice is harmless.
    public func close() async {
        await connection.shutdownAndWait()
    }
}
