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
    /// The create of each kind, as EC2 names its actions.
    static let creates = ["CreateVpc", "CreateSecurityGroup", "ImportKeyPair", "RunInstances", "CreateVolume"]
    /// The delete of each kind, and a volume's detach before its delete.
    static let deletes = ["TerminateInstances", "DetachVolume", "DeleteVolume", "DeleteSecurityGroup", "DeleteKeyPair", "DeleteVpc"]

    /// What `dev` adds at EC2 (docs/aws.md): the VPC with its subnet and gateway, a security
    /// group, a key pair, one instance with its root volume, and one data volume.
    static let environment = ["instances": 1, "vpcs": 1, "subnets": 1, "gateways": 1, "groups": 1, "keys": 1, "volumes": 2]

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
            #expect(killed.held != nil, "kryoform never sent \(action): \(killed.output)")
            #expect(killed.killedBeforeTheAnswer, "the kill did not land inside \(action): \(killed.output)")
            let unlocked = await run(["state", "unlock", "-e", "dev"])
            #expect(unlocked.status == 0, "\(unlocked.stdout)\(unlocked.stderr)")
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
        try await setup.killInside(create, "apply")

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
        try await setup.killInside(delete, "destroy")

        let destroyed = await setup.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        try await Self.expectInventory(setup, base)
        await setup.stop()
    }
}
