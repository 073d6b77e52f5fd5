import CLibSSH2
import Crypto
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One OpenSSH known_hosts file. Sessions on many threads check and record host keys through it
/// at once; a lock makes each check-and-record atomic within the process.
///
/// Entries are parsed by libssh2 one line at a time, so plain (`host`, `[host]:port`, comma
/// lists) and hashed (`|1|salt|hash`) entries from a user's `~/.ssh/known_hosts` match, lines
/// libssh2 cannot parse (certificate authorities, security-key types) are skipped rather than
/// failing the whole file, and `@revoked` keys are refused. New keys are appended as one line
/// (`host` for port 22, `[host]:port` otherwise); the rest of the file is never rewritten.
public final class KnownHosts: Sendable {
    /// The file's path.
    public let path: String
    private let lock = Mutex<Void>(())

    private static let registry = Mutex<[String: KnownHosts]>([:])

    /// A known_hosts file at `path`. It need not exist: it (and its folder) are created, with
    /// modes 0600 (0700), when the first key is recorded. Prefer `shared(path:)` so that every
    /// session writing the same file shares one lock.
    public init(path: String) {
        self.path = path
    }

    /// The one `KnownHosts` of this process for `path`.
    public static func shared(path: String) -> KnownHosts {
        let key = URL(fileURLWithPath: path).standardizedFileURL.path
        return registry.withLock { known in
            if let existing = known[key] { return existing }
            let created = KnownHosts(path: key)
            known[key] = created
            return created
        }
    }

    /// `~/.ssh/known_hosts` of the user running kryoform.
    public static func userDefault() -> KnownHosts {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return shared(path: URL(fileURLWithPath: home).appendingPathComponent(".ssh/known_hosts").path)
    }

    /// The name a host is filed under: `host` for port 22, `[host]:port` for other ports, in
    /// lower case as OpenSSH writes it.
    public static func entryName(host: String, port: Int) -> String {
        let lower = host.lowercased()
        return port == 22 ? lower : "[\(lower)]:\(port)"
    }

    /// The outcome of checking a presented host key.
    enum Verdict: Equatable {
        /// The key is recorded for this host.
        case known
        /// The host was unknown and its key has now been recorded.
        case recorded
        /// The host has no key of this type on record (nothing was recorded).
        case unknown
        /// The host has a different key of this type on record.
        case changed(recordedFingerprint: String)
        /// The key is marked `@revoked`.
        case revoked
    }

    /// Checks `key` (a raw public key blob of `type`) for `target`, and when it is unknown and
    /// `recordIfUnknown` is set, appends it, all under the lock. `session` is the caller's
    /// libssh2 session (used only for memory allocation), on the caller's thread.
    func verify(key: [UInt8], type: SSHHostKeyType, target: SSHTarget, recordIfUnknown: Bool,
                session: OpaquePointer) throws(SSHError) -> Verdict {
        let name = Self.entryName(host: target.host, port: target.port)
        return try lock.withLock { _ throws(SSHError) -> Verdict in
            let parsed = try load(target: target, session: session)
            defer { libssh2_knownhost_free(parsed.collection) }
            if parsed.revokedKeys.contains(Data(key).base64EncodedString()) { return .revoked }
            var entry: UnsafeMutablePointer<libssh2_knownhost>?
            let result = key.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    libssh2_knownhost_checkp(parsed.collection, name, -1, chars.baseAddress, chars.count,
                                             LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | type.knownHostMask, &entry)
                }
            }
            switch result {
            case LIBSSH2_KNOWNHOST_CHECK_MATCH:
                return .known
            case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
                var recorded = "(unreadable)"
                if let keyText = entry?.pointee.key, let blob = Data(base64Encoded: String(cString: keyText)) {
                    recorded = SSHDigest.fingerprint(ofKeyBlob: [UInt8](blob))
                }
                return .changed(recordedFingerprint: recorded)
            case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
                guard recordIfUnknown else { return .unknown }
                try append("\(name) \(type.name) \(Data(key).base64EncodedString())\n", target: target)
                return .recorded
            default:
                throw SSHError(.knownHosts, target, "libssh2 could not check the host key against \(path); "
                               + "check that the file is an OpenSSH known_hosts file")
            }
        }
    }

    /// Checks `key` for `target` without recording anything, using a libssh2 session of its
    /// own (for tools and tests; connecting sessions use `verify`).
    func check(key: [UInt8], type: SSHHostKeyType, target: SSHTarget) throws(SSHError) -> Verdict {
        guard SSHLibrary.initResult == 0, let session = libssh2_session_init_ex(nil, nil, nil, nil) else {
            throw SSHError(.knownHosts, target, "libssh2 could not allocate a session")
        }
        defer { libssh2_session_free(session) }
        return try verify(key: key, type: type, target: target, recordIfUnknown: false, session: session)
    }

    /// The host key types on record for `target`, so the handshake can ask for one of them.
    func recordedKeyTypes(for target: SSHTarget, session: OpaquePointer) -> [SSHHostKeyType] {
        let name = Self.entryName(host: target.host, port: target.port)
        return lock.withLock { _ -> [SSHHostKeyType] in
            guard let parsed = try? load(target: target, session: session) else { return [] }
            defer { libssh2_knownhost_free(parsed.collection) }
            // A deliberately wrong key: "mismatch" means the host has a key of that type on record.
            let probe: [CChar] = [0]
            return SSHHostKeyType.all.filter { type in
                libssh2_knownhost_checkp(parsed.collection, name, -1, probe, probe.count,
                                         LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | type.knownHostMask, nil)
                    == LIBSSH2_KNOWNHOST_CHECK_MISMATCH
            }
        }
    }

    /// Makes `keyLines` (`ssh-ed25519 AAAA…` public key lines) the only keys on record for
    /// `host`:`port`: every entry naming it (plain or hashed) is dropped and the keys appended.
    /// For a node kryoform just made with a host key of its own: whatever was recorded for its
    /// address belonged to an earlier machine. With no lines, only drops (a node deleted).
    public func replace(host: String, port: Int, with keyLines: [String]) throws {
        let name = Self.entryName(host: host, port: port)
        let target = SSHTarget(host: host, port: port, user: "")
        try lock.withLock { _ throws(SSHError) in
            try rewrite(target: target) { lines in
                lines.removeAll { Self.entry($0, names: name) }
                for key in keyLines {
                    let fields = key.split(separator: " ")
                    if fields.count >= 2 { lines.append("\(name) \(fields[0]) \(fields[1])") }
                }
            }
        }
    }

    /// Whether a known_hosts line's host field names `name`: one of its comma-separated
    /// patterns is `name`, or it is a hashed entry (`|1|salt|hash`) of `name`.
    static func entry(_ line: String, names name: String) -> Bool {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        guard let field = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).first, !field.hasPrefix("#"), !field.hasPrefix("@") else {
            return false
        }
        if field.hasPrefix("|1|") {
            let parts = field.dropFirst(3).split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 2, let salt = Data(base64Encoded: String(parts[0])), let hash = Data(base64Encoded: String(parts[1])) else { return false }
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))
            return Data(mac) == hash
        }
        return field.split(separator: ",").contains { $0.lowercased() == name }
    }

    /// Reads the file, lets `change` edit its lines, and writes it back in place, under the
    /// file lock other processes take; the file (0600) and its folder (0700) are made when missing.
    private func rewrite(target: SSHTarget, _ change: (inout [String]) -> Void) throws(SSHError) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw SSHError(.knownHosts, target, "cannot create the folder \(folder) for known_hosts: \(error.localizedDescription)")
            }
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            throw SSHError(.knownHosts, target, "cannot open \(path) to record host keys (\(systemErrorText(code))); check its owner and permissions")
        }
        defer { close(descriptor) }
        _ = flock(descriptor, LOCK_EX)
        defer { _ = flock(descriptor, LOCK_UN) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(bytes.count)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let before = lines
        change(&lines)
        guard lines != before else { return }
        let text = Array(lines.map { $0 + "\n" }.joined().utf8)
        guard ftruncate(descriptor, 0) == 0 else {
            let code = errno
            throw SSHError(.knownHosts, target, "cannot rewrite \(path) (\(systemErrorText(code)))")
        }
        var written = 0
        while written < text.count {
            let count = text[written...].withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(written)) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw SSHError(.knownHosts, target, "cannot rewrite \(path) (\(systemErrorText(code)))")
            }
            written += count
        }
    }

    private struct Parsed {
        var collection: OpaquePointer
        var revokedKeys: Set<String>
    }

    /// Reads the file into a new libssh2 collection; the caller frees it.
    private func load(target: SSHTarget, session: OpaquePointer) throws(SSHError) -> Parsed {
        var text = ""
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SSHError(.knownHosts, target, "cannot read \(path); check its owner and permissions")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        guard let collection = libssh2_knownhost_init(session) else {
            throw SSHError(.knownHosts, target, "libssh2 could not allocate a known_hosts collection")
        }
        var revoked: Set<String> = []
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            guard let first = line.first, first != "#" else { continue }
            if first == "@" {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if fields.count >= 4, fields[0] == "@revoked" { revoked.insert(String(fields[3])) }
                continue  // @cert-authority lines: certificates are not used
            }
            // libssh2 1.10 looks at the byte after the line (for a newline, to drop it from the key)
            // even when that is past `len`: hand it the line with its newline and a NUL after, or
            // it may read stray memory and truncate the key.
            let bytes = Array(line.utf8) + [UInt8(ascii: "\n"), 0]
            // Lines libssh2 cannot parse are skipped, as OpenSSH skips lines it does not understand.
            _ = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    libssh2_knownhost_readline(collection, chars.baseAddress, chars.count - 1, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
                }
            }
        }
        return Parsed(collection: collection, revokedKeys: revoked)
    }

    /// Appends `line`, creating the folder (0700) and file (0600) when missing.
    private func append(_ line: String, target: SSHTarget) throws(SSHError) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw SSHError(.knownHosts, target, "cannot create the folder \(folder) for known_hosts: \(error.localizedDescription)")
            }
        }
        let descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            throw SSHError(.knownHosts, target, "cannot write \(path) to record the host key (\(systemErrorText(code))); "
                           + "check its owner and permissions")
        }
        defer { close(descriptor) }
        // Other processes (ssh itself) may append too: take the file lock while writing.
        _ = flock(descriptor, LOCK_EX)
        defer { _ = flock(descriptor, LOCK_UN) }
        var bytes = Array(line.utf8)
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_size > 0 {
            var last: UInt8 = 0
            if pread(descriptor, &last, 1, status.st_size - 1) == 1, last != UInt8(ascii: "\n") {
                bytes.insert(UInt8(ascii: "\n"), at: 0)
            }
        }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SSHError(.knownHosts, target, "cannot write \(path) to record the host key (\(systemErrorText(code)))")
            }
            written += count
        }
    }
}
