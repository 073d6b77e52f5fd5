import Foundation
import Planner
import ProviderFakes
import Testing

/// No orphan, no duplicate on the fake DigitalOcean: for each kind, the create takes effect, its
/// answer is lost and kryoform is killed inside that create; for each kind, the same inside a
/// delete (and inside a volume's attach and detach). The next apply (or destroy) converges, and
/// the fake's own inventory — every object it holds, tagged or not — shows exactly one of each
/// object, or nothing after destroy.
@Suite(.serialized)
struct DigitalOceanCrashEndToEndTests {
    /// The create of each kind, as the fake names its operations, and a volume's attach.
    static let creates = ["POST /v2/vpcs", "POST /v2/firewalls", "POST /v2/account/keys", "POST /v2/droplets", "POST /v2/volumes",
                          "POST /v2/volumes/{volume_id}/actions"]
    /// The delete of each kind, and a volume's detach before its delete.
    static let deletes = ["DELETE /v2/droplets/{droplet_id}", "POST /v2/volumes/{volume_id}/actions", "DELETE /v2/volumes/{volume_id}",
                          "DELETE /v2/firewalls/{firewall_id}", "DELETE /v2/account/keys/{ssh_key_identifier}", "DELETE /v2/vpcs/{vpc_id}"]

    /// What `dev` (one node with one volume) is at the fake, named as docs/digitalocean.md says.
    static func expectOneOfEach(_ inventory: [String: [String]], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(inventory["droplets"] == ["kryonix-dev-main-1"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["vpcs"] == ["kf-kryonix-dev"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["firewalls"] == ["kf-kryonix-dev"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["keys"] == ["kryonix-dev"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["volumes"]?.count == 1, "\(inventory)", sourceLocation: sourceLocation)
    }

    static let nothing: [String: [String]] = ["droplets": [], "volumes": [], "vpcs": [], "firewalls": [], "keys": []]

    /// The kind (as `counts` names kinds) of which each create makes one at the fake.
    static let madeKind = ["POST /v2/vpcs": "vpcs", "POST /v2/firewalls": "firewalls", "POST /v2/account/keys": "keys", "POST /v2/droplets": "droplets",
                           "POST /v2/volumes": "volumes", "POST /v2/volumes/{volume_id}/actions": "attached volumes"]
    /// The kind of which each delete removes one at the fake, and the address the state keeps for it.
    static let removed = ["DELETE /v2/droplets/{droplet_id}": (kind: "droplets", address: "node.main.1"),
                          "POST /v2/volumes/{volume_id}/actions": (kind: "attached volumes", address: "volume.main.1.pgdata"),
                          "DELETE /v2/volumes/{volume_id}": (kind: "volumes", address: "volume.main.1.pgdata"),
                          "DELETE /v2/firewalls/{firewall_id}": (kind: "firewalls", address: "firewall"),
                          "DELETE /v2/account/keys/{ssh_key_identifier}": (kind: "keys", address: "ssh_key"),
                          "DELETE /v2/vpcs/{vpc_id}": (kind: "vpcs", address: "network")]

    /// How many objects of each kind the fake holds, and how many volumes are attached to a droplet.
    static func counts(_ project: DigitalOceanProject) async -> [String: Int] {
        var counts = await project.fake.inventory().mapValues(\.count)
        counts["attached volumes"] = await project.fake.volumeAttachments().values.filter { $0 != nil }.count
        return counts
    }

    func killInside(_ operation: String, _ command: String, _ project: DigitalOceanProject) async throws -> KilledInsideRequest {
        let killed = try await KilledInsideRequest.run([command, "-e", "dev", "--auto-approve"], in: project.root,
                                                       environment: ["DIGITALOCEAN_TOKEN": project.token], fake: project.fake, holding: operation)
        killed.expectKilledInsideASuccess(operation)
        let unlocked = await project.run(["state", "unlock", "-e", "dev"])
        #expect(unlocked.status == 0, "\(unlocked.stdout)\(unlocked.stderr)")
        return killed
    }

    @Test(arguments: creates)
    func killedInsideACreateWhoseAnswerIsLost_nextApplyMakesNoDuplicateAndDestroyLeavesNoOrphan(create: String) async throws {
        let project = try await DigitalOceanProject.start()
        let kind = try #require(Self.madeKind[create])
        let before = await Self.counts(project)
        _ = try await killInside(create, "apply", project)
        // The held create took effect: one more of its kind at the fake than before the kill.
        let after = await Self.counts(project)
        #expect(after[kind] == (before[kind] ?? 0) + 1, "\(create) did not make one of \(kind): before \(before), after \(after)")

        let resumed = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        Self.expectOneOfEach(await project.fake.inventory())
        try await project.expectConverged(nodes: 1)
        let settled = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(settled.status == 0, "\(settled.stdout)\n\(settled.stderr)")

        let destroyed = await project.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        #expect(await project.fake.inventory() == Self.nothing)
        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        await project.stop()
    }

    @Test(arguments: deletes)
    func killedInsideADeleteWhoseAnswerIsLost_nextDestroyLeavesNoOrphan(delete: String) async throws {
        let project = try await DigitalOceanProject.start()
        let applied = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        Self.expectOneOfEach(await project.fake.inventory())
        let removed = try #require(Self.removed[delete])
        let before = await Self.counts(project)
        _ = try await killInside(delete, "destroy", project)
        // The held delete took effect at the fake, and kryoform never heard of it.
        let after = await Self.counts(project)
        #expect(after[removed.kind] == (before[removed.kind] ?? 0) - 1, "\(delete) did not remove one of \(removed.kind): before \(before), after \(after)")
        #expect(try project.state()?.resource(ResourceAddress(removed.address)) != nil,
                "the state no longer lists \(removed.address), so the kill came after kryoform heard the answer to \(delete)")

        let destroyed = await project.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        #expect(await project.fake.inventory() == Self.nothing)
        #expect(try project.state()?.resources.isEmpty ?? true)
        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        await project.stop()
    }
}
