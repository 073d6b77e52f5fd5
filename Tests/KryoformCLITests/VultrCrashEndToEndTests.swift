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
        #expect(rules.sorted() == expectedRules.sorted(), "firewall rules: \(rules)", sourceLocation: sourceLocation)
    }

    /// The rules environments/dev.yaml asks for, as `FakeVultr.firewallRules()` writes them: its
    /// `network.firewall`, one rule per port and source (`{ ports: [22], from: [203.0.113.0/24] }`,
    /// `{ ports: [80, 443], from: [0.0.0.0/0, "::/0"] }`, TCP by default), and the firewall's
    /// internal traffic from `network.cidr: 10.10.0.0/16` (docs/engine.md; docs/vultr.md says
    /// Vultr gets it as tcp and udp `1:65535` and icmp, which takes no port).
    static let expectedRules = ["tcp 22 v4 203.0.113.0/24",
                                "tcp 80 v4 0.0.0.0/0", "tcp 80 v6 ::/0",
                                "tcp 443 v4 0.0.0.0/0", "tcp 443 v6 ::/0",
                                "tcp 1:65535 v4 10.10.0.0/16", "udp 1:65535 v4 10.10.0.0/16", "icmp  v4 10.10.0.0/16"]

    static let nothing: [String: [String]] = ["instances": [], "blocks": [], "vpcs": [], "firewalls": [], "keys": []]

    /// The kind (as `counts` names kinds) of which each create makes one at the fake.
    static let madeKind = ["POST /v2/vpcs": "vpcs", "POST /v2/firewalls": "firewalls", "POST /v2/firewalls/{id}/rules": "rules",
                           "POST /v2/ssh-keys": "keys", "POST /v2/instances": "instances", "POST /v2/blocks": "blocks",
                           "POST /v2/blocks/{id}/attach": "attached blocks"]
    /// The kind of which each delete removes one at the fake, and the address the state keeps for it.
    static let removed = ["DELETE /v2/instances/{id}": (kind: "instances", address: "node.main.1"),
                          "POST /v2/blocks/{id}/detach": (kind: "attached blocks", address: "volume.main.1.pgdata"),
                          "DELETE /v2/blocks/{id}": (kind: "blocks", address: "volume.main.1.pgdata"),
                          "DELETE /v2/firewalls/{id}": (kind: "firewalls", address: "firewall"),
                          "DELETE /v2/ssh-keys/{id}": (kind: "keys", address: "ssh_key"),
                          "DELETE /v2/vpcs/{id}": (kind: "vpcs", address: "network")]

    /// How many objects of each kind the fake holds, how many firewall rules, and how many blocks are attached.
    static func counts(_ project: VultrProject) async -> [String: Int] {
        var counts = await project.fake.inventory().mapValues(\.count)
        counts["rules"] = await project.fake.firewallRules().count
        counts["attached blocks"] = await project.fake.blockAttachments().values.filter { $0 != nil }.count
        return counts
    }

    func killInside(_ operation: String, _ command: String, _ project: VultrProject) async throws {
        let killed = try await KilledInsideRequest.run([command, "-e", "dev", "--auto-approve"], in: project.root,
                                                       environment: ["VULTR_API_KEY": project.apiKey], fake: project.fake, holding: operation)
        killed.expectKilledInsideASuccess(operation)
        let unlocked = await project.run(["state", "unlock", "-e", "dev"])
        #expect(unlocked.status == 0, "\(unlocked.stdout)\(unlocked.stderr)")
    }

    @Test(arguments: creates)
    func killedInsideACreateWhoseAnswerIsLost_nextApplyMakesNoDuplicateAndDestroyLeavesNoOrphan(create: String) async throws {
        let project = try await VultrProject.start()
        let kind = try #require(Self.madeKind[create])
        let before = await Self.counts(project)
        try await killInside(create, "apply", project)
        // The held create took effect: one more of its kind at the fake than before the kill.
        let after = await Self.counts(project)
        #expect(after[kind] == (before[kind] ?? 0) + 1, "\(create) did not make one of \(kind): before \(before), after \(after)")

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
        let removed = try #require(Self.removed[delete])
        let before = await Self.counts(project)
        try await killInside(delete, "destroy", project)
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
