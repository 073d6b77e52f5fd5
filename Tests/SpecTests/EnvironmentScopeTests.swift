import Spec
import Testing

/// What blocks an environment: the project's problems, its own file's and those of the stacks it
/// selects; not a broken stack it does not select, nor another environment's file.
@Suite("An environment is blocked only by the files it uses")
struct EnvironmentScopeTests {
    func load(selecting selection: String, web: String) -> Specs {
        var fileSystem = Fixtures.corpusBase()
        let environment = String(decoding: fileSystem.files["environments/dev.yaml"] ?? [], as: UTF8.self)
        fileSystem.files["environments/dev.yaml"] = Array(environment.replacingOccurrences(of: "stacks: all", with: "stacks: \(selection)").utf8)
        fileSystem.files["stacks/web.yaml"] = Array(web.utf8)
        return SpecLoader(fileSystem: fileSystem).load()
    }

    static let misspeltWeb = String(decoding: Fixtures.corpusBase().files["stacks/web.yaml"] ?? [], as: UTF8.self)
        .replacingOccurrences(of: "replicas: 2", with: "replica: 2")

    @Test("a stack with an error, selected or not: validate reports it; it blocks dev only when dev selects it",
          arguments: [("[postgres, redis]", false), ("{ except: [web] }", false), ("all", true), ("[postgres, redis, web]", true)])
    func testScope_brokenStack(selection: String, blocks: Bool) {
        let specs = load(selecting: selection, web: Self.misspeltWeb)
        #expect(specs.diagnostics.map(\.line) == ["stacks/web.yaml:7:1: error: unknown key 'replica' in stack"])
        #expect(specs.diagnostics(forEnvironment: "dev").hasErrors == blocks)
    }

    @Test("a stack file that cannot be read at all blocks only an environment that selects its name",
          arguments: [("[postgres, redis]", false), ("all", true)])
    func testScope_unreadableStack(selection: String, blocks: Bool) {
        let specs = load(selecting: selection, web: "stack: [web\n")
        #expect(specs.diagnostics.hasErrors)
        #expect(specs.diagnostics.allSatisfy { $0.location.file == "stacks/web.yaml" })
        #expect(specs.diagnostics(forEnvironment: "dev").hasErrors == blocks)
    }
}
