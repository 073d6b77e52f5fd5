import Crypto
import Foundation

/// An Ed25519 SSH host key made by kryoform for a new cloud node: the private half in OpenSSH's
/// own format (what sshd reads from `/etc/ssh/ssh_host_ed25519_key`, and what cloud-init's
/// `ssh_keys.ed25519_private` takes), and the public line (`ssh-ed25519 AAAA… comment`).
///
/// The private half goes to the node in its user data and nowhere else: kryoform keeps only the
/// public line, to check the node's first answer against.
public struct HostKeyPair: Sendable {
    public let privateKeyText: String
    public let publicKeyLine: String

    /// A new key pair from the system's random source.
    public static func generate(comment: String) -> HostKeyPair {
        make(Curve25519.Signing.PrivateKey(), comment: comment)
    }

    static func make(_ key: Curve25519.Signing.PrivateKey, comment: String) -> HostKeyPair {
        let seed = [UInt8](key.rawRepresentation)
        let publicKey = [UInt8](key.publicKey.rawRepresentation)
        let publicBlob = SSHWire.string("ssh-ed25519") + SSHWire.string(publicKey)
        // openssh-key-v1, unencrypted: a check number twice, then the key, its comment, and
        // padding 1, 2, 3, … to a multiple of eight (the block size of cipher "none").
        let check = UInt32.random(in: 0...UInt32.max)
        var secret = SSHWire.uint32(check) + SSHWire.uint32(check)
        secret += SSHWire.string("ssh-ed25519") + SSHWire.string(publicKey) + SSHWire.string(seed + publicKey) + SSHWire.string(comment)
        var pad: UInt8 = 1
        while secret.count % 8 != 0 { secret.append(pad); pad += 1 }
        var body = Array("openssh-key-v1".utf8) + [0]
        body += SSHWire.string("none") + SSHWire.string("none") + SSHWire.string([UInt8]()) + SSHWire.uint32(1)
        body += SSHWire.string(publicBlob) + SSHWire.string(secret)
        let encoded = Data(body).base64EncodedString()
        var lines = ["-----BEGIN OPENSSH PRIVATE KEY-----"]
        var rest = Substring(encoded)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(70)))
            rest = rest.dropFirst(70)
        }
        lines.append("-----END OPENSSH PRIVATE KEY-----")
        let line = "ssh-ed25519 " + Data(publicBlob).base64EncodedString() + (comment.isEmpty ? "" : " \(comment)")
        return HostKeyPair(privateKeyText: lines.joined(separator: "\n") + "\n", publicKeyLine: line)
    }
}

/// SSH's wire encoding (RFC 4251): big-endian lengths before byte strings.
enum SSHWire {
    static func uint32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func string(_ bytes: [UInt8]) -> [UInt8] { uint32(UInt32(bytes.count)) + bytes }

    static func string(_ text: String) -> [UInt8] { string(Array(text.utf8)) }
}
