import Foundation

/// The official API descriptions in `../shared/provider-apis/`, found from a file of the
/// repository (tests pass `#filePath`) or from `KRYOFORM_SHARED`.
public enum ProviderDescriptions {
    public static let digitalOceanFile = "provider-apis/digitalocean/DigitalOcean-public.v2.bundled.json"

    /// The `shared` folder beside the repository that holds `start`: the first `../shared` above
    /// it that has `marker` in it (or `KRYOFORM_SHARED`).
    public static func sharedFolder(near start: String, holding marker: String = digitalOceanFile) -> URL? {
        if let configured = ProcessInfo.processInfo.environment["KRYOFORM_SHARED"], !configured.isEmpty {
            return URL(fileURLWithPath: configured, isDirectory: true)
        }
        var directory = URL(fileURLWithPath: start).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.deletingLastPathComponent().appendingPathComponent("shared", isDirectory: true)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent(marker).path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    private static let loaded = LoadedContract()

    /// DigitalOcean's description, parsed once per process.
    public static func digitalOcean(near start: String = #filePath) throws -> OpenAPIContract {
        try loaded.get {
            guard let shared = sharedFolder(near: start) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "cannot find ../shared/\(digitalOceanFile) beside the repository; set KRYOFORM_SHARED"])
            }
            return try OpenAPIContract(contentsOf: shared.appendingPathComponent(digitalOceanFile))
        }
    }
}

private final class LoadedContract: @unchecked Sendable {
    private let lock = NSLock()
    private var contract: OpenAPIContract?

    func get(_ load: () throws -> OpenAPIContract) throws -> OpenAPIContract {
        lock.lock()
        defer { lock.unlock() }
        if let contract { return contract }
        let made = try load()
        contract = made
        return made
    }
}
