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

    @Test("backend: s3 reads its bucket, prefix, region, endpoint and key references; encryption its keys, on any backend")
    func s3AndEncryption() throws {
        let block = "state:\n  backend: s3\n  bucket: ops-state\n  prefix: /kryoform/\n  region: eu-central-1\n  endpoint: https://minio.internal:9000/\n"
            + "  access_key_id: env:KRYOFORM_S3_KEY\n  secret_access_key: file:~/.s3-secret\n"
            + "  encryption:\n    key: env:KRYOFORM_STATE_KEY\n    fallback_key: env:KRYOFORM_STATE_OLD_KEY\n"
        let specs = SpecLoader(fileSystem: project(block)).load()
        #expect(specs.diagnostics.filter { $0.severity == .error }.isEmpty, "\(specs.diagnostics.map(\.line))")
        let state = try #require(specs.project?.state)
        #expect(state.backend == .s3)
        #expect(state.s3 == Project.S3Settings(bucket: "ops-state", prefix: "kryoform", region: "eu-central-1", endpoint: "https://minio.internal:9000",
                                               accessKeyID: .environment("KRYOFORM_S3_KEY"), secretAccessKey: .file("~/.s3-secret")))
        #expect(state.encryption == Project.StateEncryption(key: .environment("KRYOFORM_STATE_KEY"), fallbackKey: .environment("KRYOFORM_STATE_OLD_KEY")))
        let aws = SpecLoader(fileSystem: project("state:\n  backend: s3\n  bucket: ops-state\n  region: us-east-1\n  access_key_id: env:A\n  secret_access_key: env:S\n")).load()
        #expect(aws.project?.state.s3?.endpoint == nil && aws.project?.state.s3?.prefix == "")
    }

    @Test("a postgres backend without url, a literal url, a bad schema, s3 and url on local are errors at their line")
    func mistakes() throws {
        let cases: [(String, String)] = [
            ("state:\n  backend: postgres\n", "the postgres backend needs 'url'"),
            ("state:\n  backend: postgres\n  url: postgres://ops:hunter2@db/state\n", "state.url"),
            ("state:\n  backend: postgres\n  url: env:URL\n  schema: Ops-State\n", "state.schema must be a lower-case SQL name"),
            ("state:\n  backend: s3\n", "the s3 backend needs 'bucket'"),
            ("state:\n  backend: s3\n  bucket: ops\n  region: us-east-1\n  access_key_id: AKIA\n  secret_access_key: env:S\n", "state.access_key_id"),
            ("state:\n  backend: s3\n  bucket: Ops_State\n  region: us-east-1\n  access_key_id: env:A\n  secret_access_key: env:S\n", "state.bucket must be a bucket name"),
            ("state:\n  backend: s3\n  bucket: ops\n  region: us-east-1\n  endpoint: https://u:hunter2@minio:9000/x\n  access_key_id: env:A\n  secret_access_key: env:S\n", "state.endpoint must be the server's address"),
            ("state:\n  backend: s3\n  bucket: ops\n  region: us-east-1\n  url: env:URL\n  access_key_id: env:A\n  secret_access_key: env:S\n", "'url' is a setting of the postgres backend, not of s3"),
            ("state:\n  backend: local\n  url: env:URL\n", "'url' is a setting of the postgres backend"),
            ("state:\n  backend: local\n  bucket: ops\n", "'bucket' is a setting of the s3 backend"),
            ("state:\n  backend: postgress\n  url: env:URL\n", "state.backend must be local, postgres or s3"),
            ("state:\n  backend: local\n  encryption: { key: hunter2 }\n", "state.encryption.key"),
            ("state:\n  backend: local\n  encryption: { key: env:K, fallback_key: env:K }\n", "fallback_key names the same secret as key"),
            ("state:\n  backend: local\n  encryption: { fallback_key: env:K }\n", "key"),
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
