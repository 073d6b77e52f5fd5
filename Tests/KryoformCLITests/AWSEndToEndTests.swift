import Foundation
import Planner
import Testing
import TestSupport
@testable import Providers

/// The shipped project's `dev` environment switched to the aws provider and pointed at a real
/// `moto_server` with `endpoint:`, driven through the built binary.
struct AWSProject {
    let root: URL
    let moto: MotoServer
    /// Fake credentials: moto takes any; none of them may show in any output.
    static let accessKeyID = "AKIDKRYOFORMTESTING"
    static let secret = "kryoform-test-secret-do-not-print-0123456789"
    /// An AMI among moto's built-in ones (moto has no Debian 12 image).
    static let image = "ami-04681a1dbd79675a5"

    static func start() async throws -> AWSProject {
        let moto = try MotoServer.start()
        let root = try shippedProjectCopy(prefix: "kryoform-aws")
        let project = AWSProject(root: root, moto: moto)
        try project.editDev {
            $0 = $0.replacingOccurrences(of: "  name: digitalocean\n  region: nyc3\n  token: env:DIGITALOCEAN_TOKEN\n",
                                         with: "  name: aws\n  region: us-east-1\n  endpoint: \(moto.baseURL.absoluteString)\n  image: \(image)\n")
        }
        return project
    }

    func editDev(_ edit: (inout String) -> Void) throws {
        try editFile(root.appendingPathComponent("environments/dev.yaml"), edit)
    }

    /// Runs kryoform on a thread of its own.
    func run(_ arguments: [String]) async -> CommandRun {
        await CommandRun.runDetached(arguments + ["--no-color"], in: root,
                                     environment: ["AWS_ACCESS_KEY_ID": Self.accessKeyID, "AWS_SECRET_ACCESS_KEY": Self.secret])
    }

    func plan() async -> (run: CommandRun, json: [String: Any]) {
        let run = await self.run(["plan", "-e", "dev", "--json"])
        return (run, (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:])
    }

    /// An adapter of our own on the same moto, to look at what exists.
    var provider: EC2Provider {
        EC2Provider.make(accessKeyID: Self.accessKeyID, secretAccessKey: Self.secret, region: "us-east-1", endpoint: moto.baseURL)
    }

    func stop() {
        moto.stop()
        try? FileManager.default.removeItem(at: root)
    }
}

@Suite(.serialized)
struct AWSEndToEndTests {
    @Test func applyNoChangeResizeDestroyAgainstMoto() async throws {
        let project = try await AWSProject.start()
        defer { project.stop() }
        let scope = ResourceScope(project: "kryonix", environment: "dev")

        let (planned, json) = await project.plan()
        #expect(planned.status == 0, "\(planned.stderr)")
        let cost = json["cost"] as? [String: Any]
        #expect((cost?["monthly_after"] as? Double ?? 0) > 0, "the plan prices the nodes: \(cost ?? [:])")

        let applied = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        var observed = Dictionary(grouping: try await project.provider.observe(scope), by: \.address).compactMapValues(\.first)
        let node = try #require(observed[.node(cluster: "main", index: 1)])
        #expect(node.attributes["size"] == "c6a.4xlarge" && node.attributes["disk_gib"] == "200" && node.attributes["image"] == AWSProject.image,
                "\(node.attributes)")
        #expect(observed[.volume(cluster: "main", index: 1, name: "pgdata")]?.attributes["node"] == "node.main.1")
        #expect(observed[.network]?.attributes["cidr"] == "10.10.0.0/16")

        let unchanged = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(unchanged.status == 0, "\(unchanged.stdout)\n\(unchanged.stderr)")
        #expect(unchanged.stdout.contains("No changes."))
        // configure_nodes: false (the cloud half alone): no swarm, no stacks, and no note either.
        #expect(!unchanged.stdout.contains("note:") && !unchanged.stdout.contains("swarm"), "\(unchanged.stdout)")

        // A bigger size: stop, change the type, start; the bigger disk grows in place.
        try project.editDev { $0 = $0.replacingOccurrences(of: "size: { cpu: 16, memory: 32GiB, disk: 200GiB }", with: "size: { cpu: 32, memory: 64GiB, disk: 400GiB }") }
        let (_, resizeJSON) = await project.plan()
        #expect(SandboxProject.actions(resizeJSON) == ["node.main.1": "update"], "\(SandboxProject.actions(resizeJSON))")
        let resized = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(resized.status == 0, "\(resized.stdout)\n\(resized.stderr)")
        observed = Dictionary(grouping: try await project.provider.observe(scope), by: \.address).compactMapValues(\.first)
        #expect(observed[.node(cluster: "main", index: 1)]?.attributes["size"] == "c6a.8xlarge")
        #expect(observed[.node(cluster: "main", index: 1)]?.attributes["disk_gib"] == "400")
        #expect(observed[.node(cluster: "main", index: 1)]?.providerID == node.providerID, "resized in place, not replaced")
        let settled = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(settled.status == 0, "\(settled.stdout)\n\(settled.stderr)")

        let destroyed = await project.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        #expect(try await project.provider.observe(scope).isEmpty)
        // Nothing of the scope is left in moto: no instance but terminated ones, no volume, VPC, group or key.
        let provider = project.provider
        let instances = try await provider.instances(in: scope).filter { $0.state != "terminated" }
        #expect(instances.isEmpty, "\(instances.map(\.instanceId))")
        #expect(try await provider.volumes(in: scope).isEmpty)
        #expect(try await provider.scoped(EC2.DescribeVpcsResponse.self, "DescribeVpcs", scope).vpcSet?.items.isEmpty ?? true)
        #expect(try await provider.scoped(EC2.DescribeSecurityGroupsResponse.self, "DescribeSecurityGroups", scope).securityGroupInfo?.items.isEmpty ?? true)
        #expect(try await provider.scoped(EC2.DescribeSubnetsResponse.self, "DescribeSubnets", scope).subnetSet?.items.isEmpty ?? true)
        #expect(try await provider.scoped(EC2.DescribeInternetGatewaysResponse.self, "DescribeInternetGateways", scope).internetGatewaySet?.items.isEmpty ?? true)
        #expect(try await provider.keyPairs().isEmpty)

        // The credentials appear in no output and no file kryoform wrote.
        for text in [planned.stdout, planned.stderr, applied.stdout, applied.stderr, unchanged.stdout, resized.stdout, resized.stderr, destroyed.stdout, destroyed.stderr] {
            #expect(!text.contains(AWSProject.secret) && !text.contains(AWSProject.accessKeyID))
        }
        let stateText = try String(contentsOf: project.root.appendingPathComponent(".kryoform/state/dev.json"), encoding: .utf8)
        #expect(!stateText.contains(AWSProject.secret) && !stateText.contains(AWSProject.accessKeyID))
    }

    @Test func unsetCredentialsAreOneClearLine() async throws {
        let project = try await AWSProject.start()
        defer { project.stop() }
        let run = await CommandRun.runDetached(["plan", "-e", "dev", "--no-color"], in: project.root,
                                               environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
        #expect(run.status == 1)
        #expect(run.stderr.contains("set AWS_ACCESS_KEY_ID"), "\(run.stderr)")
    }
}
