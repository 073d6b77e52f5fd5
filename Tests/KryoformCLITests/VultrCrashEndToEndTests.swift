import Foundation
import Planner
import ProviderFakes
import Testing

/// No orphan, no duplicate on the fake Vultr, as `DigitalOceanCrashEndToEndTests` on DigitalOcean:
/// kryoform killed inside each kind's create (and a firewall rule's and a block's attach) and
/// inside each kind's delete (and a block's detach), the answer lost; the next run converges and
/// the fake's own inventory shows one of each object, or nothing after destroy.
@Suite(.serialized)
struct VultrCrashEndToEndTests {
    static let creates = ["POST /v2/vpcs", "POST /v2/firewalls", "POST /v2/firewalls/{id}/rules", "POST /v2/ssh-keys", "POST /v2/instances",
                          "POST /v2/blocks", "POST /v2/blocks/{id}/attach"]
    static let deletes = ["DELETE /v2/instances/{id}", "POST /v2/blocks/{id}/detach", "DELETE /v2/blocks/{id}", "DELETE /v2/firewalls/{id}",
                          "DELETE /v2/ssh-keys/{id}", "DELETE /v2/vpcs/{id}"]

    /// `dev` (one node with one volume) at the fake, labelled as docs/vultr.md says.
    static func expectOneOfEach(_ inventory: [String: [String]], rules: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(inventory["instances"] == ["kryonix-dev-main-1"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["blocks"] == ["kf:kryonix:dev:volume.main.1.pgdata"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["vpcs"] == ["kf-kryonix-dev cidr=10.10.0.0/16"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["firewalls"] == ["kf-kryonix-dev"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(inventory["keys"] == ["kryonix-dev"], "\(inventory)", sourceLocation: sourceLocation)
        #expect(Set(rules).count == rules.count, "duplicate firewall rules: \(rules)", sourceLocation: sourceLocation)
    }

    static let nothing: [String: [String]] = ["instances": [], "blocks": [], "vpcs": [], "firewalls": [], "keys": []]

    func killInside(_ operation: String, _ command: String, _ project: VultrProject) async throws {
        let killed = try await KilledInsideRequest.run([command, "-e", "dev", "--auto-approve"], in: project.root,
                                                       environment: ["VULTR_API_KEY": project.apiKey], fake: project.fake, holding: operation)
        #expect(killed.held != nil, "kryoform never sent \(operation): \(killed.output)")
        #expect(killed.killedBeforeTheAnswer, "the kill did not land inside \(operation): \(killed.output)")
        let unlocked = await project.run(["state", "unlock", "-e", "dev"])
        #expect(unlocked.status == 0, "\(unlocked.stdout)\(unlocked.stderr)")
    }

    @Test(arguments: creates)
    func killedInsideACreateWhoseAnswerIsLost_nextApplyMakesNoDuplicateAndDestroyLeavesNoOrphan(create: String) async throws {
        let project = try await VultrProject.start()
        try await killInside(create, "apply", project)

        let resumed = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        Self.expectOneOfEach(await project.fake.inventory(), rules: await project.fake.firewallRules())
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
        let project = try await VultrProject.start()
        let applied = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        Self.expectOneOfEach(await project.fake.inventory(), rules: await project.fake.firewallRules())
        try await killInside(delete, "destroy", project)

        let destroyed = await project.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        #expect(await project.fake.inventory() == Self.nothing)
        #expect(try project.state()?.resources.isEmpty ?? true)
        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        await project.stop()
    }
}
