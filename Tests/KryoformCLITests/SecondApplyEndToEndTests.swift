import Foundation
import Planner
import ProviderFakes
import Testing
@testable import Providers

/// Requests of a fake's `requestCounts` ("POST /v2/droplets": 3) that change something at the
/// provider: every POST, PUT, PATCH and DELETE.
func mutatingRequests(_ counts: [String: Int]) -> [String: Int] {
    counts.filter { operation, _ in ["POST ", "PUT ", "PATCH ", "DELETE "].contains { operation.hasPrefix($0) } }
}

/// A second apply of what is already applied: it runs, says there is nothing to do, sends no
/// request that changes anything and leaves the state and the cloud byte for byte as they were.
@Suite("A second apply changes nothing", .serialized)
struct SecondApplyEndToEndTests {
    @Test("on the sandbox: apply again, with and without --auto-approve, leaves the state and the sandbox's world byte for byte")
    func testSecondApply_sandboxUnchanged() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let first = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let before = project.recordedFiles()
        #expect(before.state != nil && before.world != nil)

        let again = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(again.stdout.contains("No changes."), "\(again.stdout)")
        #expect(!again.stdout.contains("…"), "an action ran: \(again.stdout)")
        #expect(project.recordedFiles() == before, "the second apply changed \(project.recordedFiles().differences(from: before))")

        // Nothing to confirm, so no terminal is needed either.
        let unasked = try TerminalRun.run(["apply", "-e", "local"], input: .noTerminal, in: project.root)
        #expect(unasked.status == 0, "\(unasked.stdout)\n\(unasked.stderr)")
        #expect(project.recordedFiles() == before, "the third apply changed \(project.recordedFiles().differences(from: before))")
    }

    @Test("on the fake DigitalOcean: no POST, PUT, PATCH or DELETE; the state files and the fake's objects unchanged")
    func testSecondApply_digitalOceanUnchanged() async throws {
        let project = try await DigitalOceanProject.start()
        let first = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(!mutatingRequests(await project.fake.requestCounts).isEmpty, "the first apply made nothing")
        let recorded = RecordedFiles.read(project.root)
        #expect(recorded.files["state/dev.json"] != nil)
        let droplets = await project.fake.dropletSummaries(), counts = await project.fake.objectCounts()
        let attachments = await project.fake.volumeAttachments()
        await project.fake.resetCounts()

        let again = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(again.stdout.contains("No changes."), "\(again.stdout)")
        let requests = await project.fake.requestCounts
        #expect(!requests.isEmpty, "the second apply did not look at the provider")
        #expect(mutatingRequests(requests).isEmpty, "\(mutatingRequests(requests))")
        #expect(RecordedFiles.read(project.root) == recorded, "the second apply changed \(RecordedFiles.read(project.root).differences(from: recorded))")
        #expect(await project.fake.dropletSummaries() == droplets)
        #expect(await project.fake.objectCounts() == counts)
        #expect(await project.fake.volumeAttachments() == attachments)
        await project.stop()
    }

    @Test("on the fake Vultr: no POST, PUT, PATCH or DELETE; the state files and the fake's objects unchanged")
    func testSecondApply_vultrUnchanged() async throws {
        let project = try await VultrProject.start()
        let first = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(!mutatingRequests(await project.fake.requestCounts).isEmpty, "the first apply made nothing")
        let recorded = RecordedFiles.read(project.root)
        #expect(recorded.files["state/dev.json"] != nil)
        let instances = await project.fake.instanceSummaries(), ids = await project.fake.objectIDs()
        let rules = await project.fake.firewallRules(), attachments = await project.fake.blockAttachments()
        await project.fake.resetCounts()

        let again = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(again.stdout.contains("No changes."), "\(again.stdout)")
        let requests = await project.fake.requestCounts
        #expect(!requests.isEmpty, "the second apply did not look at the provider")
        #expect(mutatingRequests(requests).isEmpty, "\(mutatingRequests(requests))")
        #expect(RecordedFiles.read(project.root) == recorded, "the second apply changed \(RecordedFiles.read(project.root).differences(from: recorded))")
        #expect(await project.fake.instanceSummaries() == instances)
        #expect(await project.fake.objectIDs() == ids)
        #expect(await project.fake.firewallRules() == rules)
        #expect(await project.fake.blockAttachments() == attachments)
        await project.stop()
    }

    @Test("on moto (AWS): no request but Describe*; the state and what EC2 holds unchanged")
    func testSecondApply_awsUnchanged() async throws {
        let project = try await AWSProject.start()
        defer { project.stop() }
        let scope = ResourceScope(project: "kryonix", environment: "dev")
        let first = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let recorded = RecordedFiles.read(project.root)
        #expect(recorded.files["state/dev.json"] != nil)
        let observed = try await project.provider.observe(scope)
        #expect(!observed.isEmpty, "the first apply made nothing")
        try project.moto.startRecording()

        let again = await project.run(["apply", "-e", "dev", "--auto-approve"])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(again.stdout.contains("No changes."), "\(again.stdout)")
        let actions = try project.moto.recordedActions()
        #expect(actions.contains("DescribeInstances"), "the second apply did not look at the provider: \(actions)")
        #expect(actions.filter { !$0.hasPrefix("Describe") }.isEmpty, "\(actions.filter { !$0.hasPrefix("Describe") })")
        #expect(RecordedFiles.read(project.root) == recorded, "the second apply changed \(RecordedFiles.read(project.root).differences(from: recorded))")
        #expect(Set(try await project.provider.observe(scope)) == Set(observed))
    }
}
