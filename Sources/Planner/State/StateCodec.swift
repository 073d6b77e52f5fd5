import Crypto
import Foundation

/// How every backend turns a state, a journal record and a history entry's state into bytes and
/// back: JSON, sealed with AES-256-GCM when `state.encryption` is set.
///
/// A sealed value is one line: `kf-sealed-1 HEADER BODY`. HEADER is clear JSON (what it is,
/// lineage, serial, the id of the key), so a backend and a reader can compare serials without
/// the key; it is the associated data of the seal, so changing it (an old state relabelled as a
/// newer serial) makes the value fail to open. BODY is base64 of nonce, ciphertext and tag.
/// A value that does not open is one clear error naming the key ids, never garbage.
public struct StateCodec: Sendable {
    public static let plain = StateCodec(cipher: nil)

    public let cipher: StateCipher?

    public init(cipher: StateCipher?) { self.cipher = cipher }

    static let marker = Data("kf-sealed-1 ".utf8)

    /// What a sealed value's header says, in the clear.
    public struct Header: Codable, Equatable, Sendable {
        /// `state`, `record` or `history`.
        public var kind: String
        public var lineage: String
        public var serial: Int
        /// The first 8 bytes of a hash of the key, in hex: which key sealed it.
        public var key: String

        public init(kind: String, lineage: String, serial: Int, key: String) {
            self.kind = kind
            self.lineage = lineage
            self.serial = serial
            self.key = key
        }
    }

    /// Why a value cannot be read, in one line.
    public struct Unreadable: Error, Sendable {
        public var problem: String
    }

    // MARK: Values

    public func encode(_ state: State, kind: String = "state") throws -> Data {
        let data = try (cipher == nil ? LocalStateStore.encoder : LocalStateStore.journalEncoder).encode(state)
        return try seal(data, kind: kind, lineage: state.lineage, serial: state.serial)
    }

    public func decodeState(_ data: Data) throws -> State {
        let state = try LocalStateStore.decoder.decode(State.self, from: try open(data, expecting: nil))
        try check(data, against: state.lineage, state.serial)
        return state
    }

    /// One line (no newline in it).
    public func encode(_ record: StateJournalRecord) throws -> Data {
        try seal(try LocalStateStore.journalEncoder.encode(record), kind: "record", lineage: record.lineage, serial: record.serial)
    }

    public func decodeRecord(_ data: Data) throws -> StateJournalRecord {
        let record = try LocalStateStore.decoder.decode(StateJournalRecord.self, from: try open(data, expecting: nil))
        try check(data, against: record.lineage, record.serial)
        return record
    }

    /// The clear header of a sealed value; nil for a plain one.
    public static func header(of data: Data) -> Header? {
        guard data.starts(with: marker) else { return nil }
        let rest = data.dropFirst(marker.count)
        guard let space = rest.firstIndex(of: 0x20) else { return nil }
        return try? JSONDecoder().decode(Header.self, from: rest[rest.startIndex..<space])
    }

    // MARK: Sealing

    private func seal(_ plain: Data, kind: String, lineage: String, serial: Int) throws -> Data {
        guard let cipher else { return plain }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = try encoder.encode(Header(kind: kind, lineage: lineage, serial: serial, key: cipher.keyID))
        let box = try AES.GCM.seal(plain, using: cipher.key, authenticating: header)
        guard let combined = box.combined else { throw Unreadable(problem: "AES-GCM gave no sealed box") }
        return Self.marker + header + Data(" ".utf8) + Data(combined.base64EncodedString().utf8)
    }

    private func open(_ data: Data, expecting: String?) throws -> Data {
        guard data.starts(with: Self.marker) else { return data }
        let rest = data.dropFirst(Self.marker.count)
        guard let space = rest.firstIndex(of: 0x20) else { throw Unreadable(problem: "it starts as an encrypted state and has no body") }
        let headerBytes = Data(rest[rest.startIndex..<space])
        guard let header = try? JSONDecoder().decode(Header.self, from: headerBytes) else {
            throw Unreadable(problem: "its encryption header is not readable")
        }
        guard let cipher else {
            throw Unreadable(problem: "it is encrypted (key id \(header.key)), and kryoform.yaml sets no state.encryption.key; "
                             + "add state.encryption: {key: env:KRYOFORM_STATE_KEY} with the key it was written with")
        }
        guard let key = cipher.key(id: header.key) else {
            throw Unreadable(problem: "it was encrypted with key id \(header.key), and state.encryption has key id \(cipher.keyID)"
                             + (cipher.fallbackID.map { " and fallback_key id \($0)" } ?? " and no fallback_key")
                             + "; set fallback_key to the key it was written with (during a rotation, the old key)")
        }
        guard let body = Data(base64Encoded: Data(rest[rest.index(after: space)...])),
              let box = try? AES.GCM.SealedBox(combined: body),
              let plain = try? AES.GCM.open(box, using: key, authenticating: headerBytes) else {
            throw Unreadable(problem: "it does not decrypt with key id \(header.key): it was altered after it was written "
                             + "(its header, lineage \(header.lineage) serial \(header.serial), or its body); restore it from the history or a copy")
        }
        return plain
    }

    /// A sealed value's header must name what the value holds.
    private func check(_ data: Data, against lineage: String, _ serial: Int) throws {
        guard let header = Self.header(of: data) else { return }
        guard header.lineage == lineage, header.serial == serial else {
            throw Unreadable(problem: "its header says lineage \(header.lineage) serial \(header.serial), and it holds lineage \(lineage) serial \(serial)")
        }
    }
}

/// The keys of `state.encryption`: AES-256 keys derived with HKDF-SHA256 from the secrets the
/// references name. A secret must be random (`openssl rand -base64 32`), not a password: HKDF
/// stretches nothing.
public struct StateCipher: Sendable {
    let key: SymmetricKey
    public let keyID: String
    let fallback: SymmetricKey?
    public let fallbackID: String?

    /// The shortest secret accepted, in characters.
    public static let minimumLength = 32

    public init(secret: String, fallback: String? = nil) throws {
        (key, keyID) = try Self.derive(secret, name: "state.encryption.key")
        if let fallback {
            let derived = try Self.derive(fallback, name: "state.encryption.fallback_key")
            self.fallback = derived.key
            self.fallbackID = derived.id
        } else {
            self.fallback = nil
            self.fallbackID = nil
        }
    }

    func key(id: String) -> SymmetricKey? {
        if id == keyID { return key }
        if id == fallbackID { return fallback }
        return nil
    }

    public struct WeakKey: Error, Sendable {
        public var message: String
    }

    static func derive(_ secret: String, name: String) throws -> (key: SymmetricKey, id: String) {
        guard secret.count >= minimumLength else {
            throw WeakKey(message: "\(name) names a secret of \(secret.count) characters; it must be at least \(minimumLength) characters of random "
                          + "(make one with: openssl rand -base64 32)")
        }
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)), salt: Data("kryoform state encryption".utf8),
                                         info: Data("aes-256-gcm v1".utf8), outputByteCount: 32)
        let id = key.withUnsafeBytes { bytes in SHA256.hash(data: Data("kryoform key id".utf8) + Data(bytes)) }
            .prefix(8).map { String(format: "%02x", $0) }.joined()
        return (key, id)
    }
}
