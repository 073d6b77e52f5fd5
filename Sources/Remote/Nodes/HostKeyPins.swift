import Foundation
import Synchronization

/// The public host keys kryoform gave nodes it is making, by node address, until the node's
/// address is known and the keys are moved to known_hosts. Written before the create is sent,
/// so a run stopped between the create and the first connection still knows what the node must
/// present. One file per environment, `ADDRESS KEY-LINE` per line; a node created more than
/// once (its create sent again after a lost answer) has one line per key it may hold.
public final class HostKeyPins: Sendable {
    public let path: String
    private let lock = Mutex<Void>(())

    public init(path: String) {
        self.path = path
    }

    /// The keys pinned for `address`.
    public func keys(for address: String) -> [String] {
        lock.withLock { _ in read().filter { $0.address == address }.map(\.key) }
    }

    /// Pins `key` for `address`, durably, before the node that will hold it is asked for.
    public func add(_ key: String, for address: String) throws {
        try lock.withLock { _ in
            var pins = read()
            pins.append((address, key))
            try write(pins)
        }
    }

    /// Forgets the keys of `address` (they are in known_hosts now, or the node is gone).
    public func remove(_ address: String) throws {
        try lock.withLock { _ in
            let pins = read()
            let kept = pins.filter { $0.address != address }
            if kept.count != pins.count { try write(kept) }
        }
    }

    private func read() -> [(address: String, key: String)] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2 else { return nil }
            return (String(fields[0]), String(fields[1]))
        }
    }

    private func write(_ pins: [(address: String, key: String)]) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let text = pins.map { "\($0.address) \($0.key)\n" }.joined()
        try Data(text.utf8).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }
}
