import Spec
import Testing

/// A small deterministic random source (SplitMix64), so a failing mutation can be replayed by its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random damage to a YAML file: the kinds of edits that break specs in practice, and worse.
enum Mutation {
    static let fragments: [[UInt8]] = [
        "\t", ":", ": ", " ", "- ", "{", "}", "[", "]", "\"", "'", "&a ", "*a", "<<: *a", "\n", "#", "!!binary ", "---\n",
        "?", "|", ">", "%YAML 1.2\n", "~", "1e9999", "-1", "99999999999999999999999", "0x", "env:", "file:", "@", "`",
        "\u{FEFF}", "é", "🚀", "null", "off", "512", "16gib", "{ cpu: ", "- { name: ", "\r\n",
    ].map { Array($0.utf8) } + [[0], [0xFF], [0xC3], [0x7F]]

    static func apply(to bytes: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<8, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 1 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...40, using: &random))
                bytes.removeSubrange(position..<end)
            case 2, 3:
                bytes.insert(contentsOf: fragments.randomElement(using: &random) ?? [], at: position)
            case 4:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if lines.count > 1 {
                    let line = Int.random(in: 0..<lines.count, using: &random)
                    lines.insert(lines[line], at: Int.random(in: 0..<lines.count, using: &random))
                    bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
                }
            case 5:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if lines.count > 1 {
                    lines.swapAt(Int.random(in: 0..<lines.count, using: &random), Int.random(in: 0..<lines.count, using: &random))
                    bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
                }
            case 6:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
                let line = Int.random(in: 0..<lines.count, using: &random)
                if Bool.random(using: &random) {
                    lines[line].insert(contentsOf: [UInt8](repeating: 32, count: Int.random(in: 1...6, using: &random)), at: 0)
                } else {
                    lines[line].removeFirst(min(lines[line].count, Int.random(in: 1...4, using: &random)))
                }
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            default:
                bytes = Array(bytes.prefix(position))
            }
        }
        return bytes
    }
}

@Suite("Random damage to the shipped YAML never crashes and is always located")
struct MutationFuzzTests {
    /// Every diagnostic points into a file that exists, at a line the file has.
    static func checkLocations(_ specs: Specs, in fileSystem: InMemoryFileSystem, seed: UInt64) {
        for diagnostic in specs.diagnostics {
            let location = diagnostic.location
            guard let bytes = fileSystem.files[location.file] else {
                Issue.record("seed \(seed): diagnostic in a file that does not exist: \(diagnostic.line)")
                continue
            }
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            #expect(location.line >= 1 && location.line <= lines + 1, "seed \(seed): \(diagnostic.line)")
            #expect(location.column >= 1, "seed \(seed): \(diagnostic.line)")
            #expect(!diagnostic.message.isEmpty)
        }
    }

    /// Loads `count` mutations of the shipped files, each laid over `project`, checks every
    /// diagnostic's location, and returns how many loads reported an error.
    static func mutate(_ paths: [String], of shipped: InMemoryFileSystem, over project: InMemoryFileSystem,
                       count: Int, seed: UInt64) -> Int {
        var random = SeededGenerator(state: seed)
        var broken = 0
        for iteration in 0..<count {
            let seed = random.state
            let path = paths[iteration % paths.count]
            var fileSystem = project
            fileSystem.files[path] = Mutation.apply(to: shipped.files[path] ?? [], using: &random)
            let specs = SpecLoader(fileSystem: fileSystem).load()
            if specs.diagnostics.hasErrors { broken += 1 }
            checkLocations(specs, in: fileSystem, seed: seed)
        }
        return broken
    }

    @Test("300 mutations of shipped files, each loaded with the whole project")
    func mutateShippedFiles() {
        let shipped = Fixtures.shippedProject()
        let broken = Self.mutate(shipped.files.keys.sorted(), of: shipped, over: shipped, count: 300, seed: 20_261_121)
        // Most mutations break something, and each break is reported rather than ignored.
        #expect(broken > 150)
    }

    @Test("3,000 mutations of shipped files, each loaded into the small corpus project")
    func mutateShippedFilesInSmallProject() {
        let shipped = Fixtures.shippedProject()
        let paths = shipped.files.keys.filter { $0 != "kryoform.yaml" }.sorted()
        _ = Self.mutate(paths, of: shipped, over: Fixtures.corpusBase(), count: 3_000, seed: 75)
    }

    @Test("a 10 MB file is refused at line 1 without being parsed")
    func tenMegabyteFile() {
        var fileSystem = Fixtures.corpusBase()
        let line = Array("# padding padding padding padding padding padding padding padding padding\n".utf8)
        fileSystem.files["stacks/web.yaml"] = Array(repeating: line, count: 10_000_000 / line.count).flatMap { $0 }
        let specs = SpecLoader(fileSystem: fileSystem).load()
        #expect(specs.diagnostics.map(\.line) == ["stacks/web.yaml:1:1: error: file is 9.5 MiB; spec files are limited to 1 MiB"])
    }

    /// Deeply nested values, named by a label so test output stays short.
    static let nestings: [(label: String, refused: Bool)] = [
        ("990 flow sequences", false), ("200,000 flow sequences", true),
        ("990 block sequences", false), ("200,000 block sequences", false), ("990 flow mappings", false),
    ]

    static func nested(_ label: String) -> String {
        switch label {
        case "990 flow sequences": return String(repeating: "[", count: 990) + String(repeating: "]", count: 990)
        case "200,000 flow sequences": return String(repeating: "[", count: 200_000)
        case "990 block sequences": return String(repeating: "- ", count: 990) + "x"
        case "200,000 block sequences": return String(repeating: "- ", count: 200_000) + "x"
        default: return String(repeating: "{a: ", count: 990) + "b" + String(repeating: "}", count: 990)
        }
    }

    @Test("deep nesting gives a located error, never a crash; past 1,000 flow levels libyaml refuses it", arguments: nestings.map(\.label))
    func deepNesting(_ label: String) {
        let refused = Self.nestings.first { $0.label == label }?.refused ?? false
        var fileSystem = Fixtures.corpusBase()
        fileSystem["stacks/web.yaml"] = "stack: web\nkind: service\nlayer: application\nrole: application\ncommand: \(Self.nested(label))\n"
        let specs = SpecLoader(fileSystem: fileSystem).load()
        let nestingError = specs.diagnostics.contains { $0.message.hasPrefix("nesting is too deep") }
        #expect(nestingError == refused)
        #expect(specs.diagnostics.hasErrors)
        #expect(specs.diagnostics.allSatisfy { $0.location.file == "stacks/web.yaml" && $0.location.line >= 1 })
    }

    @Test("an alias bomb costs no more than the document it is written in")
    func aliasBomb() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...30 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        var fileSystem = Fixtures.corpusBase()
        fileSystem["stacks/web.yaml"] = "stack: web\nkind: library\nlayer: ai\nrole: application\n" + lines.joined(separator: "\n") + "\ndepends_on: *a30\n"
        let specs = SpecLoader(fileSystem: fileSystem).load()
        #expect(specs.diagnostics.first?.line == "stacks/web.yaml:5:1: error: unknown key 'a0' in stack")
    }
}
