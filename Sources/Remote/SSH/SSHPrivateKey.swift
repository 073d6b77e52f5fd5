import Foundation

/// What kryoform can tell about a private key file without decrypting it: that it is there and
/// readable, and which algorithm it is for.
struct SSHPrivateKeyInfo: Equatable {
    enum Algorithm: Equatable {
        case rsa, ed25519, ecdsa, dsa
        case other(String)
        case unknown
    }

    var algorithm: Algorithm

    var isRSA: Bool { algorithm == .rsa }

    /// Reads the key file (and its public key file, if there is one) and works out the algorithm.
    /// Throws an `.identityFile` error naming the path when the key cannot be read.
    static func inspect(privateKeyPath: String, publicKeyPath: String?, target: SSHTarget) throws(SSHError) -> SSHPrivateKeyInfo {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: privateKeyPath, isDirectory: &isDirectory) else {
            throw SSHError(.identityFile, target,
                           "the private key file \(privateKeyPath) does not exist; create a key with "
                           + "`ssh-keygen -t ed25519 -f \(privateKeyPath)` or point kryoform at an existing one")
        }
        if isDirectory.boolValue {
            throw SSHError(.identityFile, target, "the private key path \(privateKeyPath) is a folder, not a key file")
        }
        let contents: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: privateKeyPath))
            defer { try? handle.close() }
            contents = try handle.read(upToCount: 1 << 20) ?? Data()
        } catch {
            throw SSHError(.identityFile, target,
                           "cannot read the private key file \(privateKeyPath) (\(errnoText(of: error))); check its owner and permissions")
        }
        var algorithm = algorithmOfPrivateKey(String(decoding: contents, as: UTF8.self))
        if algorithm == .unknown {
            let publicPath = publicKeyPath ?? privateKeyPath + ".pub"
            if let data = FileManager.default.contents(atPath: publicPath) {
                algorithm = algorithmOfPublicKeyLine(String(decoding: data, as: UTF8.self))
            }
        }
        return SSHPrivateKeyInfo(algorithm: algorithm)
    }

    private static func errnoText(of error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return systemErrorText(Int32(underlying.code))
        }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoPermissionError {
            return "permission denied"
        }
        return nsError.localizedDescription
    }

    /// The algorithm from a PEM or OpenSSH private key's text.
    static func algorithmOfPrivateKey(_ text: String) -> Algorithm {
        if text.contains("-----BEGIN RSA PRIVATE KEY-----") { return .rsa }
        if text.contains("-----BEGIN DSA PRIVATE KEY-----") { return .dsa }
        if text.contains("-----BEGIN EC PRIVATE KEY-----") { return .ecdsa }
        let begin = "-----BEGIN OPENSSH PRIVATE KEY-----"
        let end = "-----END OPENSSH PRIVATE KEY-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex) else {
            return .unknown
        }
        let body = text[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        guard let blob = Data(base64Encoded: String(body)) else { return .unknown }
        return algorithmOfOpenSSHKeyBlob([UInt8](blob))
    }

    /// The key type of an `openssh-key-v1` blob, read from its unencrypted public key part:
    /// magic, cipher name, KDF name, KDF options, key count, then the first public key.
    static func algorithmOfOpenSSHKeyBlob(_ blob: [UInt8]) -> Algorithm {
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard blob.count > magic.count, Array(blob[0..<magic.count]) == magic else { return .unknown }
        var reader = SSHWireReader(bytes: blob, offset: magic.count)
        guard reader.skipString(), reader.skipString(), reader.skipString(), let count = reader.readUInt32(), count >= 1,
              let publicKey = reader.readString() else { return .unknown }
        var keyReader = SSHWireReader(bytes: publicKey, offset: 0)
        guard let typeBytes = keyReader.readString() else { return .unknown }
        return algorithm(ofKeyTypeName: String(decoding: typeBytes, as: UTF8.self))
    }

    /// The algorithm from a `.pub` line (`ssh-ed25519 AAAA... comment`).
    static func algorithmOfPublicKeyLine(_ text: String) -> Algorithm {
        guard let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first else { return .unknown }
        return algorithm(ofKeyTypeName: String(first))
    }

    static func algorithm(ofKeyTypeName name: String) -> Algorithm {
        switch name {
        case "ssh-rsa", "rsa-sha2-256", "rsa-sha2-512": return .rsa
        case "ssh-ed25519": return .ed25519
        case "ssh-dss": return .dsa
        default: return name.hasPrefix("ecdsa-sha2-") ? .ecdsa : .other(name)
        }
    }
}

/// Reads SSH wire-format values (`uint32`, length-prefixed `string`).
struct SSHWireReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func readUInt32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        let value = UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
        offset += 4
        return value
    }

    mutating func readString() -> [UInt8]? {
        guard let length = readUInt32(), offset + Int(length) <= bytes.count else { return nil }
        let value = Array(bytes[offset..<offset + Int(length)])
        offset += Int(length)
        return value
    }

    mutating func skipString() -> Bool { readString() != nil }
}
