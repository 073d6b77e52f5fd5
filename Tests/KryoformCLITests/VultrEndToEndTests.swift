import Foundation
import Planner
import ProviderFakes
import Testing

/// The shipped project's `dev` environment moved to provider vultr (region ewr) and pointed at
/// a fake Vultr server with `endpoint:`, driven through the built binary.
struct VultrProject {
    let root: URL
    let fake: FakeVultr
    let apiKey: String

    static func start(faults: FakeVultr.Faults = .init(), edit: (inout String) -> Void = { _ in }) async throws -> VultrProject {
        let fake = try await FakeVultr.start(faults: faults)
        let root = try shippedProjectCopy(prefix: "kryoform-vultr")
        let project = VultrProject(root: root, fake: fake, apiKey: await fake.apiKey)
        let url = await fake.baseURL.absoluteString
        try project.editDev {
            $0 = $0.replacingOccurrences(of: "  name: digitalocean\n", with: "  name: vultr\n")
                .replacingOccurrences(of: "  region: nyc3\n", with: "  region: ewr\n")
                .replacingOccurrences(of: "  token: env:DIGITALOCEAN_TOKEN\n", with: "  api_key: env:VULTR_API_KEY\n  endpoint: \(url)\n")
            edit(&$0)
        }
        return project
    }

    func editDev(_ edit: (inout String) -> Void) throws {
        try editFile(root.appendingPathComponent("environments/dev.yaml"), edit)
    }

    /// Runs kryoform on a thread of its own, so the fake keeps answering meanwhile.
    func run(_ arguments: [String], apiKey: String? = nil) async -> CommandRun {
        await CommandRun.runDetached(arguments + ["--no-color"], in: root, environment: ["VULTR_API_KEY": apiKey ?? self.apiKey])
    }

    func plan(_ extra: [String] = []) async -> (run: CommandRun, json: [String: Any]) {
        let run = await self.run(["plan", "-e", "dev", "--json"] + extra)
        return (run, (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:])
    }

    func state() throws -> State? {
        try LocalStateStore(projectRoot: root, environment: "dev").read()
    }

    /// One instance per label, each block attached, and the state naming exactly what exists:
    /// no duplicate, no orphan.
    func expectConverged(nodes: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let instances = await fake.instanceSummaries()
        let labels = instances.map(\.label)
        #expect(Set(labels).count == labels.count, "duplicate instances: \(labels.sorted())", sourceLocation: sourceLocation)
        #expect(instances.count == nodes, "instances: \(labels.sorted())", sourceLocation: sourceLocation)
        let counts = await fake.objectCounts()
        #expect(counts == ["instances": nodes, "blocks": nodes, "vpcs": 1, "firewalls": 1, "keys": 1], "\(counts)", sourceLocation: sourceLocation)
        let attachments = await fake.blockAttachments()
        #expect(attachments.values.allSatisfy { $0 != nil }, "a block is not attached: \(attachments)", sourceLocation: sourceLocation)
        let state = try #require(try self.state(), sourceLocation: sourceLocation)
        let recorded = Set(state.resources.compactMap(\.providerID))
        for (kind, ids) in await fake.objectIDs() {
            #expect(ids.isSubset(of: recorded), "\(kind) the state does not know (orphans): \(ids.subtracting(recorded))", sourceLocation: sourceLocation)
        }
        let recordedNodes = Set(state.resources.filter { $0.kind == .node }.compactMap(\.providerID))
        #expect(recordedNodes == Set(instances.map(\.id)), "state and provider disagree", sourceLocation: sourceLocation)
        #expect(state.resources.allSatisfy { $0.status != .creating }, sourceLocation: sourceLocation)
    }

    func stop() async {
        await fake.stop()
        try? FileManager.default.removeItem(at: root)
    }
}

@Suite(.serialized)
struct VultrEndToEndTests {
    @Test func applyNoChangeResizeGrowDestroy() async throws {
        let project = try await VultrProject.start()
        let applied = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        try await project.expectConverged(nodes: 1)
        let instance = try #require(await project.fake.instanceSummaries().first)
        #expect(instance.label == "kryonix-dev-main-1" && instance.plan == "voc-c-16c-32gb-200s-amd" && instance.status == "active", "\(instance)")
        #expect(instance.tags.contains("kf-scope:kryonix:dev") && instance.tags.contains("kf-cluster:main"))

        let unchanged = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(unchanged.status == 0, "\(unchanged.stdout)\n\(unchanged.stderr)")
        #expect(unchanged.stdout.contains("No changes."))
        // configure_nodes: false (the cloud half alone): no swarm, no stacks, and no note either.
        #expect(!unchanged.stdout.contains("note:") && !unchanged.stdout.contains("swarm"), "\(unchanged.stdout)")

        // A bigger size resizes the instance in place.
        try project.editDev { $0 = $0.replacingOccurrences(of: "size: { cpu: 16, memory: 32GiB, disk: 200GiB }", with: "size: { cpu: 32, memory: 64GiB, disk: 400GiB }") }
        let (resize, resizeJSON) = await project.plan()
        #expect(SandboxProject.actions(resizeJSON) == ["node.main.1": "update"], "\(resize.stderr)")
        let resized = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(resized.status == 0, "\(resized.stdout)\n\(resized.stderr)")
        let after = await project.fake.instanceSummaries()
        #expect(after.map(\.plan) == ["voc-c-32c-64gb-400s-amd"] && after.map(\.id) == [instance.id])
        let patches = await project.fake.count("PATCH /v2/instances/{id}")
        #expect(patches == 1)

        // One more node: one more instance and its block.
        try project.editDev { $0 = $0.replacingOccurrences(of: "    nodes: 1\n", with: "    nodes: 2\n") }
        let (_, growJSON) = await project.plan()
        #expect(SandboxProject.actions(growJSON) == ["node.main.2": "create", "volume.main.2.pgdata": "create"])
        let grown = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(grown.status == 0, "\(grown.stdout)\n\(grown.stderr)")
        try await project.expectConverged(nodes: 2)
        let settled = await project.run(["plan", "-e", "dev", "--detailed-exitcode"])
        #expect(settled.status == 0, "\(settled.stdout)\n\(settled.stderr)")

        let destroyed = await project.run(["destroy", "-e", "dev", "--auto-approve"])
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        let counts = await project.fake.objectCounts()
        #expect(counts == ["instances": 0, "blocks": 0, "vpcs": 0, "firewalls": 0, "keys": 0])
        #expect(try project.state()?.resources.isEmpty ?? true)

        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        // The API key appears in no output and no file kryoform wrote.
        for text in [applied.stdout, applied.stderr, unchanged.stdout, resized.stdout, resized.stderr, grown.stdout, destroyed.stdout, destroyed.stderr] {
            #expect(!text.contains(project.apiKey))
        }
        let stateText = try String(contentsOf: project.root.appendingPathComponent(".kryoform/state/dev.json"), encoding: .utf8)
        #expect(!stateText.contains(project.apiKey))
        await project.stop()
    }

    @Test(arguments: [20261121, 7] as [UInt64])
    func faultRunsConvergeWithNoDuplicateAndNoOrphan(seed: UInt64) async throws {
        // One request in ten answers 429, 500 or is dropped (half of the 500s and drops after
        // taking effect), and new instances are missing from listings for a moment.
        let faults = FakeVultr.Faults(throttleRate: 0.04, errorRate: 0.03, dropRate: 0.03, listingLag: 0.3, seed: seed)
        let project = try await VultrProject.start(faults: faults) { $0 = $0.replacingOccurrences(of: "    nodes: 1\n", with: "    nodes: 3\n") }
        var runs: [CommandRun] = []
        for _ in 0..<10 {
            let run = await project.run(["apply", "-e", "dev", "--auto-approve"])
            runs.append(run)
            if run.status == 0 { break }
        }
        #expect(runs.last?.status == 0, "did not converge: \(runs.map { $0.stdout.suffix(600) + $0.stderr.suffix(600) })")
        let injected = await project.fake.faultsInjected
        #expect(injected > 0, "the fault runs injected no fault")
        try await project.expectConverged(nodes: 3)
        let (_, settled) = await project.plan()
        #expect(SandboxProject.actions(settled).isEmpty, "\(SandboxProject.actions(settled))")

        var destroys: [CommandRun] = []
        for _ in 0..<10 {
            let run = await project.run(["destroy", "-e", "dev", "--auto-approve"])
            destroys.append(run)
            if run.status == 0 { break }
        }
        #expect(destroys.last?.status == 0, "\(destroys.map { $0.stdout.suffix(600) + $0.stderr.suffix(600) })")
        let counts = await project.fake.objectCounts()
        #expect(counts == ["instances": 0, "blocks": 0, "vpcs": 0, "firewalls": 0, "keys": 0])
        let violations = await project.fake.violations
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        await project.stop()
    }

    @Test func aRejectedKeySaysWhatToDoAndIsNeverPrinted() async throws {
        let project = try await VultrProject.start()
        let run = await project.run(["plan", "-e", "dev"], apiKey: "NOTTHERIGHTVULTRKEY")
        #expect(run.status == 1)
        #expect(run.stderr.contains("401") && run.stderr.contains("VULTR_API_KEY"), "\(run.stderr)")
        #expect(!run.stderr.contains("NOTTHERIGHTVULTRKEY") && !run.stdout.contains("NOTTHERIGHTVULTRKEY"))
        let unset = await project.run(["plan", "-e", "dev"], apiKey: "")
        #expect(unset.status == 1 && unset.stderr.contains("set VULTR_API_KEY"), "\(unset.stderr)")
        await project.stop()
    }
}
