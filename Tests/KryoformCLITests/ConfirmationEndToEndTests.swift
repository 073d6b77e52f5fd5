import Foundation
import Testing

/// apply and destroy without `--auto-approve`: refused with no terminal, asked on one, and
/// carried out only when "yes" is typed.
@Suite("Confirmation of apply and destroy, with and without a terminal", .serialized)
struct ConfirmationEndToEndTests {
    @Test("apply without --auto-approve and no terminal is refused with the two ways forward; nothing is made")
    func testApply_noTerminalRefused() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let refused = try TerminalRun.run(["apply", "-e", "local"], input: .noTerminal, in: project.root)
        #expect(refused.status == 1, "\(refused.stdout)\n\(refused.stderr)")
        #expect(refused.stderr.contains("error: apply needs confirmation and there is no terminal to ask on"), "\(refused.stderr)")
        #expect(refused.stderr.contains("= fix: pass --auto-approve, or apply a reviewed plan with kryoform apply -e local FILE"), "\(refused.stderr)")
        #expect(refused.stdout.contains("+ node.main.1"), "the plan is shown before the question")
        #expect(!refused.stdout.contains("creating…"))
        #expect(project.recordedFiles().state == nil && project.recordedFiles().world == nil, "something was made")
    }

    @Test("apply on a terminal asks; anything but yes cancels and changes nothing, yes applies")
    func testApply_typingYes() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let no = try TerminalRun.run(["apply", "-e", "local"], input: .terminal(typed: "y\n"), in: project.root)
        #expect(no.status == 1, "\(no.stdout)\n\(no.stderr)")
        #expect(no.stdout.contains("Do you want to apply these changes to local? Only 'yes' is accepted: "), "\(no.stdout)")
        #expect(no.stderr.contains("Apply cancelled: nothing was changed."), "\(no.stderr)")
        #expect(project.recordedFiles().state == nil && project.recordedFiles().world == nil, "a cancelled apply made something")

        let yes = try TerminalRun.run(["apply", "-e", "local"], input: .terminal(typed: "yes\n"), in: project.root)
        #expect(yes.status == 0, "\(yes.stdout)\n\(yes.stderr)")
        #expect(yes.stdout.contains("Do you want to apply these changes to local? Only 'yes' is accepted: "))
        #expect(yes.stdout.contains("Apply complete"), "\(yes.stdout)")
        try project.expectConverged()
    }

    @Test("destroy with no terminal is refused; on a terminal it asks in its own words; no keeps everything byte for byte, yes deletes it all")
    func testDestroy_typingYes() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        #expect(try project.run(["apply", "-e", "local", "--auto-approve"]).status == 0)
        let before = project.recordedFiles()
        let unasked = try TerminalRun.run(["destroy", "-e", "local"], input: .noTerminal, in: project.root)
        #expect(unasked.status == 1, "\(unasked.stdout)\n\(unasked.stderr)")
        #expect(unasked.stderr.contains("error: destroy needs confirmation and there is no terminal to ask on"), "\(unasked.stderr)")
        #expect(project.recordedFiles() == before, "an unconfirmed destroy changed \(project.recordedFiles().differences(from: before))")

        let no = try TerminalRun.run(["destroy", "-e", "local"], input: .terminal(typed: "no\n"), in: project.root)
        #expect(no.status == 1, "\(no.stdout)\n\(no.stderr)")
        #expect(no.stdout.contains("Do you want to destroy everything in local listed above? Only 'yes' is accepted: "), "\(no.stdout)")
        #expect(no.stderr.contains("Destroy cancelled: nothing was changed."), "\(no.stderr)")
        #expect(project.recordedFiles() == before, "a cancelled destroy changed \(project.recordedFiles().differences(from: before))")

        let yes = try TerminalRun.run(["destroy", "-e", "local"], input: .terminal(typed: "yes\n"), in: project.root)
        #expect(yes.status == 0, "\(yes.stdout)\n\(yes.stderr)")
        #expect(yes.stdout.contains("Destroy complete"), "\(yes.stdout)")
        #expect(try project.sandboxObjects().isEmpty)
        #expect(try project.state()?.resources.isEmpty == true)
    }
}
