import Foundation
import Spec
import Testing

/// One broken input of `Tests/SpecTests/Corpus/*.case`: files laid over the base project, and
/// every diagnostic expected from loading the result.
///
/// Format: a comment line, then sections. `=== PATH` replaces or adds a file with the lines below
/// it; `=== PATH (escaped)` does the same after decoding `\xNN`, `\t` and `\0`; `=== expect` lists
/// `file:line:col: severity: message` lines, each optionally followed by `  fix: ...`.
struct CorpusCase: CustomTestStringConvertible, Sendable {
    struct Expectation: Equatable, Sendable {
        var line: String
        var fix: String?
    }

    let name: String
    let files: [String: [UInt8]]
    let expected: [Expectation]

    var testDescription: String { name }

    static func all() -> [CorpusCase] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.corpus.path)) ?? []
        return names.filter { $0.hasSuffix(".case") }.sorted().compactMap { name in
            guard let text = try? String(contentsOf: Fixtures.corpus.appendingPathComponent(name), encoding: .utf8) else { return nil }
            return parse(name: name, text: text)
        }
    }

    static func parse(name: String, text: String) -> CorpusCase {
        var files: [String: [UInt8]] = [:]
        var expected: [Expectation] = []
        var header: String?
        var body: [Substring] = []
        func finish() {
            guard let header else { return }
            if header == "expect" {
                for line in body where !line.isEmpty {
                    if line.hasPrefix("  fix: ") {
                        expected[expected.count - 1].fix = String(line.dropFirst(7))
                    } else {
                        expected.append(Expectation(line: String(line)))
                    }
                }
            } else if header.hasSuffix(" (escaped)") {
                files[String(header.dropLast(10))] = unescape(body.joined(separator: "\n") + "\n")
            } else {
                let content = body.joined(separator: "\n")
                files[header] = Array((content.isEmpty ? "" : content + "\n").utf8)
            }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("=== ") {
                finish()
                header = String(line.dropFirst(4))
                body = []
            } else if header != nil {
                body.append(line)
            }
        }
        finish()
        return CorpusCase(name: name, files: files, expected: expected)
    }

    static func unescape(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                let next = bytes[index + 1]
                if next == UInt8(ascii: "x"), index + 3 < bytes.count,
                   let value = UInt8(String(decoding: bytes[(index + 2)...(index + 3)], as: UTF8.self), radix: 16) {
                    result.append(value)
                    index += 4
                    continue
                }
                if next == UInt8(ascii: "t") { result.append(9); index += 2; continue }
                if next == UInt8(ascii: "0") { result.append(0); index += 2; continue }
            }
            result.append(bytes[index])
            index += 1
        }
        return result
    }
}

@Suite("Broken inputs give exact, located diagnostics")
struct CorpusTests {
    @Test("the corpus holds at least 40 broken inputs, each expecting a diagnostic")
    func corpusIsLargeEnough() {
        let cases = CorpusCase.all()
        #expect(cases.count >= 40)
        for corpusCase in cases {
            #expect(!corpusCase.expected.isEmpty, "\(corpusCase.name) expects nothing")
        }
    }

    @Test("the base project of the corpus is valid on its own")
    func baseIsValid() {
        let specs = SpecLoader(fileSystem: Fixtures.corpusBase()).load()
        #expect(specs.diagnostics.map(\.line) == [])
        #expect(specs.stacks.count == 4)
    }

    @Test(arguments: CorpusCase.all())
    func brokenInput(_ corpusCase: CorpusCase) {
        var fileSystem = Fixtures.corpusBase()
        for (path, bytes) in corpusCase.files {
            fileSystem.files[path] = bytes
        }
        let specs = SpecLoader(fileSystem: fileSystem).load()
        let actual = specs.diagnostics.map { CorpusCase.Expectation(line: $0.line, fix: $0.fix) }
        #expect(actual.map(\.line) == corpusCase.expected.map(\.line))
        for (expected, found) in zip(corpusCase.expected, actual) where expected.fix != nil {
            #expect(found.fix == expected.fix, "fix of \(expected.line)")
        }
    }
}
