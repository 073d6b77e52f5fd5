import Foundation

/// The files of a kryoform project, addressed by paths relative to the project root.
///
/// The loader never touches the disk itself: the command line passes a `LocalFileSystem`,
/// tests pass an `InMemoryFileSystem`.
public protocol SpecFileSystem: Sendable {
    /// The names (not paths) of the regular files directly inside `directory`; empty when it does not exist.
    func fileNames(in directory: String) throws -> [String]
    /// Whether a regular file exists at `path`.
    func fileExists(_ path: String) -> Bool
    /// The size of the file at `path` in bytes.
    func fileSize(_ path: String) throws -> Int
    /// The bytes of the file at `path`.
    func contents(of path: String) throws -> [UInt8]
}

/// A project on disk under `root`.
public struct LocalFileSystem: SpecFileSystem {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    private func url(_ path: String) -> URL {
        path.isEmpty ? root : root.appendingPathComponent(path)
    }

    public func fileNames(in directory: String) throws -> [String] {
        let url = url(directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return []
        }
        return try FileManager.default.contentsOfDirectory(atPath: url.path).filter { name in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &isDir)
                && !isDir.boolValue
        }
    }

    public func fileExists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url(path).path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    public func fileSize(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: url(path).path)
        return (attributes[.size] as? NSNumber)?.intValue ?? 0
    }

    public func contents(of path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(path)))
    }
}

/// A project held in memory, for tests: a map from relative path to file contents.
public struct InMemoryFileSystem: SpecFileSystem {
    public var files: [String: [UInt8]]

    public init(files: [String: [UInt8]] = [:]) {
        self.files = files
    }

    public init(texts: [String: String]) {
        self.files = texts.mapValues { Array($0.utf8) }
    }

    public subscript(path: String) -> String? {
        get { files[path].map { String(decoding: $0, as: UTF8.self) } }
        set { files[path] = newValue.map { Array($0.utf8) } }
    }

    public func fileNames(in directory: String) throws -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        return files.keys.compactMap { path in
            guard path.hasPrefix(prefix) else { return nil }
            let rest = path.dropFirst(prefix.count)
            return rest.contains("/") ? nil : String(rest)
        }
    }

    public func fileExists(_ path: String) -> Bool { files[path] != nil }

    public func fileSize(_ path: String) throws -> Int {
        guard let bytes = files[path] else { throw CocoaError(.fileNoSuchFile) }
        return bytes.count
    }

    public func contents(of path: String) throws -> [UInt8] {
        guard let bytes = files[path] else { throw CocoaError(.fileNoSuchFile) }
        return bytes
    }
}
