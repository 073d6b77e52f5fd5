import Foundation
import Planner
import ProviderFakes
import Testing
import TestSupport

/// No orphan, no duplicate on EC2 (moto_server behind a `HoldingProxy`): kryoform killed inside
/// each kind's create and delete, the answer lost (moto carried the request out); the next run
/// converges, and every object moto holds, counted without kryoform's tag filters, is what was
/// there before plus exactly one set of the environment's objects, or nothing more after destroy.
@Suite(.serialized)
struct AWSCrashEndToEndTests {
    /// The create of each kind, as EC2 names its actions, and the calls inside a kind's create
    /// whose lost answer leaves a half-made object: the network's subnet and gateway and the
    /// gateway's attachment, the firewall's inbound rules, and a volume's attach.
    static let creates = ["CreateVpc", "CreateSubnet", "CreateInternetGateway", "AttachInternetGateway", "CreateSecurityGroup",
                          "AuthorizeSecurityGroupIngress", "ImportKeyPair", "RunInstances", "CreateVolume", "AttachVolume"]
    /// The kind (as `EC2Inventory` names kinds) each create adds to at moto, and by how much from
    /// before the killed run to the kill: one, except that a data volume (made, and attached, after
    /// its instance) comes after the instance's root volume, which RunInstances made and attached.
    static let made: [String: (kind: String, count: Int)] = [
        "CreateVpc": ("vpcs", 1), "CreateSubnet": ("subnets", 1), "CreateInternetGateway": ("gateways", 1),
        "AttachInternetGateway": ("attached gateways", 1), "CreateSecurityGroup": ("groups", 1),
        "AuthorizeSecurityGroupIngress": ("groups with ingress", 1), "ImportKeyPair": ("keys", 1), "RunInstances": ("instances", 1),
        "CreateVolume": ("volumes", 2), "AttachVolume": ("attached volumes", 2)]
    /// The delete of each kind, and a volume's detach before its delete.
    static let deletes = ["TerminateInstances", "DetachVolume", "DeleteVolume", "DeleteSecurityGroup", "DeleteKeyPair", "DeleteVpc"]
    /// The kind of which each delete removes one at moto, and the address the state keeps for it.
    static let removed = ["TerminateInstances": (kind: "instances", address: "node.main.1"),
                          "DetachVolume": (kind: "attached volumes", address: "volume.main.1.pgdata"),
                          "DeleteVolume": (kind: "volumes", address: "volume.main.1.pgdata"),
                          "DeleteSecurityGroup": (kind: "groups", address: "firewall"),
                          "DeleteKeyPair": (kind: "keys", address: "ssh_key"),
                          "DeleteVpc": (kind: "vpcs", address: "network")]

    /// What `dev` adds at EC2 (docs/aws.md): the VPC with its subnet and gateway, a security
    /// group with inbound rules, a key pair, one instance with its root volume, and one data
    /// volume; the gateway attached to the VPC, both volumes to the instance.
    static let environment = ["instances": 1, "vpcs": 1, "subnets": 1, "gateways": 1, "groups": 1, "keys": 1, "volumes": 2,
                              "attached volumes": 2, "attached gateways": 1, "groups with ingress": 1]

    struct Setup {
        let moto: MotoServer
        let proxy: HoldingProxy
        let root: URL
        let variables = ["AWS_ACCESS_KEY_ID": AWSProject.accessKeyID, "AWS_SECRET_ACCESS_KEY": AWSProject.secret]

        static func start() async throws -> Setup {
            let moto = try MotoServer.start()
            let proxy = try await HoldingProxy.start(upstream: moto.baseURL, operation: HoldingProxy.ec2Action)
            let root = try shippedProjectCopy(prefix: "kryoform-aws-crash")
            let url = await proxy.baseURL.absoluteString
            try editFile(root.appendingPathComponent("environments/dev.yaml")) {
                $0 = $0.replacingOccurrences(of: "  name: digitalocean\n  region: nyc3\n  token: env:DIGITALOCEAN_TOKEN\n",
                                             with: "  name: aws\n  region: us-east-1\n  endpoint: \(url)\n  image: \(AWSProject.image)\n")
            }
            return Setup(moto: moto, proxy: proxy, root: root)
        }

        func run(_ arguments: [String]) async -> CommandRun {
            await CommandRun.runDetached(arguments + ["--no-color"], in: root, environment: variables)
        }

        func inventory() async throws -> [String: Int] {
            try await EC2Inventory.count(at: moto.baseURL, accessKeyID: AWSProject.accessKeyID)
        }

        func killInside(_ action: String, _ command: String) async throws {
            let killed = try await KilledInsideRequest.run([command, "-e", "dev", "--auto-approve"], in: root, environment: variables,
                                                           fake: proxy, holding: action)
            killed.expectKilledInsideASuccess(action)
            let unlocked = await run(["state", "unlock", "-e", "dev"])
            #expect(unlocked.status == 0, "\(unlocked.stdout)\(unlocked.stderr)")
        }

        func state() throws -> State? {
            try LocalStateStore(projectRoot: root, environment: "dev").read()
        }

        func stop() async {
            await proxy.stop()
            moto.stop()
            try? FileManager.default.removeItem(at: root)
        }
    }

    static func plus(_ base: [String: Int], _ added: [String: Int]) -> [String: Int] {
        base.merging(added) { $0 + $1 }
    }

    /// moto holds `expected`, counted at moto.
    static func expectInventory(_ setup: Setup, _ expected: [String: Int], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let found = try await setup.inventory()
        #expect(found == expected, "moto holds \(found), expected \(expected)", sourceLocation: sourceLocation)
    }

    @Test(arguments: creates)
    func killedInsideACreateWhoseAnswerIsLost_nextApplyMakesNoDuplicateAndDestroyLeavesNoOrphan(create: String) async throws {
        let setup = try await Setup.start()
        let base = try await setup.inventory()
        let made = try #require(Self.made[create])
        try await setup.killInside(create, "apply")
        // The held create took effect at moto before the kill.
        let atKill = try await setup.inventory()
        #expect(atKill[made.kind] == (base[made.kind] ?? 0) + made.count, "\(create) did not add to \(made.kind): before \(base), at the kill \(atKill)")

        let resumed = await setup.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        try await Self.expectInventory(setup, Self.plus(base, Self.environment))
        let settled = await setup.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(settled.status == 0, "\(settled.stdout)\n\(settled.stderr)")

        let destroyed = await setup.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        try await Self.expectInventory(setup, base)
        await setup.stop()
    }

    @Test(arguments: deletes)
    func killedInsideADeleteWhoseAnswerIsLost_nextDestroyLeavesNoOrphan(delete: String) async throws {
        let setup = try await Setup.start()
        let base = try await setup.inventory()
        let applied = await setup.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        try await Self.expectInventory(setup, Self.plus(base, Self.environment))
        let removed = try #require(Self.removed[delete])
        let before = try await setup.inventory()
        try await setup.killInside(delete, "destroy")
        // The held delete took effect at moto, and kryoform never heard of it.
        let atKill = try await setup.inventory()
        #expect(atKill[removed.kind] == (before[removed.kind] ?? 0) - 1, "\(delete) did not remove one of \(removed.kind): before \(before), at the kill \(atKill)")
        #expect(try setup.state()?.resource(ResourceAddress(removed.address)) != nil,
                "the state no longer lists \(removed.address), so the kill came after kryoform heard the answer to \(delete)")

        let destroyed = await setup.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        try await Self.expectInventory(setup, base)
        await setup.stop()
    }
}
