import Foundation
import Planner

/// The sandbox's world: every object it holds, for every project and environment, saved in
/// `.kryoform/sandbox/cloud.json` and the log of changes after it, `cloud.log`.
public struct SandboxCloud: Codable, Sendable {
    public var nextID = 1
    /// Creates received over the sandbox's life (for `fail-create=N`).
    public var createCount = 0
    /// Calls received (for `throttle=N`).
    public var requestCount = 0
    public private(set) var objects: [SandboxObject] = []
    /// The ids of objects added or changed, and removed, since the world was read: what the
    /// store appends to its log.
    private(set) var changed: Set<String> = []
    private(set) var removed: Set<String> = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case nextID = "next_id", createCount = "create_count", requestCount = "request_count", objects
    }

    public func objects(tagged tags: [String]) -> [SandboxObject] {
        objects.filter { object in tags.allSatisfy(object.tags.contains) }
    }

    public func index(of id: String) -> Int? {
        objects.firstIndex { $0.id == id }
    }

    public mutating func append(_ object: SandboxObject) {
        objects.append(object)
        changed.insert(object.id)
        removed.remove(object.id)
    }

    /// Changes the object at `index` in place.
    public mutating func modify(at index: Int, _ change: (inout SandboxObject) throws -> Void) rethrows {
        try change(&objects[index])
        changed.insert(objects[index].id)
    }

    public mutating func remove(at index: Int) {
        let id = objects.remove(at: index).id
        changed.remove(id)
        removed.insert(id)
    }

    public mutating func removeAll(where shouldRemove: (SandboxObject) -> Bool) {
        for index in objects.indices.reversed() where shouldRemove(objects[index]) { remove(at: index) }
    }

    /// The changes since the world was read, as one log entry; nil when there are none.
    func pendingEntry(since read: Counters) -> SandboxLogEntry? {
        guard !changed.isEmpty || !removed.isEmpty || counters != read else { return nil }
        let changedObjects = objects.filter { changed.contains($0.id) }
        return SandboxLogEntry(counters: counters, put: changedObjects, delete: removed.sorted())
    }

    /// Forgets what changed: it has been saved.
    mutating func markSaved() {
        changed = []
        removed = []
    }

    /// Applies one entry of the log: counters as they were after it, objects put and deleted by id.
    mutating func replay(_ entry: SandboxLogEntry) {
        counters = entry.counters
        if !entry.delete.isEmpty {
            let gone = Set(entry.delete)
            objects.removeAll { gone.contains($0.id) }
        }
        guard !entry.put.isEmpty else { return }
        var positions: [String: Int] = [:]
        for (position, object) in objects.enumerated() { positions[object.id] = position }
        for object in entry.put {
            if let position = positions[object.id] {
                objects[position] = object
            } else {
                positions[object.id] = objects.count
                objects.append(object)
            }
        }
    }

    struct Counters: Codable, Hashable, Sendable {
        var nextID: Int
        var createCount: Int
        var requestCount: Int

        enum CodingKeys: String, CodingKey {
            case nextID = "next_id", createCount = "create_count", requestCount = "request_count"
        }
    }

    var counters: Counters {
        get { Counters(nextID: nextID, createCount: createCount, requestCount: requestCount) }
        set {
            nextID = newValue.nextID
            createCount = newValue.createCount
            requestCount = newValue.requestCount
        }
    }
}

/// One line of `cloud.log`: what one call changed. Entries are absolute (an object as it is
/// after the call, counters as they are), so replaying a log onto a snapshot that already has
/// some of it gives the same world.
struct SandboxLogEntry: Codable, Sendable {
    var counters: SandboxCloud.Counters
    var put: [SandboxObject]
    var delete: [String]
}

/// One object of the sandbox: a network, firewall, key, node, volume, swarm or stack deployment.
public struct SandboxObject: Codable, Sendable, Hashable {
    public var id: String
    public var kind: ResourceKind
    public var tags: [String]
    public var attributes: Attributes
    public var details: [String: String]
    public var createdAt: Date
    /// Until then a node is `new` (or `resizing`); after, `active`.
    public var readyAt: Date
    /// For a node, its network; for a volume, the node it is attached to.
    public var parentID: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, tags, attributes, details, createdAt = "created_at", readyAt = "ready_at", parentID = "parent_id"
    }

    public func isReady(at now: Date) -> Bool { readyAt <= now }

    public func observed(at now: Date) -> ObservedResource? {
        guard let address = ResourceTags.address(in: tags) else { return nil }
        var details = self.details
        details["status"] = isReady(at: now) ? "active" : "new"
        return ObservedResource(address: address, kind: kind, providerID: id, status: isReady(at: now) ? .ready : .pending,
                                attributes: attributes, details: details)
    }
}

/// Reads and writes the sandbox's world under an exclusive file lock, so several kryoform
/// processes share one sandbox safely. A call's changes are appended to `cloud.log`, and the
/// log is folded into `cloud.json` once it outgrows it, so a call costs what it changes, not
/// the size of the world; each process keeps the world it last read and reads only the log's
/// lines added since (by itself or by another process).
public struct SandboxStore: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public var file: URL { directory.appendingPathComponent("cloud.json") }
    public var logFile: URL { directory.appendingPathComponent("cloud.log") }

    /// Runs `body` on the world under the lock; saves what it changed when `body` returns normally.
    public func transaction<T>(saving: Bool = true, _ body: (inout SandboxCloud) throws -> T) throws -> T {
        // A read of a sandbox never made sees an empty world and writes nothing (plan is read-only).
        if !saving && !FileManager.default.fileExists(atPath: directory.path) {
            var empty = SandboxCloud()
            return try body(&empty)
        }
        try AtomicFile.ensureDirectory(directory)
        let lockPath = directory.appendingPathComponent("cloud.lock").path
        let descriptor = open(lockPath, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else { throw ProviderError(.unavailable, "sandbox: cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw ProviderError(.unavailable, "sandbox: cannot lock \(lockPath)") }
        defer { flock(descriptor, LOCK_UN) }
        var loaded = try load()
        let counters = loaded.cloud.counters
        var cloud = loaded.cloud
        let result = try body(&cloud)
        guard saving, let entry = cloud.pendingEntry(since: counters) else { return result }
        cloud.markSaved()
        loaded.cloud = cloud
        try save(entry, world: &loaded)
        return result
    }

    /// The world as saved, for inspection.
    public func read() throws -> SandboxCloud {
        try transaction(saving: false) { $0 }
    }

    /// The world this process read last, with where in the files it was read.
    struct Loaded {
        var cloud: SandboxCloud
        /// `cloud.json` as it was when read.
        var snapshot: FileIdentity?
        /// How much of `cloud.log` is in `cloud`.
        var logOffset: Int
    }

    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int
        var modified: Int

        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int(info.st_size)
            modified = Int(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int(info.st_mtim.tv_nsec)
        }
    }

    /// The world now: the cached one with the log's new lines, or read afresh when another
    /// process folded the log into a new snapshot.
    private func load() throws -> Loaded {
        let snapshot = FileIdentity(file.path)
        let logSize = FileIdentity(logFile.path)?.size ?? 0
        if var cached = SandboxWorlds.shared.world(for: file.path), cached.snapshot == snapshot, logSize >= cached.logOffset {
            if logSize > cached.logOffset { try readLog(from: cached.logOffset, into: &cached) }
            SandboxWorlds.shared.keep(cached, for: file.path)
            return cached
        }
        var cloud = SandboxCloud()
        if let data = FileManager.default.contents(atPath: file.path), !data.isEmpty {
            do { cloud = try Self.decoder.decode(SandboxCloud.self, from: data) } catch {
                throw ProviderError(.unavailable, "sandbox: \(file.path) is unreadable (\(error.localizedDescription))",
                                    fix: "delete \(directory.path) to start an empty sandbox")
            }
        }
        var loaded = Loaded(cloud: cloud, snapshot: snapshot, logOffset: 0)
        if logSize > 0 { try readLog(from: 0, into: &loaded) }
        SandboxWorlds.shared.keep(loaded, for: file.path)
        return loaded
    }

    /// Replays the log's complete lines from `offset`. A last line with no end was cut short by
    /// a crash: its call never returned, so it is left out (and cut off before the next append).
    private func readLog(from offset: Int, into loaded: inout Loaded) throws {
        guard let handle = FileHandle(forReadingAtPath: logFile.path) else { return }
        defer { try? handle.close() }
        let data: Data
        do {
            try handle.seek(toOffset: UInt64(offset))
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw ProviderError(.unavailable, "sandbox: cannot read \(logFile.path): \(error.localizedDescription)")
        }
        var start = data.startIndex
        while let end = data[start...].firstIndex(of: 0x0A) {
            do { loaded.cloud.replay(try Self.decoder.decode(SandboxLogEntry.self, from: data[start..<end])) } catch {
                throw ProviderError(.unavailable, "sandbox: \(logFile.path) is unreadable at byte \(offset + start - data.startIndex) (\(error.localizedDescription))",
                                    fix: "delete \(directory.path) to start an empty sandbox")
            }
            start = data.index(after: end)
        }
        loaded.cloud.markSaved()
        loaded.logOffset = offset + (start - data.startIndex)
    }

    /// Appends `entry` to the log, or folds the world into a new snapshot when the log has
    /// outgrown it.
    private func save(_ entry: SandboxLogEntry, world loaded: inout Loaded) throws {
        var line: Data
        do { line = try Self.encoder.encode(entry) } catch { throw ProviderError(.unavailable, "sandbox: cannot encode a change: \(error)") }
        line.append(0x0A)
        let snapshotSize = loaded.snapshot?.size ?? 0
        if loaded.logOffset + line.count > max(Self.logLimit, snapshotSize) {
            do { try AtomicFile.write(try Self.encoder.encode(loaded.cloud), to: file) } catch {
                throw ProviderError(.unavailable, "sandbox: cannot save \(file.path): \(error)")
            }
            // A crash here leaves a log that replays onto the new snapshot to the same world.
            guard truncate(logFile.path, 0) == 0 || errno == ENOENT else {
                throw ProviderError(.unavailable, "sandbox: cannot empty \(logFile.path): \(String(cString: strerror(errno)))")
            }
            loaded.snapshot = FileIdentity(file.path)
            loaded.logOffset = 0
            SandboxWorlds.shared.keep(loaded, for: file.path)
            return
        }
        let descriptor = open(logFile.path, O_CREAT | O_WRONLY, 0o644)
        guard descriptor >= 0 else { throw ProviderError(.unavailable, "sandbox: cannot open \(logFile.path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        // After the last complete line: a line a crash cut short is overwritten.
        let written = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(loaded.logOffset)) }
        guard written == line.count, ftruncate(descriptor, off_t(loaded.logOffset + line.count)) == 0 else {
            throw ProviderError(.unavailable, "sandbox: cannot append to \(logFile.path): \(String(cString: strerror(errno)))")
        }
        loaded.logOffset += line.count
        SandboxWorlds.shared.keep(loaded, for: file.path)
    }

    /// The log is folded into the snapshot when it grows past the snapshot's size, or this.
    static let logLimit = 256 * 1024

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()
}

/// The world each sandbox directory's store read last, in this process.
final class SandboxWorlds: @unchecked Sendable {
    static let shared = SandboxWorlds()
    private let lock = NSLock()
    private var worlds: [String: SandboxStore.Loaded] = [:]

    func world(for path: String) -> SandboxStore.Loaded? { lock.withLock { worlds[path] } }

    func keep(_ loaded: SandboxStore.Loaded, for path: String) { lock.withLock { worlds[path] = loaded } }

    /// Forgets every world: the next call reads the files, as a new process does.
    func forgetAll() { lock.withLock { worlds = [:] } }
}
