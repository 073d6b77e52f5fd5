import Foundation
import Testing

/// What blocks an environment's plan (only the files it uses), environments declared twice, and
/// literal secrets, through the binary on a copy of the shipped project.
@Suite("Spec problems end to end: scope, duplicate environments, masked secrets")
struct SpecScopeEndToEndTests {
    @Test("a broken stack that local does not select blocks neither local's plan nor validate -e local; validate and staging (which selects it) report it")
    func testScope_unselectedBrokenStackDoesNotBlock() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        try editFile(project.root.appendingPathComponent("stacks/airflow.yaml")) { $0 = $0.replacingOccurrences(of: "kind: service", with: "kind: servce") }
        let location = "stacks/airflow.yaml:3:7: error: kind must be one of"

        let plan = try project.run(["plan", "-e", "local"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("kryoform will make these changes"))

        let validate = try project.run(["validate"])
        #expect(validate.status == 1)
        #expect(validate.stdout.contains(location), "\(validate.stdout)")

        let staging = try project.run(["plan", "-e", "staging"], environment: ["DIGITALOCEAN_TOKEN": "x"])
        #expect(staging.status == 1)
        #expect(staging.stderr.contains(location), "\(staging.stderr)")
        #expect(staging.stderr.contains("fix the specs"))
    }

    @Test("two files declaring environment local: validate fails at the second naming the first, and plan -e local is blocked")
    func testEnvironments_declaredTwiceIsAnError() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let environments = project.root.appendingPathComponent("environments")
        try FileManager.default.copyItem(at: environments.appendingPathComponent("local.yaml"), to: environments.appendingPathComponent("local2.yaml"))
        let validate = try project.run(["validate"])
        #expect(validate.status == 1)
        #expect(validate.stdout.contains("environments/local2.yaml:2:14: error: environment 'local' is also declared in environments/local.yaml"), "\(validate.stdout)")
        #expect(validate.stdout.contains("first declared at environments/local.yaml:2:14"))
        let plan = try project.run(["plan", "-e", "local"])
        #expect(plan.status == 1)
        #expect(plan.stderr.contains("environments/local2.yaml:2:14"), "\(plan.stderr)")
        #expect(try project.state() == nil)
    }

    @Test("a file whose name differs from its environment: is a located warning; -e matches the environment: key, as its help says")
    func testEnvironments_fileNameDiffersWarns() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let environments = project.root.appendingPathComponent("environments")
        try FileManager.default.moveItem(at: environments.appendingPathComponent("local.yaml"), to: environments.appendingPathComponent("sandbox.yaml"))
        let validate = try project.run(["validate"])
        #expect(validate.status == 0)
        #expect(validate.stdout.contains("environments/sandbox.yaml:2:14: warning: environments/sandbox.yaml declares environment 'local'; -e local selects it, -e sandbox does not"), "\(validate.stdout)")
        let help = try project.run(["plan", "--help"])
        #expect(help.stdout.contains("environment: key"), "\(help.stdout)")
    }

    @Test("a literal token is reported at its line and column with the value masked, in validate, validate --json and plan")
    func testSecrets_literalValueIsMasked() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let token = "dop_v1_abcdef0123456789feedface"
        try editFile(project.root.appendingPathComponent("environments/dev.yaml")) {
            $0 = $0.replacingOccurrences(of: "token: env:DIGITALOCEAN_TOKEN", with: "token: \(token)")
        }
        try editFile(project.root.appendingPathComponent("stacks/postgres.yaml")) {
            $0 = $0.replacingOccurrences(of: "POSTGRES_USER: kryonix", with: "POSTGRES_USER: kryonix\n  POSTGRES_PASSWORD: \"pg-hunter2-Secret\"")
        }
        let validate = try project.run(["validate"])
        let json = try project.run(["validate", "--json"])
        let dev = try project.run(["plan", "-e", "dev"], environment: ["DIGITALOCEAN_TOKEN": "x"])
        let local = try project.run(["plan", "-e", "local"])
        for run in [validate, json, dev, local] {
            #expect(run.status == 1)
            for leaked in [token, "dop_v1", "abcdef0123", "pg-hunter2-Secret", "hunter2"] {
                #expect(!run.stdout.contains(leaked) && !run.stderr.contains(leaked), "\(leaked) was printed")
            }
        }
        let expected = """
        environments/dev.yaml:14:10: error: provider.token is a literal secret; secrets must be references, never values in a spec
         14 |   token: ********
            |          ^~~~~~~
        """
        #expect(validate.stdout.contains(expected), "\(validate.stdout)")
        #expect(dev.stderr.contains(expected), "\(dev.stderr)")
        #expect(local.stderr.contains("stacks/postgres.yaml:17:22: error: env 'POSTGRES_PASSWORD' holds a literal secret"), "\(local.stderr)")
        #expect(local.stderr.contains(" 17 |   POSTGRES_PASSWORD: ********\n"), "\(local.stderr)")
        #expect(json.stdout.contains("\"line\" : 14"))
    }
}
