import Spec
import Testing

/// Literal secrets: the diagnostic knows where the value is written, and no quoted line shows it.
@Suite("Literal secrets are located but never quoted")
struct SecretMaskingTests {
    func load(_ path: String, _ replace: String, with text: String) throws -> Specs {
        var fileSystem = Fixtures.corpusBase()
        let original = String(decoding: try #require(fileSystem.files[path]), as: UTF8.self)
        #expect(original.contains(replace))
        fileSystem.files[path] = Array(original.replacingOccurrences(of: replace, with: text).utf8)
        return SpecLoader(fileSystem: fileSystem).load()
    }

    @Test("a literal token: the diagnostic marks its span, the excerpt masks it, the message does not quote it", arguments: [
        ("dop_v1_abcdef0123", "  token: ********"),
        ("'dop_v1_abc''def'", "  token: ********"),
        ("\"dop_v1_a\\\"bc\"   # pasted by mistake", "  token: ********   # pasted by mistake"),
        ("dop v1 abc#def", "  token: ********"),
    ])
    func testSecret_providerTokenMasked(value: String, excerpt: String) throws {
        let specs = try load("environments/dev.yaml", "token: env:DIGITALOCEAN_TOKEN", with: "token: \(value)")
        let diagnostic = try #require(specs.diagnostics.first { $0.message.contains("literal secret") })
        #expect(diagnostic.location == SourceLocation(file: "environments/dev.yaml", line: 5, column: 10))
        #expect(diagnostic.secret?.start == diagnostic.location)
        let source = try #require(specs.sources["environments/dev.yaml"])
        #expect(source.excerpt(5) == excerpt)
        #expect(source.excerpt(4) == "  region: nyc3", "other lines are quoted as written")
        for text in [diagnostic.message, diagnostic.fix ?? ""] + diagnostic.notes {
            #expect(!text.contains("dop"))
        }
    }

    @Test("a password in a stack's env is masked in its line; the file's text itself is kept for the specs digest")
    func testSecret_stackEnvMasked() throws {
        let specs = try load("stacks/postgres.yaml", "secrets: [postgres_password]", with: "secrets: [postgres_password]\nenv: { POSTGRES_PASSWORD: hunter2, POSTGRES_USER: app }")
        let diagnostic = try #require(specs.diagnostics.first { $0.message.contains("literal secret") })
        let source = try #require(specs.sources["stacks/postgres.yaml"])
        let excerpt = try #require(source.excerpt(diagnostic.location.line))
        #expect(excerpt == "env: { POSTGRES_PASSWORD: ********, POSTGRES_USER: app }")
        #expect(source.text.contains("hunter2"))
    }

    @Test("credentials in an endpoint URL are masked too")
    func testSecret_endpointCredentialsMasked() throws {
        let specs = try load("environments/dev.yaml", "region: nyc3", with: "region: nyc3\n  endpoint: https://admin:s3cr3t@api.example")
        let diagnostic = try #require(specs.diagnostics.first { $0.message.contains("must not carry credentials") })
        #expect(specs.sources["environments/dev.yaml"]?.excerpt(diagnostic.location.line) == "  endpoint: ********")
    }
}
