import Foundation
import ProviderFakes
import Testing

/// A kryoform run killed (SIGKILL) while it sits inside one request to a fake: the fake carries
/// the request out, holds its answer, tells the test, the test kills the process, and the answer
/// is lost. What the fake held and whether it still held it at the kill are returned, so a test
/// can assert that the kill really landed inside that request.
struct KilledInsideRequest {
    /// The request the fake held (`POST /v2/vpcs`), or nil when kryoform never sent it.
    var held: String?
    /// The fake still held the answer when the process was gone: kryoform never had it.
    var killedBeforeTheAnswer: Bool
    /// The HTTP status of the held answer (nil when nothing was held).
    var heldStatus: Int?
    /// What kryoform printed before it was killed.
    var output: String

    /// How long to wait for the request before giving up, so a product that never sends it fails
    /// the test instead of hanging it. Not a timing assertion: the wait ends on the event.
    static let bound = 300.0

    static func run(_ arguments: [String], in root: URL, environment: [String: String], fake: some AnswerHoldingFake,
                    holding operation: String) async throws -> KilledInsideRequest {
        await fake.holdNextAnswer(operation)
        let process = Process()
        process.executableURL = CommandRun.binary
        process.arguments = arguments + ["--no-color"]
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = root.appendingPathComponent("killed-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        // A run that ends without sending the request ends the wait too.
        process.terminationHandler = { _ in Task { await fake.stopWaiting() } }
        try process.run()
        let held = await fake.waitUntilHeld(bound: bound)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let stillHeld = await fake.isHoldingAnswer
        let status = held == nil ? nil : await fake.heldAnswerStatus
        await fake.loseHeldAnswer()
        return KilledInsideRequest(held: held, killedBeforeTheAnswer: held != nil && stillHeld && process.terminationReason == .uncaughtSignal,
                                   heldStatus: status, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// Checks that the kill landed inside `operation` and that the fake had carried the request
    /// out: the held answer was a 2xx, not a refusal (a 4xx leaves nothing to adopt).
    func expectKilledInsideASuccess(_ operation: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(held != nil, "kryoform never sent \(operation): \(output)", sourceLocation: sourceLocation)
        #expect(killedBeforeTheAnswer, "the kill did not land inside \(operation): \(output)", sourceLocation: sourceLocation)
        #expect(heldStatus.map { (200..<300).contains($0) } == true,
                "the held answer to \(operation) was \(heldStatus.map(String.init) ?? "none"), not a 2xx: \(output)", sourceLocation: sourceLocation)
    }
}
