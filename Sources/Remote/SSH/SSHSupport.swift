import CLibSSH2
import Foundation

/// Process-wide libssh2 initialisation, done once before the first session.
enum SSHLibrary {
    /// The result of `libssh2_init(0)`; Swift runs this initializer exactly once, thread-safely.
    static let initResult: Int32 = libssh2_init(0)

    /// The libssh2 version string at run time, e.g. "1.10.0".
    static var version: String {
        guard let text = libssh2_version(0) else { return "unknown" }
        return String(cString: text)
    }
}

/// A point in time an operation must finish by, on the monotonic clock.
struct SSHDeadline {
    let instant: ContinuousClock.Instant

    init(after duration: Duration) {
        instant = ContinuousClock.now.advanced(by: duration)
    }

    var hasPassed: Bool { ContinuousClock.now >= instant }

    /// Milliseconds left, at least 0 and at most `cap`.
    func remainingMilliseconds(cap: Int32 = Int32.max) -> Int32 {
        let left = ContinuousClock.now.duration(to: instant)
        if left <= .zero { return 0 }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: min(Int64(cap), milliseconds))
    }
}

extension Duration {
    /// The duration in seconds, for messages (`1.5s`, `600s`).
    var secondsText: String {
        let (seconds, attoseconds) = components
        let tenths = attoseconds / 100_000_000_000_000_000
        return tenths == 0 ? "\(seconds)s" : "\(seconds).\(tenths)s"
    }

    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// The text of the C `errno` value `code`.
func systemErrorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
}

/// A command shortened for messages: its first line's first words.
func commandSummary(_ command: String) -> String {
    let firstLine = command.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? ""
    let words = firstLine.split(separator: " ", omittingEmptySubsequences: true)
    var summary = words.prefix(4).joined(separator: " ")
    if summary.count > 60 { summary = String(summary.prefix(57)) + "..." }
    if words.count > 4 || command.contains("\n") { summary += " ..." }
    return "'\(summary)'"
}

/// SHA-256, for fingerprints of keys read from known_hosts (libssh2 only hashes the key the
/// server presents, and Foundation on Linux has no digest API).
enum SSHDigest {
    private static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// The SHA-256 digest of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var message = bytes
        let bitLength = UInt64(bytes.count) &* 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }

        var words = [UInt32](repeating: 0, count: 64)
        for blockStart in stride(from: 0, to: message.count, by: 64) {
            for index in 0..<16 {
                let offset = blockStart + index * 4
                words[index] = UInt32(message[offset]) << 24 | UInt32(message[offset + 1]) << 16
                    | UInt32(message[offset + 2]) << 8 | UInt32(message[offset + 3])
            }
            for index in 16..<64 {
                let s0 = rotateRight(words[index - 15], 7) ^ rotateRight(words[index - 15], 18) ^ (words[index - 15] >> 3)
                let s1 = rotateRight(words[index - 2], 17) ^ rotateRight(words[index - 2], 19) ^ (words[index - 2] >> 10)
                words[index] = words[index - 16] &+ s0 &+ words[index - 7] &+ s1
            }
            var a = state[0], b = state[1], c = state[2], d = state[3]
            var e = state[4], f = state[5], g = state[6], h = state[7]
            for index in 0..<64 {
                let sum1 = rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25)
                let choice = (e & f) ^ (~e & g)
                let temp1 = h &+ sum1 &+ choice &+ roundConstants[index] &+ words[index]
                let sum0 = rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22)
                let majority = (a & b) ^ (a & c) ^ (b & c)
                let temp2 = sum0 &+ majority
                h = g; g = f; f = e; e = d &+ temp1
                d = c; c = b; b = a; a = temp1 &+ temp2
            }
            state[0] = state[0] &+ a; state[1] = state[1] &+ b; state[2] = state[2] &+ c; state[3] = state[3] &+ d
            state[4] = state[4] &+ e; state[5] = state[5] &+ f; state[6] = state[6] &+ g; state[7] = state[7] &+ h
        }
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - $0 * 8)) } }
    }

    private static func rotateRight(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value >> count) | (value << (32 - count))
    }

    /// An OpenSSH-style fingerprint, `SHA256:` and the unpadded base64 of the digest.
    static func fingerprint(ofDigest digest: [UInt8]) -> String {
        let base64 = Data(digest).base64EncodedString()
        return "SHA256:" + base64.replacingOccurrences(of: "=", with: "")
    }

    /// The OpenSSH-style fingerprint of a public key blob.
    static func fingerprint(ofKeyBlob blob: [UInt8]) -> String {
        fingerprint(ofDigest: sha256(blob))
    }
}

/// Host key algorithms libssh2 1.10 knows, with their known_hosts names.
struct SSHHostKeyType: Equatable {
    /// `LIBSSH2_HOSTKEY_TYPE_*`
    let libssh2Type: Int32
    /// The name in known_hosts and in the SSH protocol, e.g. `ssh-ed25519`.
    let name: String
    /// `LIBSSH2_KNOWNHOST_KEY_*`
    let knownHostMask: Int32

    static let all: [SSHHostKeyType] = [
        SSHHostKeyType(libssh2Type: 6, name: "ssh-ed25519", knownHostMask: 7 << 18),
        SSHHostKeyType(libssh2Type: 3, name: "ecdsa-sha2-nistp256", knownHostMask: 4 << 18),
        SSHHostKeyType(libssh2Type: 4, name: "ecdsa-sha2-nistp384", knownHostMask: 5 << 18),
        SSHHostKeyType(libssh2Type: 5, name: "ecdsa-sha2-nistp521", knownHostMask: 6 << 18),
        SSHHostKeyType(libssh2Type: 1, name: "ssh-rsa", knownHostMask: 2 << 18),
        SSHHostKeyType(libssh2Type: 2, name: "ssh-dss", knownHostMask: 3 << 18),
    ]

    static func forLibssh2Type(_ type: Int32) -> SSHHostKeyType? {
        all.first { $0.libssh2Type == type }
    }
}
