import Foundation
import Planner
import Testing

/// A converged sandbox project with a saved plan that grows the cluster by one node: the plan
/// every refusal below is made from. Each test changes one thing the plan was made against.
struct PendingPlan {
    let project: SandboxProject
    let file: URL
    /// The saved plan's text, as `plan --out` wrote it.
    let text: String
    /// What the saved plan says it was made against.
    let basis: PlanBasis

    static func make() throws -> PendingPlan {
        let project = try SandboxProject()
        let applied = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        try project.editLocal { $0 = $0.replacingOccurrences(of: "nodes: 1", with: "nodes: 2") }
        let file = project.root.appendingPathComponent("pending.plan")
        let saved = try project.run(["plan", "-e", "local", "--out", file.path])
        #expect(saved.status == 0, "\(saved.stderr)")
        let text = try String(contentsOf: file, encoding: .utf8)
        let plan = try JSONDecoder.plans.decode(Plan.self, from: Data(text.utf8))
        #expect(SandboxProject.actions(try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]))
                == ["node.main.2": "create", "volume.main.2.pgdata": "create", "swarm": "update"])
        return PendingPlan(project: project, file: file, text: text, basis: plan.basis)
    }

    /// Writes a copy of the plan with `edit` applied, and returns its path.
    func variant(_ name: String, _ edit: (String) -> String) throws -> String {
        let changed = edit(text)
        #expect(changed != text, "the variant \(name) changes nothing")
        let path = project.root.appendingPathComponent(name).path
        try changed.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Applies `planFile` (with `extra` arguments), expects the refusal `message` on stderr, and
    /// that everything under `.kryoform/` (state, sandbox world, locks, keys) is byte for byte as it was.
    func expectRefused(_ planFile: String, _ extra: [String] = [], message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = project.recordedFiles()
        #expect(before.state != nil && before.world != nil, "nothing recorded to compare", sourceLocation: sourceLocation)
        let refused = try project.run(["apply", planFile] + extra)
        #expect(refused.status == 1, "\(refused.stdout)\n\(refused.stderr)", sourceLocation: sourceLocation)
        #expect(refused.stderr.contains("error: " + message), "\(refused.stderr)", sourceLocation: sourceLocation)
        #expect(!refused.stdout.contains("creating…"), "a refused plan started an action: \(refused.stdout)", sourceLocation: sourceLocation)
        let after = project.recordedFiles()
        #expect(after == before, "a refused plan changed: \(after.differences(from: before))", sourceLocation: sourceLocation)
    }

    /// The untouched plan still applies: what refused the variant was the one change made to it.
    func expectOriginalApplies(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let applied = try project.run(["apply", file.path])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)", sourceLocation: sourceLocation)
        #expect(try project.sandboxObjects()["node.main.2"]?.count == 1, sourceLocation: sourceLocation)
    }

    func state() throws -> State {
        try #require(try project.state())
    }
}

extension JSONDecoder {
    /// Reads plan files as `plan --out` writes them (ISO-8601 dates).
    static var plans: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// `apply PLANFILE` refuses a plan that no longer describes what it would change, one branch
/// each, and leaves the state and the cloud as they were.
@Suite("A stale saved plan is refused, and changes nothing", .serialized)
struct SavedPlanRefusalTests {
    @Test("a plan of another format version is refused, naming both versions")
    func testSavedPlan_otherFormatVersionRefused() throws {
        let pending = try PendingPlan.make()
        defer { pending.project.remove() }
        let old = try pending.variant("old-format.plan") {
            $0.replacingOccurrences(of: "\"format_version\" : \"\(Plan.formatVersion)\"", with: "\"format_version\" : \"0\"")
        }
        try pending.expectRefused(old, message: "the plan has format_version 0; this kryoform writes \(Plan.formatVersion): make a new plan")
        try pending.expectOriginalApplies()
    }

    @Test("a plan of another environment is refused, with -e naming the other one")
    func testSavedPlan_otherEnvironmentRefused() throws {
        let pending = try PendingPlan.make()
        defer { pending.project.remove() }
        let local = pending.project.root.appendingPathComponent("environments/local.yaml")
        try String(contentsOf: local, encoding: .utf8).replacingOccurrences(of: "environment: local\n", with: "environment: local-copy\n")
            .write(to: pending.project.root.appendingPathComponent("environments/local-copy.yaml"), atomically: true, encoding: .utf8)
        try pending.expectRefused(pending.file.path, ["-e", "local-copy"],
                                  message: "the plan is for environment local of project kryonix, not local-copy of kryonix")
        try pending.expectOriginalApplies()
    }

    @Test("a plan of another project is refused, naming both projects")
    func testSavedPlan_otherProjectRefused() throws {
        let pending = try PendingPlan.make()
        defer { pending.project.remove() }
        let projectFile = pending.project.root.appendingPathComponent("kryoform.yaml")
        let original = try String(contentsOf: projectFile, encoding: .utf8)
        try original.replacingOccurrences(of: "project: kryonix\n", with: "project: other\n").write(to: projectFile, atomically: true, encoding: .utf8)
        try pending.expectRefused(pending.file.path, message: "the plan is for environment local of project kryonix, not local of other")
        try original.write(to: projectFile, atomically: true, encoding: .utf8)
        try pending.expectOriginalApplies()
    }

    @Test("a plan made against another state's lineage is refused, naming both lineages")
    func testSavedPlan_otherLineageRefused() throws {
        let pending = try PendingPlan.make()
        defer { pending.project.remove() }
        let lineage = try #require(pending.basis.stateLineage)
        #expect(lineage == (try pending.state().lineage))
        let other = UUID().uuidString.lowercased()
        let foreign = try pending.variant("other-lineage.plan") { $0.replacingOccurrences(of: lineage, with: other) }
        try pending.expectRefused(foreign, message: "the plan was made against another state (lineage \(other), now \(lineage)): make a new plan")
        try pending.expectOriginalApplies()
    }

    @Test("a plan whose state serial has moved on is refused, naming both serials: a saved plan applies once")
    func testSavedPlan_movedSerialRefused() throws {
        let pending = try PendingPlan.make()
        defer { pending.project.remove() }
        #expect(pending.basis.stateSerial == (try pending.state().serial))
        try pending.expectOriginalApplies()
        let serial = try pending.state().serial
        #expect(serial > pending.basis.stateSerial)
        try pending.expectRefused(pending.file.path, message: "the state changed since the plan was made (serial \(pending.basis.stateSerial), now \(serial)): "
                                  + "make a new plan with kryoform plan -e local --out FILE")
    }

    @Test("a plan whose specs have changed is refused, naming both digests: the environment's file and a stack's each count")
    func testSavedPlan_changedSpecsRefused() throws {
        let pending = try PendingPlan.make()
        defer { pending.project.remove() }
        for file in ["environments/local.yaml", "stacks/redis.yaml"] {
            let url = pending.project.root.appendingPathComponent(file)
            let original = try String(contentsOf: url, encoding: .utf8)
            try (original + "# reviewed\n").write(to: url, atomically: true, encoding: .utf8)
            let now = try #require((pending.project.plan().json["basis"] as? [String: Any])?["specs_digest"] as? String)
            #expect(now != pending.basis.specsDigest, "\(file) is not part of the digest")
            try pending.expectRefused(pending.file.path, message: "the specs changed since the plan was made "
                                      + "(digest \(pending.basis.specsDigest.prefix(12)), now \(now.prefix(12))): make a new plan")
            try original.write(to: url, atomically: true, encoding: .utf8)
        }
        try pending.expectOriginalApplies()
    }
}
