import Foundation

/// The bytes of everything a project keeps under `.kryoform/`: the state files and their
/// backups, locks, the sandbox's world, the SSH key pair. A command that must change nothing
/// leaves every one of them byte for byte as it was.
struct RecordedFiles: Equatable {
    /// Each regular file by its path under `.kryoform/` ("state/local.json", "sandbox/cloud.json").
    var files: [String: Data] = [:]

    /// The state of environment local.
    var state: Data? { files["state/local.json"] }
    /// The sandbox's emulated cloud: its snapshot and the log of changes after it.
    var world: Data? {
        guard files["sandbox/cloud.json"] != nil || files["sandbox/cloud.log"] != nil else { return nil }
        return (files["sandbox/cloud.json"] ?? Data()) + (files["sandbox/cloud.log"] ?? Data())
    }

    /// What is under `root/.kryoform` now.
    static func read(_ root: URL) -> RecordedFiles {
        let folder = root.appendingPathComponent(".kryoform").standardizedFileURL
        var files: [String: Data] = [:]
        let walk = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = walk?.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                  let data = FileManager.default.contents(atPath: url.path) else { continue }
            files[String(url.standardizedFileURL.path.dropFirst(folder.path.count + 1))] = data
        }
        return RecordedFiles(files: files)
    }

    /// The paths that differ from `other` (changed, made or removed), for a failure message.
    func differences(from other: RecordedFiles) -> [String] {
        Set(files.keys).union(other.files.keys).filter { files[$0] != other.files[$0] }.sorted()
    }
}

extension SandboxProject {
    /// What the project has recorded right now, byte for byte.
    func recordedFiles() -> RecordedFiles { RecordedFiles.read(root) }
}
