import Foundation
import ProviderFakes
import Testing
import TestSupport

/// Reaching a provider: an address where nothing listens, retries said out loud, and
/// throttling while a plan observes.
@Suite("Reaching the provider: refused connections, retries on the log, throttling during plan")
struct ProviderReachEndToEndTests {
    @Test("an endpoint where nothing listens fails at once, naming the address, with no retry")
    func refusedEndpointFailsAtOnce() async throws {
        let port = try LoopbackNetwork.freePort()
        let root = try shippedProjectCopy(prefix: "kryoform-refused")
        try editFile(root.appendingPathComponent("environments/dev.yaml")) {
            $0 = $0.replacingOccurrences(of: "  token: env:DIGITALOCEAN_TOKEN\n", with: "  token: env:DIGITALOCEAN_TOKEN\n  endpoint: http://127.0.0.1:\(port)\n")
        }
        let plan = await CommandRun.runDetached(["plan", "-e", "dev", "--log-level", "info", "--no-color"], in: root,
                                                environment: ["DIGITALOCEAN_TOKEN": "dop_v1_test"])
        #expect(plan.status == 1, "\(plan.stdout)")
        #expect(plan.stderr.contains("connection refused: nothing listens at http://127.0.0.1:\(port)"), "\(plan.stderr)")
        #expect(!plan.stderr.contains("retrying"), "a refused connection was retried: \(plan.stderr)")
    }

    @Test("a retried request says so at --log-level info: method, path, wait, attempt and why")
    func retriesAreLogged() async throws {
        let project = try await DigitalOceanProject.start()
        await project.fake.failNext("GET /v2/droplets", .serverError(afterEffect: false))
        let plan = await project.run(["plan", "-e", "dev", "--log-level", "info"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stderr.contains("retrying GET /v2/droplets in ") && plan.stderr.contains(", attempt 2 of 8: answered 500"), "\(plan.stderr)")
        let quiet = await project.run(["plan", "-e", "dev"])
        #expect(!quiet.stderr.contains("retrying"), "below info and off a terminal, retries are not printed: \(quiet.stderr)")
    }

    @Test("the sandbox throttling during plan is retried, as the apply walk retries it")
    func throttledPlanIsRetried() throws {
        let project = try SandboxProject()
        let plan = try project.run(["plan", "-e", "local", "--log-level", "info"], faults: "throttle=2")
        #expect(plan.status == 0, "\(plan.stdout)\(plan.stderr)")
        #expect(plan.stdout.contains("Plan: "), "\(plan.stdout)")
        #expect(plan.stderr.contains("throttled by the provider; retrying in "), "\(plan.stderr)")
    }
}
