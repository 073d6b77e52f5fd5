import Foundation
import Spec

/// Paths and file systems the spec tests read: the shipped repository and the broken-input corpus.
enum Fixtures {
    /// The package root, found from this file's path.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let corpus = packageRoot.appendingPathComponent("Tests/SpecTests/Corpus")

    /// Every regular file under `directory`, by path relative to it.
    static func files(under directory: URL) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        let base = directory.standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return [:] }
        for case let url as URL in enumerator {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                  let data = try? Data(contentsOf: url) else { continue }
            let path = String(url.standardizedFileURL.path.dropFirst(base.count + 1))
            files[path] = [UInt8](data)
        }
        return files
    }

    /// The project shipped at the repository root: kryoform.yaml, stacks/, environments/.
    static func shippedProject() -> InMemoryFileSystem {
        var files: [String: [UInt8]] = [:]
        if let project = try? Data(contentsOf: packageRoot.appendingPathComponent("kryoform.yaml")) {
            files["kryoform.yaml"] = [UInt8](project)
        }
        for directory in ["stacks", "environments"] {
            for (path, bytes) in Self.files(under: packageRoot.appendingPathComponent(directory)) {
                files["\(directory)/\(path)"] = bytes
            }
        }
        return InMemoryFileSystem(files: files)
    }

    /// The small valid project the corpus cases change.
    static func corpusBase() -> InMemoryFileSystem {
        InMemoryFileSystem(files: files(under: corpus.appendingPathComponent("base")))
    }
}

extension Diagnostic {
    /// `file:line:col: severity: message`, the form the corpus expects.
    var line: String { "\(location): \(severity.rawValue): \(message)" }
}
