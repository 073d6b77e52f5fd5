import CLibSSH2
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Whether the task waiting for one queued job was cancelled.
final class SSHJobControl: Sendable {
    private let flag = Atomic<Bool>(false)

    func cancel() { flag.store(true, ordering: .relaxed) }

    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// The libssh2 session behind an `SSHSession`, with its socket.
///
/// libssh2 allows one thread at a time per session, and its calls block, so every job runs on
/// this connection's own serial dispatch queue: jobs of one session run one after another,
/// never on the Swift concurrency pool, and different sessions run in parallel. The session is
/// in non-blocking mode; every libssh2 call that would block returns EAGAIN and the job waits
/// in `poll` on the socket, which gives each operation a real deadline and lets it notice
/// task cancellation.
///
/// `@unchecked Sendable`: the mutable state below is only touched by jobs on `queue`.
final class SSHConnection: @unchecked Sendable {
    let target: SSHTarget
    let settings: SSHSettings
    private let queue: DispatchQueue

    var descriptor: Int32 = -1
    /// The way through a bastion the descriptor is one end of (`settings.via`).
    var jump: SSHJump?
    var session: OpaquePointer?
    /// The SFTP subsystem, started on the first upload and kept for the next ones.
    var sftp: OpaquePointer?
    /// Channels given up on (timeout, cancellation) whose close the server has not confirmed yet.
    var abandonedChannels: [OpaquePointer] = []
    /// Set when the connection can no longer be used; later jobs fail with it.
    var brokenReason: String?
    var isClosed = false
    var privateKeyInfo: SSHPrivateKeyInfo?
    /// The fingerprint of the host key, once verified.
    var hostKeyFingerprint = ""
    /// Reused read buffer.
    var readBuffer = [UInt8](repeating: 0, count: 128 * 1024)

    init(target: SSHTarget, settings: SSHSettings) {
        self.target = target
        self.settings = settings
        queue = DispatchQueue(label: "kryoform.ssh.\(target.name)")
    }

    /// Runs `work` on the connection's queue and returns its result. Cancelling the calling
    /// task makes the job stop at its next wait with a `.cancelled` error.
    func perform<T: Sendable>(_ work: @escaping @Sendable (SSHConnection, SSHJobControl) throws(SSHError) -> T) async throws(SSHError) -> T {
        let control = SSHJobControl()
        let target = self.target
        let result: Result<T, SSHError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, SSHError>, Never>) in
                queue.async {
                    if control.isCancelled {
                        continuation.resume(returning: .failure(SSHError(.cancelled, target, "the operation was cancelled before it started")))
                        return
                    }
                    do throws(SSHError) {
                        continuation.resume(returning: .success(try work(self, control)))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }
            }
        } onCancel: {
            control.cancel()
        }
        return try result.get()
    }

    /// Queues `shutdown()` without waiting for it (for `deinit`).
    func shutdownLater() {
        queue.async { self.shutdown() }
    }

    /// Runs `shutdown()` on the queue after any queued jobs, even when the calling task is
    /// cancelled, and waits for it.
    func shutdownAndWait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.shutdown()
                continuation.resume()
            }
        }
    }

    // MARK: - Waiting

    /// The session, when it is open and usable; frees channels abandoned earlier when it can.
    func usableSession() throws(SSHError) -> OpaquePointer {
        if isClosed { throw SSHError(.closed, target, "the session was closed; open a new session") }
        if let brokenReason {
            throw SSHError(.disconnected, target, "the connection is no longer usable (\(brokenReason)); open a new session")
        }
        guard let session else { throw SSHError(.closed, target, "the session is not connected; open a new session") }
        reapAbandonedChannels()
        return session
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, at most until
    /// `deadline` (then throws `onTimeout()`), in slices so cancellation is noticed and
    /// keepalives go out during long quiet commands.
    func waitForSocket(deadline: SSHDeadline, control: SSHJobControl, onTimeout: () -> SSHError) throws(SSHError) {
        guard let session else { throw SSHError(.closed, target, "the session is not connected") }
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        // Not blocked on the socket (data for another channel was queued): look again soon.
        let slice: Int32 = events == 0 ? 5 : 250
        if events == 0 { events = Int16(POLLIN) }
        requestQuickAcknowledgements()
        var pollDescriptor = pollfd(fd: descriptor, events: events, revents: 0)
        let milliseconds = deadline.remainingMilliseconds(cap: slice)
        let ready = milliseconds > 0 ? poll(&pollDescriptor, 1, milliseconds) : 0
        if ready < 0 {
            let code = errno
            if code != EINTR {
                throw markBroken(SSHError(.disconnected, target, "waiting on the connection failed: \(systemErrorText(code))"))
            }
        }
        if control.isCancelled { throw SSHError(.cancelled, target, "the operation was cancelled") }
        if deadline.hasPassed { throw onTimeout() }
        if ready == 0 { sendKeepaliveIfDue() }
    }

    /// Asks the kernel to acknowledge received data at once rather than after the delayed-ACK
    /// timer. sshd leaves Nagle's algorithm on for non-interactive sessions, so it may hold a
    /// small packet (exit status, EOF, close) until the previous one is acknowledged. Linux
    /// clears the flag as it goes, so it is set again before every wait. (On loopback this
    /// took a short command from 2.7 to 2.4 ms.)
    func requestQuickAcknowledgements() {
        var on: Int32 = 1
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_QUICKACK, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Calls `operation` until it returns something other than EAGAIN.
    func retry(deadline: SSHDeadline, control: SSHJobControl, onTimeout: () -> SSHError,
               _ operation: () -> Int32) throws(SSHError) -> Int32 {
        while true {
            let result = operation()
            if result != LIBSSH2_ERROR_EAGAIN { return result }
            try waitForSocket(deadline: deadline, control: control, onTimeout: onTimeout)
        }
    }

    /// Calls `operation` until it returns a pointer, or nil with an error other than EAGAIN.
    func retryPointer(deadline: SSHDeadline, control: SSHJobControl, onTimeout: () -> SSHError,
                      _ operation: () -> OpaquePointer?) throws(SSHError) -> OpaquePointer? {
        while true {
            if let pointer = operation() { return pointer }
            guard let session, libssh2_session_last_errno(session) == LIBSSH2_ERROR_EAGAIN else { return nil }
            try waitForSocket(deadline: deadline, control: control, onTimeout: onTimeout)
        }
    }

    /// Sends a keepalive when one is due, but only when no packet is half-sent (libssh2 1.10
    /// would otherwise interleave packets and fail with LIBSSH2_ERROR_BAD_USE).
    func sendKeepaliveIfDue() {
        guard settings.keepaliveInterval > 0, let session else { return }
        guard libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND == 0 else { return }
        var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        guard poll(&pollDescriptor, 1, 0) == 1, pollDescriptor.revents & Int16(POLLOUT) != 0 else { return }
        var secondsToNext: Int32 = 0
        _ = libssh2_keepalive_send(session, &secondsToNext)
    }

    /// libssh2's text for its last error.
    func lastErrorText() -> String {
        guard let session else { return "no session" }
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        guard let message, length > 0 else { return "libssh2 error \(code)" }
        return String(cString: message)
    }

    var lastErrorCode: Int32 {
        guard let session else { return LIBSSH2_ERROR_SOCKET_DISCONNECT }
        return libssh2_session_last_errno(session)
    }

    static func isConnectionLoss(_ code: Int32) -> Bool {
        [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_TIMEOUT,
         LIBSSH2_ERROR_BAD_SOCKET, LIBSSH2_ERROR_DECRYPT, LIBSSH2_ERROR_INVALID_MAC, LIBSSH2_ERROR_BAD_USE,
         LIBSSH2_ERROR_PROTO, LIBSSH2_ERROR_KEX_FAILURE].contains(code)
    }

    /// Marks the connection unusable and returns `error` for throwing.
    @discardableResult
    func markBroken(_ error: SSHError) -> SSHError {
        if brokenReason == nil { brokenReason = error.message }
        return error
    }

    /// The error for a libssh2 failure `code` while doing `action`: a lost connection marks the
    /// session broken.
    func failure(_ kind: SSHError.Kind, _ action: String, code: Int32) -> SSHError {
        let detail = lastErrorText()
        if Self.isConnectionLoss(code) {
            return markBroken(SSHError(.disconnected, target, "the connection broke while \(action) (\(detail)); "
                                       + "check that the host is up, then retry"))
        }
        return SSHError(kind, target, "\(action) failed: \(detail) (libssh2 error \(code))")
    }

    // MARK: - Channels given up on

    /// Frees `channel` after a timeout or cancellation. When the server has not confirmed the
    /// close yet the channel is kept and freed later, so the session stays usable. A packet
    /// left half-sent would wedge libssh2 (it refuses to send another), so that case marks the
    /// session broken instead.
    func abandon(_ channel: OpaquePointer) {
        guard let session else { return }
        let outboundPending = libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
        if outboundPending {
            markBroken(SSHError(.disconnected, target, "a command was interrupted in the middle of sending data"))
        }
        if !freeChannel(channel, grace: .milliseconds(500)) {
            abandonedChannels.append(channel)
        }
    }

    /// Tries to free `channel` within `grace`; false if libssh2 still waits for the server.
    func freeChannel(_ channel: OpaquePointer, grace: Duration) -> Bool {
        guard let session else { return true }
        let deadline = SSHDeadline(after: grace)
        while true {
            let result = libssh2_channel_free(channel)
            if result != LIBSSH2_ERROR_EAGAIN { return true }
            let outbound = libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
            // Only waiting for the server's CLOSE (which may come much later): stop here.
            if !outbound || deadline.hasPassed {
                if outbound { markBroken(SSHError(.disconnected, target, "could not send a channel close")) }
                return false
            }
            var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            _ = poll(&pollDescriptor, 1, deadline.remainingMilliseconds(cap: 50))
        }
    }

    func reapAbandonedChannels() {
        guard !abandonedChannels.isEmpty else { return }
        abandonedChannels.removeAll { freeChannel($0, grace: .milliseconds(100)) }
    }

    // MARK: - Shutdown

    /// Says goodbye to the server (briefly, unless the connection is broken) and frees
    /// everything. Safe to call more than once.
    func shutdown() {
        guard !isClosed else { return }
        isClosed = true
        if let session {
            if brokenReason == nil {
                let grace = SSHDeadline(after: .seconds(1))
                let control = SSHJobControl()
                let stop = { SSHError(.timeout, self.target, "closing timed out") }
                if let sftp, (try? retry(deadline: grace, control: control, onTimeout: stop) { libssh2_sftp_shutdown(sftp) }) != nil {
                    self.sftp = nil
                }
                _ = try? retry(deadline: grace, control: control, onTimeout: stop) {
                    libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "kryoform session closed", "")
                }
            }
            // From here on every libssh2 read or write fails at once instead of waiting.
            if descriptor >= 0 { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
            if let sftp {
                Self.repeatWhileAgain { libssh2_sftp_shutdown(sftp) }
                self.sftp = nil
            }
            for channel in abandonedChannels {
                Self.repeatWhileAgain { libssh2_channel_free(channel) }
            }
            abandonedChannels = []
            Self.repeatWhileAgain { libssh2_session_free(session) }
            self.session = nil
        }
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        jump?.stop()
        jump = nil
    }

    /// Calls `operation` again while it returns EAGAIN, a few times at most (used once the
    /// socket is shut down, when libssh2 fails fast instead of waiting).
    private static func repeatWhileAgain(_ operation: () -> Int32) {
        var attempts = 0
        while operation() == LIBSSH2_ERROR_EAGAIN && attempts < 10 { attempts += 1 }
    }
}
