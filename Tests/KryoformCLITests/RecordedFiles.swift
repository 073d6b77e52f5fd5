import Foundation

/// The bytes of what a sandbox project has recorded: its state file and the sandbox's world.
/// A command that must change nothing leaves both byte for byte as they were.
struct RecordedFiles: Equatable {
    /// `.kryoform/state/local.json`; nil when there is none.
    var state: Data?
    /// `.kryoform/sandbox/cloud.json`, the emulated cloud; nil when there is none.
    var world: Data?
    /// The lock file; nil when the environment is not locked.
    var lock: Data?

    /// Which of the files differ from `other`, by name, for a failure message.
    func differences(from other: RecordedFiles) -> [String] {
        [("state", state == other.state), ("sandbox world", world == other.world), ("lock", lock == other.lock)]
            .filter { !$0.1 }.map(\.0)
    }
}

extension SandboxProject {
    /// What the state and the sandbox hold right now, byte for byte.
    func recordedFiles(environment: String = "local") -> RecordedFiles {
        func read(_ path: String) -> Data? { FileManager.default.contents(atPath: root.appendingPathComponent(path).path) }
        return RecordedFiles(state: read(".kryoform/state/\(environment).json"), world: read(".kryoform/sandbox/cloud.json"),
                             lock: read(".kryoform/state/\(environment).lock"))
    }
}
