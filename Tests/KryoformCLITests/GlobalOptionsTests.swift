import Foundation
import Testing

/// Global options before or after the command, `kryoform version`, and `apply PLANFILE` without `-e`.
@Suite("Global options, version, and apply of a saved plan without -e", .serialized)
struct GlobalOptionsTests {
    @Test("-C, --no-color and --log-level work before the command as after it, nested commands included")
    func testGlobals_beforeOrAfterTheCommand() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let after = try CommandRun.run(["validate", "-C", project.root.path, "--no-color"], in: FileManager.default.temporaryDirectory)
        let before = try CommandRun.run(["-C", project.root.path, "--no-color", "--log-level", "info", "validate"], in: FileManager.default.temporaryDirectory)
        #expect(after.status == 0, "\(after.stderr)")
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.stdout == after.stdout)
        #expect(before.stdout.contains("files valid"))
        let joined = try CommandRun.run(["--log-level=info", "-C", project.root.path, "validate", "-e", "local"], in: FileManager.default.temporaryDirectory)
        #expect(joined.status == 0, "\(joined.stderr)")
        #expect(joined.stdout.contains("environment local valid"))

        let apply = try project.run(["apply", "-e", "local", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.stderr)")
        let nested = try CommandRun.run(["-C", project.root.path, "state", "list", "-e", "local"], in: FileManager.default.temporaryDirectory)
        #expect(nested.status == 0, "\(nested.stderr)")
        #expect(nested.stdout.contains("node.main.1"))
        let bad = try CommandRun.run(["-C", project.root.path, "validate", "--frobnicate"], in: FileManager.default.temporaryDirectory)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("--frobnicate"))
    }

    @Test("kryoform version prints what --version prints")
    func testVersion_sameAsFlag() throws {
        let command = try CommandRun.run(["version"])
        let flag = try CommandRun.run(["--version"])
        #expect(command.status == 0)
        #expect(flag.status == 0)
        #expect(!command.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(command.stdout == flag.stdout)
    }

    @Test("apply PLANFILE takes the environment from the plan; with neither -e nor a plan, apply says what it needs")
    func testApply_savedPlanNamesItsEnvironment() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let plan = try project.run(["plan", "-e", "local", "--out", "local.plan.json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let apply = try project.run(["apply", "local.plan.json"])
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stdout.contains("Applying the saved plan local.plan.json"))
        #expect(try project.state()?.resources.isEmpty == false)
        let neither = try project.run(["apply", "--auto-approve"])
        #expect(neither.status == 1)
        #expect(neither.stderr.contains("apply needs -e ENV"), "\(neither.stderr)")
        #expect(!neither.stderr.contains("Fatal error"))
    }
}
