import Foundation
import Testing

extension TerminalRun {
    /// `run` on a thread of its own, so a fake server in this process keeps answering meanwhile.
    static func runDetached(_ arguments: [String], outputOnTerminal: Bool, in root: URL, environment: [String: String]) async throws -> CommandRun {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try TerminalRun.run(arguments, outputOnTerminal: outputOnTerminal, in: root, environment: environment) })
            }
        }
    }
}

/// What a user at a terminal sees: colours unless NO_COLOR or --no-color, and a retried request
/// at any log level.
@Suite("Output on a terminal", .serialized)
struct TerminalOutputEndToEndTests {
    static let escape = "\u{1B}["

    @Test("a plan on a terminal is coloured; NO_COLOR set, or --no-color, prints it without colour")
    func testColours_onATerminalUnlessTurnedOff() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let coloured = try TerminalRun.run(["plan", "-e", "local"], outputOnTerminal: true, in: project.root, environment: ["NO_COLOR": ""])
        #expect(coloured.status == 0, "\(coloured.stdout)")
        #expect(coloured.stdout.contains("node.main.1") && coloured.stdout.contains(Self.escape), "\(coloured.stdout)")

        let variable = try TerminalRun.run(["plan", "-e", "local"], outputOnTerminal: true, in: project.root, environment: ["NO_COLOR": "1"])
        #expect(variable.status == 0, "\(variable.stdout)")
        #expect(variable.stdout.contains("node.main.1") && !variable.stdout.contains(Self.escape), "\(variable.stdout)")

        let flag = try TerminalRun.run(["plan", "-e", "local", "--no-color"], outputOnTerminal: true, in: project.root, environment: ["NO_COLOR": ""])
        #expect(flag.status == 0, "\(flag.stdout)")
        #expect(flag.stdout.contains("node.main.1") && !flag.stdout.contains(Self.escape), "\(flag.stdout)")
    }

    @Test("a retried provider request is shown on a terminal at the default log level")
    func testRetries_shownOnATerminal() async throws {
        let project = try await DigitalOceanProject.start()
        await project.fake.failNext("GET /v2/droplets", .serverError(afterEffect: false))
        let plan = try await TerminalRun.runDetached(["plan", "-e", "dev", "--no-color"], outputOnTerminal: true, in: project.root,
                                                     environment: ["DIGITALOCEAN_TOKEN": project.token])
        #expect(plan.status == 0, "\(plan.stdout)")
        #expect(plan.stdout.contains("retrying GET /v2/droplets in ") && plan.stdout.contains(", attempt 2 of 8: answered 500"), "\(plan.stdout)")
        await project.stop()
    }
}
