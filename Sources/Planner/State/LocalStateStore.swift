import Foundation

/// The embedded state backend: `.kryoform/state/<environment>.json`, locked by
/// `.kryoform/state/<environment>.lock` created exclusively. During an apply each completed step
/// is appended to `<environment>.journal` (one JSON line, fsynced) and the journal is folded
/// into the state file when the apply ends, or, after a crash, when the next apply starts;
/// reading the state always sees what the journal holds.
public struct LocalStateStore: StateStore {
    public let environment: String
    public let directory: URL
    /// JSON, or sealed with `state.encryption`'s key.
    public var codec: StateCodec = .plain

    public init(projectRoot: URL, environment: String) {
        self.environment = environment
        self.directory = projectRoot.appendingPathComponent(".kryoform/state", isDirectory: true)
    }

    public var stateFile: URL { directory.appendingPathComponent("\(environment).json") }
    public var lockFile: URL { directory.appendingPathComponent("\(environment).lock") }

    /// The state as it was before the last write, kept beside it.
    public var backupFile: URL { directory.appendingPathComponent("\(environment).json.backup") }

    /// The records of the apply under way, or of one that was killed, not yet in the state file.
    public var journalFile: URL { directory.appendingPathComponent("\(environment).journal") }

    /// The state file with its journal's records applied.
    public func read() throws -> State? {
        let base = try readFile()
        let records = try journal()
        guard !records.isEmpty else { return base }
        do { return try StateJournalRecord.replay(records, onto: base, stateName: "the state file \(stateFile.path)") } catch let mismatch as StateJournalRecord.Mismatch {
            throw StateLockError.unreadableJournal(file: journalFile.path, problem: mismatch.problem)
        }
    }

    /// The state file alone.
    private func readFile() throws -> State? {
        guard FileManager.default.fileExists(atPath: stateFile.path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: stateFile) } catch {
            throw StateLockError.io("cannot read the state file \(stateFile.path): \(error.localizedDescription)")
        }
        do { return try codec.decodeState(data) } catch {
            let backup = FileManager.default.fileExists(atPath: backupFile.path) ? backupFile.path : nil
            throw StateLockError.unreadableState(file: stateFile.path, problem: JSONProblem.describe(error, in: data), backup: backup)
        }
    }

    /// Copies the state there is to `<env>.json.backup`, then replaces it; both writes are
    /// atomic. The journal is emptied after: `state` was read with its records in it.
    public func write(_ state: State) throws {
        let data: Data
        do { data = try codec.encode(state) } catch { throw StateLockError.io("cannot encode the state: \(error)") }
        if let previous = FileManager.default.contents(atPath: stateFile.path), !previous.isEmpty {
            try AtomicFile.write(previous, to: backupFile)
        }
        try AtomicFile.write(data, to: stateFile)
        if unlink(journalFile.path) != 0 && errno != ENOENT {
            throw StateLockError.io("cannot remove the journal \(journalFile.path), now in \(stateFile.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Appends `record` as one line and waits for it to reach the disk.
    public func append(_ record: StateJournalRecord, state: () -> State) throws {
        var line: Data
        do { line = try codec.encode(record) } catch { throw StateLockError.io("cannot encode a journal record: \(error)") }
        line.append(0x0A)
        let created = !FileManager.default.fileExists(atPath: journalFile.path)
        let descriptor = open(journalFile.path, O_CREAT | O_WRONLY | O_APPEND, 0o600)
        guard descriptor >= 0 else { throw StateLockError.io("cannot open the journal \(journalFile.path): \(String(cString: strerror(errno)))") }
        let written = line.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == line.count, synced else {
            throw StateLockError.io("cannot append to the journal \(journalFile.path): \(String(cString: strerror(errno)))")
        }
        if created { AtomicFile.syncDirectory(directory) }
    }

    /// Writes the state with its journal applied, then removes the journal.
    public func compact() throws {
        guard FileManager.default.fileExists(atPath: journalFile.path) else { return }
        let records = try journal()
        guard !records.isEmpty, let state = try read() else {
            unlink(journalFile.path)
            return
        }
        try write(state)
    }

    /// The journal's records. A last line with no end is a write a crash cut short: it never
    /// completed, so it is left out; any other line that does not decode is an error.
    private func journal() throws -> [StateJournalRecord] {
        guard let data = FileManager.default.contents(atPath: journalFile.path), !data.isEmpty else { return [] }
        var records: [StateJournalRecord] = []
        var start = data.startIndex
        var line = 1
        while let end = data[start...].firstIndex(of: 0x0A) {
            let text = data[start..<end]
            do { records.append(try codec.decodeRecord(Data(text))) } catch {
                throw StateLockError.unreadableJournal(file: journalFile.path, problem: "line \(line): \(JSONProblem.describe(error, in: Data(text)))")
            }
            start = data.index(after: end)
            line += 1
        }
        return records
    }

    /// Writes the lock to a temporary file, then links it into place: the link fails if a lock
    /// exists, and a lock that exists always has its content (no empty-file window).
    public func lock(_ info: LockInfo) throws {
        try AtomicFile.ensureDirectory(directory)
        let temporary = directory.appendingPathComponent(".\(environment).lock.\(getpid()).\(UInt32.random(in: 0...UInt32.max))")
        do { try Self.encoder.encode(info).write(to: temporary) } catch {
            throw StateLockError.io("cannot write the lock \(temporary.path): \(error.localizedDescription)")
        }
        defer { unlink(temporary.path) }
        guard link(temporary.path, lockFile.path) == 0 else {
            if errno == EEXIST {
                if let holder = try currentLock() { throw StateLockError.held(environment: environment, by: holder) }
                return try lock(info) // released between the two calls
            }
            throw StateLockError.io("cannot create the lock \(lockFile.path): \(String(cString: strerror(errno)))")
        }
    }

    public func unlock(id: String) throws {
        guard let holder = try currentLock() else { return }
        guard holder.id == id else { throw StateLockError.held(environment: environment, by: holder) }
        unlink(lockFile.path)
        // A read-only command on a project with no state leaves nothing behind: the folders the
        // lock needed go again when they are empty (rmdir refuses a folder that is not).
        rmdir(directory.path)
        rmdir(directory.deletingLastPathComponent().path)
    }

    public func currentLock() throws -> LockInfo? {
        guard let data = FileManager.default.contents(atPath: lockFile.path) else { return nil }
        return holder(data)
    }

    /// Renames the lock aside (atomic: of two runs breaking it, one gets it), then removes it if
    /// it is `holder`'s, or puts it back if another run took the lock in between.
    public func breakLock(_ holder: LockInfo) throws -> Bool {
        let aside = directory.appendingPathComponent(".\(environment).lock.breaking.\(getpid()).\(UInt32.random(in: 0...UInt32.max))")
        guard rename(lockFile.path, aside.path) == 0 else {
            if errno == ENOENT { return false }
            throw StateLockError.io("cannot remove \(lockFile.path): \(String(cString: strerror(errno)))")
        }
        defer { unlink(aside.path) }
        guard let data = FileManager.default.contents(atPath: aside.path), self.holder(data).id == holder.id else {
            if link(aside.path, lockFile.path) != 0 && errno != EEXIST {
                throw StateLockError.io("cannot put back the lock \(lockFile.path): \(String(cString: strerror(errno)))")
            }
            return false
        }
        return true
    }

    /// The lock `data` describes. An empty file (a writer that died before writing, from before
    /// locks were linked into place) is held by a gone process; an unreadable one by an unknown
    /// host, so only `state unlock --force` removes it.
    private func holder(_ data: Data) -> LockInfo {
        if data.isEmpty {
            return LockInfo(operation: "unknown", owner: "unknown", pid: 0, started: Date(timeIntervalSince1970: 0), executable: nil, id: "empty")
        }
        if let info = try? Self.decoder.decode(LockInfo.self, from: data) { return info }
        return LockInfo(operation: "unknown", owner: "unknown", host: "unknown (the lock file \(lockFile.lastPathComponent) is unreadable)",
                        pid: 0, started: Date(timeIntervalSince1970: 0), executable: nil, id: "unreadable")
    }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    /// One record a line: no pretty printing.
    static let journalEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// Writes files so that a crash at any instant leaves the old content or the new, never a mix.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        try ensureDirectory(directory)
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let descriptor = open(temporary.path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        guard descriptor >= 0 else { throw StateLockError.io("cannot create \(temporary.path): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == data.count, synced else {
            unlink(temporary.path)
            throw StateLockError.io("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw StateLockError.io("cannot replace \(url.path): \(String(cString: strerror(errno)))")
        }
        syncDirectory(directory)
    }

    /// Makes a file created or renamed in `directory` survive a power loss.
    public static func syncDirectory(_ directory: URL) {
        let descriptor = open(directory.path, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }

    public static func ensureDirectory(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw StateLockError.io("cannot create \(url.path): \(error.localizedDescription)")
        }
    }
}
