import CLibSSH2
import Foundation

/// Where upload bytes come from, read in chunks.
enum SSHUploadSource: Sendable {
    case data(Data)
    case file(URL)
}

extension SSHConnection {
    /// Bytes handed to `libssh2_sftp_write` at once. libssh2 1.10 cuts each call's buffer into
    /// 30000-byte packets and pipelines them, so a few MB per call keeps the link busy without
    /// copying a whole large file into memory.
    static let uploadChunkSize = 4 * 1024 * 1024

    /// Writes the source to `<dir>/.<name>.kf-tmp-<random>` and renames it over `path`.
    func upload(_ source: SSHUploadSource, to path: String, mode: Int32, timeout: Duration, control: SSHJobControl) throws(SSHError) {
        _ = try usableSession()
        let deadline = SSHDeadline(after: timeout)
        let onTimeout = {
            SSHError(.commandTimeout, self.target, "uploading \(path) did not finish within \(timeout.secondsText); check the "
                     + "connection to the host, or raise the timeout for large files")
        }
        let slash = path.lastIndex(of: "/")
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let folder = slash.map { String(path[..<$0]) } ?? ""
        guard !name.isEmpty, name != ".", name != ".." else {
            throw SSHError(.sftp, target, "cannot upload to \(path): it names a folder; give the full path of the file")
        }
        let folderText = folder.isEmpty ? (slash == nil ? "the login folder" : "/") : folder
        let temporaryPath = (slash == nil ? "" : folder + "/") + ".\(name).kf-tmp-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"

        // Open the local file first: a missing local file must not leave anything on the host.
        var localFile: FileHandle?
        if case .file(let url) = source {
            do {
                localFile = try FileHandle(forReadingFrom: url)
            } catch {
                throw SSHError(.localFile, target, "cannot read the local file \(url.path) to upload it (\(error.localizedDescription))")
            }
        }
        defer { try? localFile?.close() }

        let sftp = try sftpSession(deadline: deadline, control: control, onTimeout: onTimeout)
        let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC | LIBSSH2_FXF_EXCL)
        let opened = try retryPointer(deadline: deadline, control: control, onTimeout: onTimeout) {
            libssh2_sftp_open_ex(sftp, temporaryPath, UInt32(temporaryPath.utf8.count), flags, Int(mode & 0o7777), LIBSSH2_SFTP_OPENFILE)
        }
        guard let handle = opened else {
            throw sftpFailure(sftp, "creating \(temporaryPath)", folder: folderText)
        }
        var handleOpen = true
        do throws(SSHError) {
            switch source {
            case .data(let data):
                var offset = 0
                while offset < data.count {
                    let end = min(data.count, offset + Self.uploadChunkSize)
                    try write(data[offset..<end], to: handle, sftp: sftp, path: temporaryPath, folder: folderText, deadline: deadline,
                              control: control, onTimeout: onTimeout)
                    offset = end
                }
            case .file(let url):
                while true {
                    let chunk: Data
                    do {
                        chunk = try localFile?.read(upToCount: Self.uploadChunkSize) ?? Data()
                    } catch {
                        throw SSHError(.localFile, target, "reading the local file \(url.path) failed (\(error.localizedDescription))")
                    }
                    if chunk.isEmpty { break }
                    try write(chunk, to: handle, sftp: sftp, path: temporaryPath, folder: folderText, deadline: deadline,
                              control: control, onTimeout: onTimeout)
                }
            }
            // The server's umask applied to the mode at creation; set it exactly.
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            attributes.flags = UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS)
            attributes.permissions = UInt(mode & 0o7777)
            let setMode = try retry(deadline: deadline, control: control, onTimeout: onTimeout) {
                libssh2_sftp_fstat_ex(handle, &attributes, LIBSSH2_SFTP_SETSTAT)
            }
            if setMode != 0 { throw sftpFailure(sftp, "setting the mode of \(temporaryPath)", folder: folderText) }
            // Flush to disk before the rename, so a crash cannot leave an empty file under the
            // real name. Servers without the fsync@openssh.com extension just skip this.
            _ = try retry(deadline: deadline, control: control, onTimeout: onTimeout) { libssh2_sftp_fsync(handle) }
            let closed = try retry(deadline: deadline, control: control, onTimeout: onTimeout) { libssh2_sftp_close_handle(handle) }
            handleOpen = false
            if closed != 0 { throw sftpFailure(sftp, "finishing \(temporaryPath)", folder: folderText) }
            try rename(temporaryPath, to: path, sftp: sftp, folder: folderText, deadline: deadline, control: control, onTimeout: onTimeout)
        } catch {
            cleanUpFailedUpload(handle: handleOpen ? handle : nil, temporaryPath: temporaryPath, sftp: sftp)
            throw error
        }
    }

    private func write(_ data: Data, to handle: OpaquePointer, sftp: OpaquePointer, path: String, folder: String,
                       deadline: SSHDeadline, control: SSHJobControl, onTimeout: () -> SSHError) throws(SSHError) {
        var offset = 0
        while offset < data.count {
            // libssh2 expects the same buffer again after EAGAIN, advanced only by what it acknowledged.
            let written = data.withUnsafeBytes { bytes in
                libssh2_sftp_write(handle, bytes.baseAddress.map { ($0 + offset).assumingMemoryBound(to: CChar.self) }, bytes.count - offset)
            }
            if written > 0 {
                offset += written
                if deadline.hasPassed { throw onTimeout() }
                if control.isCancelled { throw SSHError(.cancelled, target, "uploading \(path) was cancelled") }
            } else if written == Int(LIBSSH2_ERROR_EAGAIN) {
                try waitForSocket(deadline: deadline, control: control, onTimeout: onTimeout)
            } else {
                throw sftpFailure(sftp, "writing \(path)", folder: folder)
            }
        }
    }

    /// Renames over the target. OpenSSH's sftp-server speaks SFTP v3, whose rename never
    /// overwrites (libssh2 1.10 has no posix-rename), so an existing target is removed first.
    private func rename(_ source: String, to path: String, sftp: OpaquePointer, folder: String,
                        deadline: SSHDeadline, control: SSHJobControl, onTimeout: () -> SSHError) throws(SSHError) {
        let flags = Int(LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE)
        func attempt() throws(SSHError) -> Int32 {
            try retry(deadline: deadline, control: control, onTimeout: onTimeout) {
                libssh2_sftp_rename_ex(sftp, source, UInt32(source.utf8.count), path, UInt32(path.utf8.count), flags)
            }
        }
        if try attempt() == 0 { return }
        let refusal = libssh2_sftp_last_error(sftp)
        guard lastErrorCode == LIBSSH2_ERROR_SFTP_PROTOCOL,
              refusal == LIBSSH2_FX_FAILURE || refusal == LIBSSH2_FX_FILE_ALREADY_EXISTS else {
            throw sftpFailure(sftp, "renaming \(source) to \(path)", folder: folder)
        }
        let removed = try retry(deadline: deadline, control: control, onTimeout: onTimeout) {
            libssh2_sftp_unlink_ex(sftp, path, UInt32(path.utf8.count))
        }
        if removed != 0 && libssh2_sftp_last_error(sftp) != LIBSSH2_FX_NO_SUCH_FILE {
            throw sftpFailure(sftp, "replacing \(path)", folder: folder)
        }
        if try attempt() != 0 {
            throw sftpFailure(sftp, "renaming \(source) to \(path)", folder: folder)
        }
    }

    private func cleanUpFailedUpload(handle: OpaquePointer?, temporaryPath: String, sftp: OpaquePointer) {
        guard brokenReason == nil, let session else { return }
        // Interrupted in the middle of sending a packet: libssh2 1.10 cannot send anything else.
        if libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
            markBroken(SSHError(.disconnected, target, "an upload was interrupted in the middle of sending data; \(temporaryPath) "
                                + "may be left on the host"))
            return
        }
        let grace = SSHDeadline(after: .seconds(2))
        let control = SSHJobControl()
        let stop = { SSHError(.timeout, self.target, "cleanup timed out") }
        if let handle {
            _ = try? retry(deadline: grace, control: control, onTimeout: stop) { libssh2_sftp_close_handle(handle) }
        }
        _ = try? retry(deadline: grace, control: control, onTimeout: stop) {
            libssh2_sftp_unlink_ex(sftp, temporaryPath, UInt32(temporaryPath.utf8.count))
        }
    }

    /// The session's SFTP subsystem, started on first use.
    private func sftpSession(deadline: SSHDeadline, control: SSHJobControl, onTimeout: () -> SSHError) throws(SSHError) -> OpaquePointer {
        if let sftp { return sftp }
        guard let session else { throw SSHError(.closed, target, "the session is not connected") }
        let started = try retryPointer(deadline: deadline, control: control, onTimeout: onTimeout) { libssh2_sftp_init(session) }
        guard let started else {
            let code = lastErrorCode
            if Self.isConnectionLoss(code) { throw failure(.sftp, "starting SFTP", code: code) }
            throw SSHError(.sftp, target, "could not start SFTP (\(lastErrorText())); check that sshd_config has a "
                           + "`Subsystem sftp` line")
        }
        sftp = started
        return started
    }

    /// An error for a failed SFTP request, in terms of the remote folder where that helps.
    private func sftpFailure(_ sftp: OpaquePointer, _ action: String, folder: String) -> SSHError {
        let code = lastErrorCode
        guard code == LIBSSH2_ERROR_SFTP_PROTOCOL else { return failure(.sftp, action, code: code) }
        let status = libssh2_sftp_last_error(sftp)
        let advice: String
        switch status {
        case LIBSSH2_FX_NO_SUCH_FILE, LIBSSH2_FX_NO_SUCH_PATH:
            advice = "the folder \(folder) does not exist on the host; create it first (mkdir -p)"
        case LIBSSH2_FX_PERMISSION_DENIED:
            advice = "permission denied: \(target.user) may not write in \(folder)"
        case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM, LIBSSH2_FX_QUOTA_EXCEEDED:
            advice = "no space left for \(target.user) on the file system of \(folder)"
        case LIBSSH2_FX_WRITE_PROTECT:
            advice = "the file system of \(folder) is read-only"
        case LIBSSH2_FX_NOT_A_DIRECTORY:
            advice = "part of \(folder) is not a folder"
        default:
            advice = "the server answered SFTP status \(status)"
        }
        return SSHError(.sftp, target, "\(action) failed: \(advice)")
    }
}
