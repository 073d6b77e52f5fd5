import CLibSSH2
import Foundation

extension SSHConnection {
    /// The channel's receive window: enough to keep a large output flowing.
    static let channelWindowSize: UInt32 = 2 * 1024 * 1024
    static let channelPacketSize: UInt32 = 32 * 1024
    /// The most stdin written per call.
    static let stdinSliceSize = 256 * 1024

    /// Runs `command` in a new channel and collects its output and exit status.
    func run(_ command: String, stdin: Data?, timeout: Duration, control: SSHJobControl) throws(SSHError) -> CommandOutput {
        let session = try usableSession()
        let deadline = SSHDeadline(after: timeout)
        let summary = commandSummary(command)
        let onTimeout = {
            SSHError(.commandTimeout, self.target, "command \(summary) did not finish within \(timeout.secondsText) and was abandoned; "
                     + "it may still be running on the host. Raise the timeout if it needs longer, or find out why it hangs")
        }
        sendKeepaliveIfDue()
        let opened = try retryPointer(deadline: deadline, control: control, onTimeout: onTimeout) {
            libssh2_channel_open_ex(session, "session", 7, Self.channelWindowSize, Self.channelPacketSize, nil, 0)
        }
        guard let channel = opened else {
            let code = lastErrorCode
            if code == LIBSSH2_ERROR_CHANNEL_FAILURE {
                throw SSHError(.channel, target, "the server refused to open a channel for \(summary) (\(lastErrorText())); it may limit "
                               + "sessions per connection (MaxSessions in sshd_config)")
            }
            throw failure(.channel, "opening a channel for \(summary)", code: code)
        }
        do throws(SSHError) {
            let output = try execute(command, summary: summary, on: channel, stdin: stdin, deadline: deadline, control: control,
                                     onTimeout: onTimeout)
            if !freeChannel(channel, grace: .seconds(1)) { abandonedChannels.append(channel) }
            return output
        } catch {
            abandon(channel)
            throw error
        }
    }

    private func execute(_ command: String, summary: String, on channel: OpaquePointer, stdin: Data?, deadline: SSHDeadline,
                         control: SSHJobControl, onTimeout: () -> SSHError) throws(SSHError) -> CommandOutput {
        let started = try retry(deadline: deadline, control: control, onTimeout: onTimeout) {
            libssh2_channel_process_startup(channel, "exec", 4, command, UInt32(command.utf8.count))
        }
        if started != 0 {
            if started == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED {
                throw SSHError(.channel, target, "the server refused to run \(summary); check its sshd_config (ForceCommand, "
                               + "restricted shells) and the login shell of \(target.user)")
            }
            throw failure(.channel, "starting \(summary)", code: started)
        }

        var stdout = Data()
        var stderr = Data()
        let input = stdin ?? Data()
        var inputOffset = 0
        var inputOpen = true
        var eofSent = false
        while true {
            var progressed = false
            for stream in [Int32(0), Int32(SSH_EXTENDED_DATA_STDERR)] {
                while true {
                    let count = readBuffer.withUnsafeMutableBytes { buffer in
                        libssh2_channel_read_ex(channel, stream, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), buffer.count)
                    }
                    if count > 0 {
                        readBuffer.withUnsafeBytes { buffer in
                            if stream == 0 {
                                stdout.append(contentsOf: buffer[0..<count])
                            } else {
                                stderr.append(contentsOf: buffer[0..<count])
                            }
                        }
                        progressed = true
                        continue
                    }
                    if count == 0 || count == Int(LIBSSH2_ERROR_EAGAIN) { break }
                    throw failure(.channel, "reading the output of \(summary)", code: Int32(truncatingIfNeeded: count))
                }
            }
            if !eofSent {
                if inputOpen && inputOffset < input.count {
                    let slice = min(input.count - inputOffset, Self.stdinSliceSize)
                    let written = input.withUnsafeBytes { bytes in
                        libssh2_channel_write_ex(channel, 0, bytes.baseAddress.map { ($0 + inputOffset).assumingMemoryBound(to: CChar.self) },
                                                 slice)
                    }
                    if written > 0 {
                        inputOffset += written
                        progressed = true
                    } else if written != Int(LIBSSH2_ERROR_EAGAIN) {
                        let code = Int32(truncatingIfNeeded: written)
                        if Self.isConnectionLoss(code) { throw failure(.channel, "sending input to \(summary)", code: code) }
                        // The command stopped reading (it exited or closed stdin): drop the rest.
                        inputOpen = false
                    }
                }
                if !inputOpen || inputOffset >= input.count {
                    let result = libssh2_channel_send_eof(channel)
                    if result != LIBSSH2_ERROR_EAGAIN {
                        if Self.isConnectionLoss(result) { throw failure(.channel, "closing the input of \(summary)", code: result) }
                        eofSent = true
                        progressed = true
                    }
                }
            }
            if libssh2_channel_eof(channel) != 0 { break }
            if deadline.hasPassed { throw onTimeout() }
            if control.isCancelled { throw SSHError(.cancelled, target, "\(summary) was cancelled") }
            if !progressed {
                try waitForSocket(deadline: deadline, control: control, onTimeout: onTimeout)
            }
        }

        // The command closed its output; its exit status arrives with (or before) the close.
        let closed = try retry(deadline: deadline, control: control, onTimeout: onTimeout) { libssh2_channel_wait_closed(channel) }
        if closed != 0 {
            throw failure(.channel, "waiting for \(summary) to exit", code: closed)
        }
        var exitStatus = libssh2_channel_get_exit_status(channel)
        var signalName: UnsafeMutablePointer<CChar>?
        var signalLength = 0
        _ = libssh2_channel_get_exit_signal(channel, &signalName, &signalLength, nil, nil, nil, nil)
        var exitSignal: String?
        if let signalName {
            if signalLength > 0 {
                exitSignal = String(decoding: UnsafeRawBufferPointer(start: signalName, count: signalLength), as: UTF8.self)
            }
            if let session { libssh2_free(session, signalName) }
        }
        if exitSignal != nil { exitStatus = -1 }
        return CommandOutput(stdout: stdout, stderr: stderr, exitStatus: exitStatus, exitSignal: exitSignal)
    }
}
