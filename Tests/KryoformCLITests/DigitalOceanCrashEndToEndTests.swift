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

    func killInside(_ operation: String, _ command: String, _ project: DigitalOceanProject) async throws -> KilledInsideRequest {
        let killed = try await KilledInsideRequest.run([command, "-e", "dev", "--auto-approve"], in: project.root,
                                                       environment: ["DIGITALOCEAN_TOKEN": project.token], fake: project.fake, holding: operation)
        #expect(killed.held != nil, "kryoform never sent \(operation): \(killed.output)")
        #expect(killed.killedBeforeTheAnswer, "the kill did not land inside \(operation): \(killed.output)")
        let unlocked = await project.run(["state", "unlock", "-e", "dev"])
        #expect(unlocked.status == 0, "\(unlocked.stdout)\(unlocked.stderr)")
        return killed
    }

    @Test(arguments: creates)
    func killedInsideACreateWhoseAnswerIsLost_nextApplyMakesNoDuplicateAndDestroyLeavesNoOrphan(create: String) async throws {
        let project = try await DigitalOceanProject.start()
        _ = try await killInside(create, "apply", project)
        let made = await project.fake.inventory()
        #expect(made.values.contains { !$0.isEmpty }, "the create took effect: \(made)")

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
        _ = try await killInside(delete, "destroy", project)

        let destroyed = await project.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        #expect(await project.fake.inventory() == Self.nothing)
        #expect(try project.state()?.resources.isEmpty ?? true)
        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        await project.stop()
    }
}
