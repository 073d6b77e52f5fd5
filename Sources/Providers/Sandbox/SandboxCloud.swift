import Foundation
import Planner

/// The sandbox's world: every object it holds, for every project and environment, saved in
/// `.kryoform/sandbox/cloud.json`.
public struct SandboxCloud: Codable, Sendable {
    public var nextID = 1
    /// Creates received over the sandbox's life (for `fail-create=N`).
    public var createCount = 0
    /// Calls received (for `throttle=N`).
    public var requestCount = 0
    public var objects: [SandboxObject] = []

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
/// processes share one sandbox safely.
public struct SandboxStore: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public var file: URL { directory.appendingPathComponent("cloud.json") }

    /// Runs `body` on the world under the lock; saves it afterwards when `body` returns normally.
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
        var cloud = SandboxCloud()
        if let data = FileManager.default.contents(atPath: file.path), !data.isEmpty {
            do { cloud = try Self.decoder.decode(SandboxCloud.self, from: data) } catch {
                throw ProviderError(.unavailable, "sandbox: \(file.path) is unreadable (\(error.localizedDescription))",
                                    fix: "delete .kryoform/sandbox to start an empty sandbox")
            }
        }
        let result = try body(&cloud)
        if saving {
            do { try AtomicFile.write(try Self.encoder.encode(cloud), to: file) } catch {
                throw ProviderError(.unavailable, "sandbox: cannot save \(file.path): \(error)")
            }
        }
        return result
    }

    /// The world as saved, for inspection.
    public func read() throws -> SandboxCloud {
        try transaction(saving: false) { $0 }
    }

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
