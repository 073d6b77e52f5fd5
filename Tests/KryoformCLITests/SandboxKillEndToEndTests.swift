import Foundation
import Planner
import Providers
import Testing

extension SandboxProject {
    /// Every object of the sandbox's world, whatever its tags: what a leak would add to.
    func worldObjects() throws -> [SandboxObject] {
        try SandboxStore(directory: root.appendingPathComponent(".kryoform/sandbox")).read().objects
    }

    var hungFile: URL { root.appendingPathComponent(".kryoform/sandbox/hung") }

    /// Starts `arguments` with the sandbox told to withhold the answer of `operation` on
    /// `address`, waits (at most 60 s) until it says it has, and kills the process there with
    /// SIGKILL. Returns what the sandbox said, so the caller knows where the kill landed.
    func killInside(_ arguments: [String], after operation: String, of address: String,
              sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try? FileManager.default.removeItem(at: hungFile)
        let (process, output) = try start(arguments, faults: "provision=30ms,hang-after-\(operation)=\(address)")
        let hung = waitUntil(60) { FileManager.default.fileExists(atPath: hungFile.path) || !process.isRunning }
            && FileManager.default.fileExists(atPath: hungFile.path)
        kill(process.processIdentifier, SIGKILL)
        finish(process)
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        try #require(hung, "\(arguments.joined(separator: " ")) never reached the \(operation) of \(address): \(log.suffix(2_000))", sourceLocation: sourceLocation)
        let said = try String(contentsOf: hungFile, encoding: .utf8)
        try FileManager.default.removeItem(at: hungFile)
        _ = try run(["state", "unlock", "-e", "local"])
        return said
    }
}

/// Kills that land exactly where a lost answer hurts: after the provider made (or deleted) an
/// object and before kryoform heard of it. The sandbox's `hang-after-*` faults name the kill
/// points, and each is checked to have been reached before the kill.
@Suite("killed inside each kind's create and delete, on the sandbox", .serialized)
struct SandboxKillEndToEndTests {
    static let cloudAddresses = ["network", "firewall", "ssh_key", "node.main.1", "volume.main.1.pgdata"]
    /// Deletes go the other way: volume, node, then the rest in any order.
    static let deleteOrder = ["volume.main.1.pgdata", "node.main.1", "ssh_key", "firewall", "network"]

    @Test("a kill inside each kind's create and each kind's delete, its answer lost: no duplicate, no orphan, the next run converges")
    func killsInsideCreatesAndDeletes() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let apply = ["apply", "-e", "local", "--auto-approve"]
        for address in Self.cloudAddresses {
            // Targeted, so the apply makes just this one (its dependencies came before) and the
            // kill cannot land elsewhere.
            let said = try project.killInside(apply + ["--target", address], after: "create", of: address)
            #expect(said.hasPrefix("the create of \(address) is saved in the sandbox"), "\(said)")
            // The kill landed inside the create: the object exists, once, and the state holds
            // only the intent to make it.
            let made = try project.worldObjects().filter { ResourceTags.address(in: $0.tags)?.rawValue == address }
            #expect(made.count == 1, "\(address) exists \(made.count) times after its create was killed")
            let recorded = try project.state()?.resource(ResourceAddress(address))
            #expect(recorded?.status == .creating && recorded?.providerID == nil, "\(address) in the state: \(String(describing: recorded))")
            if address != Self.cloudAddresses[0] {
                // The state existed, so the intent is a line of the journal: the state file itself
                // was not rewritten by the step, and the next run folds the journal in.
                let folder = project.root.appendingPathComponent(".kryoform/state")
                let journal = (try? String(contentsOf: folder.appendingPathComponent("local.journal"), encoding: .utf8)) ?? ""
                #expect(journal.contains("\"\(address)\""), "the intent of \(address) is not in the journal: \(journal)")
                let file = try LocalStateStore.decoder.decode(State.self, from: Data(contentsOf: folder.appendingPathComponent("local.json")))
                #expect(file.resource(ResourceAddress(address)) == nil, "a step rewrote the whole state file")
            }
        }
        let converged = try project.run(apply)
        #expect(converged.status == 0, "\(converged.stdout)\n\(converged.stderr)")
        try project.expectConverged()
        let world = try project.worldObjects()
        #expect(world.count == 22, "the world holds \(world.count) objects, wanted the 22 of the environment")
        let scope = Set(ResourceTags.scope(project: "kryonix", environment: "local"))
        #expect(world.allSatisfy { scope.isSubset(of: $0.tags) },
                "an object without the environment's tags: \(world.filter { ResourceTags.address(in: $0.tags) == nil }.map(\.id))")

        // destroy takes no --target; one delete at a time, each round hangs after the first of
        // the kinds not yet killed, until each kind's delete has had its kill.
        let destroy = ["destroy", "-e", "local", "--auto-approve", "--parallelism", "1"]
        var remaining = Self.deleteOrder
        while let first = remaining.first {
            let said = try project.killInside(destroy, after: "delete", of: remaining.joined(separator: ";"))
            let address = try #require(remaining.first { said.hasPrefix("the delete of \($0) is saved in the sandbox") }, "\(said)")
            #expect(address == first || !["volume.main.1.pgdata", "node.main.1"].contains(first), "\(address) was deleted before \(first)")
            #expect(try project.worldObjects().allSatisfy { ResourceTags.address(in: $0.tags)?.rawValue != address }, "\(address) survived its delete")
            #expect(try project.state()?.resource(ResourceAddress(address)) != nil, "the state heard of \(address)'s delete, so the kill came too late")
            remaining.removeAll { $0 == address }
        }
        let destroyed = try project.run(destroy)
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        let left = try project.worldObjects()
        #expect(left.isEmpty, "left in the sandbox: \(left.map(\.id))")
        #expect(try project.state()?.resources.isEmpty ?? true)
    }
}
