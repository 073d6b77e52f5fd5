import Foundation
import Planner
import struct Spec.SpecLoader
import struct Spec.LocalFileSystem
import ProviderFakes
import Testing

/// The shipped project's `dev` environment (provider digitalocean) pointed at a fake
/// DigitalOcean server with `endpoint:`, driven through the built binary.
struct DigitalOceanProject {
    let root: URL
    let fake: FakeDigitalOcean
    let token: String

    static func start(faults: FakeDigitalOcean.Faults = .init(), edit: (inout String) -> Void = { _ in }) async throws -> DigitalOceanProject {
        let fake = try await FakeDigitalOcean.start(faults: faults, contract: try ProviderDescriptions.digitalOcean())
        let root = try shippedProjectCopy(prefix: "kryoform-do")
        let project = DigitalOceanProject(root: root, fake: fake, token: await fake.token)
        let url = await fake.baseURL.absoluteString
        try project.editDev {
            $0 = $0.replacingOccurrences(of: "  token: env:DIGITALOCEAN_TOKEN\n", with: "  token: env:DIGITALOCEAN_TOKEN\n  endpoint: \(url)\n")
            edit(&$0)
        }
        return project
    }

    func editDev(_ edit: (inout String) -> Void) throws {
        try editFile(root.appendingPathComponent("environments/dev.yaml"), edit)
    }

    /// Runs kryoform on a thread of its own, so the fake keeps answering meanwhile.
    func run(_ arguments: [String], token: String? = nil, unsetToken: Bool = false) async -> CommandRun {
        var environment = ["DIGITALOCEAN_TOKEN": token ?? self.token]
        if unsetToken { environment["DIGITALOCEAN_TOKEN"] = "" }
        return await CommandRun.runDetached(arguments + ["--no-color"], in: root, environment: environment)
    }

    func plan(_ extra: [String] = []) async -> (run: CommandRun, json: [String: Any]) {
        let run = await self.run(["plan", "-e", "dev", "--json"] + extra)
        return (run, (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:])
    }

    func state() throws -> State? {
        try LocalStateStore(projectRoot: root, environment: "dev").read()
    }

    /// Every droplet and volume the fake holds appears once, and the state names exactly what exists.
    func expectConverged(nodes: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let droplets = await fake.dropletSummaries()
        let names = droplets.map(\.name)
        #expect(Set(names).count == names.count, "duplicate droplets: \(names.sorted())", sourceLocation: sourceLocation)
        #expect(droplets.count == nodes, "droplets: \(names.sorted())", sourceLocation: sourceLocation)
        let counts = await fake.objectCounts()
        #expect(counts["volumes"] == nodes && counts["firewalls"] == 1 && counts["keys"] == 1, "\(counts)", sourceLocation: sourceLocation)
        let attachments = await fake.volumeAttachments()
        #expect(attachments.values.allSatisfy { $0 != nil }, "a volume is not attached: \(attachments)", sourceLocation: sourceLocation)
        let state = try #require(try self.state(), sourceLocation: sourceLocation)
        let recordedDroplets = Set(state.resources.filter { $0.kind == .node }.compactMap(\.providerID))
        #expect(recordedDroplets == Set(droplets.map { String($0.id) }), "state and provider disagree (orphans)", sourceLocation: sourceLocation)
        #expect(state.resources.allSatisfy { $0.status != .creating }, sourceLocation: sourceLocation)
    }

    func stop() async {
        await fake.stop()
        try? FileManager.default.removeItem(at: root)
    }
}

@Suite(.serialized)
struct DigitalOceanEndToEndTests {
    @Test func applyNoChangeGrowResizeDestroy() async throws {
        let project = try await DigitalOceanProject.start()
        let applied = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        try await project.expectConverged(nodes: 1)
        let droplet = try #require(await project.fake.dropletSummaries().first)
        #expect(droplet.name == "kryonix-dev-main-1" && droplet.size == "c-16" && droplet.status == "active")
        #expect(droplet.tags.contains("kf-scope:kryonix:dev") && droplet.tags.contains("kf-cluster:main"))

        let unchanged = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(unchanged.status == 0, "\(unchanged.stdout)\n\(unchanged.stderr)")
        #expect(unchanged.stdout.contains("No changes."))
        // configure_nodes: false (the cloud half alone): no swarm, no stacks, and no note either.
        #expect(!unchanged.stdout.contains("note:") && !unchanged.stdout.contains("swarm"), "\(unchanged.stdout)")

        // Two more nodes: one create request carries both droplets.
        try project.editDev { $0 = $0.replacingOccurrences(of: "    nodes: 1\n", with: "    nodes: 3\n") }
        let (grow, growJSON) = await project.plan()
        #expect(SandboxProject.actions(growJSON) == ["node.main.2": "create", "node.main.3": "create",
                                                      "volume.main.2.pgdata": "create", "volume.main.3.pgdata": "create"], "\(grow.stderr)")
        let createsBefore = await project.fake.count("POST /v2/droplets")
        let grown = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(grown.status == 0, "\(grown.stdout)\n\(grown.stderr)")
        let createsAfter = await project.fake.count("POST /v2/droplets")
        #expect(createsAfter - createsBefore == 1)
        try await project.expectConverged(nodes: 3)

        // A bigger size resizes the droplets in place.
        try project.editDev { $0 = $0.replacingOccurrences(of: "size: { cpu: 16, memory: 32GiB, disk: 200GiB }", with: "size: { cpu: 32, memory: 64GiB, disk: 400GiB }") }
        let (_, resizeJSON) = await project.plan()
        #expect(SandboxProject.actions(resizeJSON) == ["node.main.1": "update", "node.main.2": "update", "node.main.3": "update"])
        let resized = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(resized.status == 0, "\(resized.stdout)\n\(resized.stderr)")
        let sizes = await project.fake.dropletSummaries().map(\.size)
        #expect(sizes == ["c-32", "c-32", "c-32"])
        let settled = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(settled.status == 0, "\(settled.stdout)\n\(settled.stderr)")

        let destroyed = await project.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        let counts = await project.fake.objectCounts()
        #expect(counts == ["droplets": 0, "volumes": 0, "vpcs": 0, "firewalls": 0, "keys": 0])
        #expect(try project.state()?.resources.isEmpty ?? true)

        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        // The token appears in no output and no file kryoform wrote.
        for text in [applied.stdout, applied.stderr, grown.stdout, resized.stdout, destroyed.stdout] {
            #expect(!text.contains(project.token))
        }
        let stateText = try String(contentsOf: project.root.appendingPathComponent(".kryoform/state/dev.json"), encoding: .utf8)
        #expect(!stateText.contains(project.token))
        await project.stop()
    }

    @Test("plan -e prod on an empty account: the cloud resources, the swarm and every stack in one plan, with no note")
    func prodPlanHoldsNodesSwarmAndStacks() async throws {
        let fake = try await FakeDigitalOcean.start(contract: try ProviderDescriptions.digitalOcean())
        let root = try shippedProjectCopy(prefix: "kryoform-do-prod", configureNodes: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let url = await fake.baseURL.absoluteString
        try editFile(root.appendingPathComponent("environments/prod.yaml")) {
            $0 = $0.replacingOccurrences(of: "  token: env:DIGITALOCEAN_TOKEN\n", with: "  token: env:DIGITALOCEAN_TOKEN\n  endpoint: \(url)\n")
        }
        let run = await CommandRun.runDetached(["plan", "-e", "prod", "--json", "--no-color"], in: root, environment: ["DIGITALOCEAN_TOKEN": await fake.token])
        await fake.stop()
        #expect(run.status == 0, "\(run.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let changes = plan["changes"] as? [[String: Any]] ?? []
        let addresses = Set(changes.compactMap { $0["address"] as? String })
        #expect(changes.allSatisfy { $0["action"] as? String == "create" })
        #expect(addresses.filter { $0.hasPrefix("node.") }.count == 8, "prod's 1 + 3 + 3 + 1 nodes")
        #expect(addresses.isSuperset(of: ["network", "firewall", "ssh_key", "swarm"]))
        // Every service of the inventory prod selects (all but five), and nothing else.
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
        let environment = try #require(specs.environments.first { $0.name == "prod" })
        let services = specs.stacks(in: environment).filter(\.deploysSomething).map { "stack.\($0.name)" }
        #expect(services.count > 40)
        #expect(addresses.filter { $0.hasPrefix("stack.") } == Set(services))
        #expect(plan["notes"] == nil, "\(plan["notes"] ?? "")")
    }

    @Test func savedPlanDetailedExitCodeAndDrift() async throws {
        let project = try await DigitalOceanProject.start()
        let planFile = project.root.appendingPathComponent("dev.plan.json").path
        let planned = await project.run(["plan", "-e", "dev", "--out", planFile, "--detailed-exitcode"])
        #expect(planned.status == 2, "\(planned.stdout)\n\(planned.stderr)")
        let applied = await project.run(["apply", planFile, "-e", "dev", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let again = await project.run(["apply", planFile, "-e", "dev", "--auto-approve"])
        #expect(again.status != 0 && again.stderr.contains("make a new plan"), "a saved plan applies once: \(again.stderr)")
        let clean = await project.run(["drift", "-e", "dev"])
        #expect(clean.status == 0, "\(clean.stdout)\n\(clean.stderr)")

        await project.fake.deleteDroplet(named: "kryonix-dev-main-1")
        let drifted = await project.run(["drift", "-e", "dev"])
        #expect(drifted.status == 2, "\(drifted.stdout)\n\(drifted.stderr)")
        #expect(drifted.stdout.contains("node.main.1"))
        let replan = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(replan.status == 2)
        #expect(replan.stdout.contains("deleted outside kryoform"))
        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        await project.stop()
    }

    @Test(arguments: [20261121, 7, 99] as [UInt64])
    func faultRunsConvergeWithNoDuplicateAndNoOrphan(seed: UInt64) async throws {
        // One request in ten answers 429, 500 or is dropped (half of the 500s and drops after
        // taking effect), and new droplets are missing from listings for a moment.
        let faults = FakeDigitalOcean.Faults(throttleRate: 0.04, errorRate: 0.03, dropRate: 0.03, listingLag: 0.3, seed: seed)
        let project = try await DigitalOceanProject.start(faults: faults) { $0 = $0.replacingOccurrences(of: "    nodes: 1\n", with: "    nodes: 4\n") }
        var runs: [CommandRun] = []
        for _ in 0..<8 {
            let run = await project.run(["apply", "-e", "dev", "--auto-approve"])
            runs.append(run)
            if run.status == 0 { break }
        }
        #expect(runs.last?.status == 0, "did not converge: \(runs.map { $0.stdout.suffix(600) })")
        let injected = await project.fake.faultsInjected
        #expect(injected > 0, "the fault runs injected no fault")
        try await project.expectConverged(nodes: 4)
        let (_, settled) = await project.plan()
        #expect(SandboxProject.actions(settled).isEmpty, "\(SandboxProject.actions(settled))")

        var destroys: [CommandRun] = []
        for _ in 0..<8 {
            let run = await project.run(["destroy", "-e", "dev", "--auto-approve"])
            destroys.append(run)
            if run.status == 0 { break }
        }
        #expect(destroys.last?.status == 0, "\(destroys.map { $0.stdout.suffix(600) })")
        let counts = await project.fake.objectCounts()
        #expect(counts == ["droplets": 0, "volumes": 0, "vpcs": 0, "firewalls": 0, "keys": 0])
        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        await project.stop()
    }

    @Test("--log-level debug shows each request and its answer, never the token; the default level shows none")
    func debugLogShowsRequests() async throws {
        let project = try await DigitalOceanProject.start()
        let quiet = await project.run(["plan", "-e", "dev", "--no-color"])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(!quiet.stderr.contains("answered"), "\(quiet.stderr)")
        let told = await project.run(["plan", "-e", "dev", "--no-color", "--log-level", "debug"])
        #expect(told.status == 0, "\(told.stderr)")
        for line in ["GET /v2/sizes answered 200 (attempt 1)", "GET /v2/droplets answered 200 (attempt 1)"] {
            #expect(told.stderr.contains(line), "\(line) not in: \(told.stderr)")
        }
        #expect(!told.stderr.contains(project.token) && !told.stdout.contains(project.token))
        await project.stop()
    }

    @Test func anUnsetTokenIsOneClearLine() async throws {
        let project = try await DigitalOceanProject.start()
        let run = await project.run(["plan", "-e", "dev"], unsetToken: true)
        #expect(run.status == 1)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains("set DIGITALOCEAN_TOKEN"))
        let requests = await project.fake.totalRequests
        #expect(requests == 0)
        #expect(try project.state() == nil)
        await project.stop()
    }

    @Test func aRejectedTokenSaysWhatToDoAndIsNeverPrinted() async throws {
        let project = try await DigitalOceanProject.start()
        let run = await project.run(["plan", "-e", "dev"], token: "dop_v1_not_the_right_one")
        #expect(run.status == 1)
        #expect(run.stderr.contains("401") && run.stderr.contains("DIGITALOCEAN_TOKEN"), "\(run.stderr)")
        #expect(!run.stderr.contains("dop_v1_not_the_right_one") && !run.stdout.contains("dop_v1_not_the_right_one"))
        await project.stop()
    }
}
