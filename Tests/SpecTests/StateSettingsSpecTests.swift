import Spec
import Testing

/// `state:` in kryoform.yaml, and the sandbox's `provider.directory`.
@Suite("Where state is kept, in the specs")
struct StateSettingsSpecTests {
    /// The corpus project with its `state:` block replaced by `block`.
    func project(_ block: String) -> InMemoryFileSystem {
        var fileSystem = Fixtures.corpusBase()
        let lines = (fileSystem["kryoform.yaml"] ?? "").split(separator: "\n", omittingEmptySubsequences: false)
        var kept: [Substring] = []
        var inState = false
        for line in lines {
            if line.hasPrefix("state:") { inState = true; continue }
            if inState && (line.hasPrefix(" ") || line.isEmpty) { continue }
            inState = false
            kept.append(line)
        }
        fileSystem["kryoform.yaml"] = kept.joined(separator: "\n") + "\n" + block
        return fileSystem
    }

    @Test("backend: postgres reads its url reference and schema; local is the default")
    func postgres() throws {
        let specs = SpecLoader(fileSystem: project("state:\n  backend: postgres\n  url: env:KRYOFORM_STATE_URL\n  schema: platform_ops\n")).load()
        #expect(specs.diagnostics.filter { $0.severity == .error }.isEmpty, "\(specs.diagnostics.map(\.line))")
        #expect(specs.project?.state == Project.StateSettings(backend: .postgres, url: .environment("KRYOFORM_STATE_URL"), schema: "platform_ops"))
        let plain = SpecLoader(fileSystem: project("")).load()
        #expect(plain.project?.state == Project.StateSettings())
        #expect(plain.project?.state.schema == "kryoform")
    }

    @Test("a postgres backend without url, a literal url, a bad schema, s3 and url on local are errors at their line")
    func mistakes() throws {
        let cases: [(String, String)] = [
            ("state:\n  backend: postgres\n", "the postgres backend needs 'url'"),
            ("state:\n  backend: postgres\n  url: postgres://ops:hunter2@db/state\n", "state.url"),
            ("state:\n  backend: postgres\n  url: env:URL\n  schema: Ops-State\n", "state.schema must be a lower-case SQL name"),
            ("state:\n  backend: s3\n", "state backend 's3' is not built yet"),
            ("state:\n  backend: local\n  url: env:URL\n", "'url' is a setting of the postgres backend"),
            ("state:\n  backend: postgress\n  url: env:URL\n", "state.backend must be local or postgres"),
        ]
        for (block, expected) in cases {
            let errors = SpecLoader(fileSystem: project(block)).load().diagnostics.filter { $0.severity == .error }
            #expect(errors.contains { $0.line.hasPrefix("kryoform.yaml:") && $0.message.contains(expected) }, "\(block): \(errors.map(\.line))")
            #expect(!errors.map(\.line).joined().contains("hunter2"), "a literal url is repeated: \(errors.map(\.line))")
        }
    }

    @Test("provider.directory places the sandbox's world; on another provider it is an error")
    func sandboxDirectory() throws {
        var fileSystem = Fixtures.corpusBase()
        fileSystem["environments/box.yaml"] = "environment: box\nprovider:\n  name: sandbox\n  directory: ../shared-sandbox\ndomain: demo.example\nclusters:\n  main: { roles: [application, data], nodes: 1, size: { cpu: 8, memory: 16GiB } }\nstacks: all\n"
        let specs = SpecLoader(fileSystem: fileSystem).load()
        #expect(specs.diagnostics(forEnvironment: "box").filter { $0.severity == .error }.isEmpty, "\(specs.diagnostics.map(\.line))")
        #expect(specs.environments.first { $0.name == "box" }?.provider.directory == "../shared-sandbox")
        fileSystem["environments/box.yaml"] = "environment: box\nprovider:\n  name: vultr\n  region: ewr\n  directory: x\ndomain: demo.example\nclusters:\n  main: { roles: [application, data], nodes: 1, size: { cpu: 8, memory: 16GiB } }\nstacks: all\n"
        let errors = SpecLoader(fileSystem: fileSystem).load().diagnostics(forEnvironment: "box").filter { $0.severity == .error }
        #expect(errors.contains { $0.line.hasPrefix("environments/box.yaml:5:") && $0.message.contains("'directory' belongs to the sandbox provider") }, "\(errors.map(\.line))")
    }
}
