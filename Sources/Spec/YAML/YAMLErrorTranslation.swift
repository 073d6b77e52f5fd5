import Yams

/// Rewrites libyaml's errors ("mapping values are not allowed in this context") into messages that
/// say what is wrong with the file and how to fix it.
enum YAMLErrorTranslation {
    static func diagnostic(for error: YamlError, in source: SourceFile) -> Diagnostic {
        switch error {
        case let .reader(problem, offset, _, _):
            let location = offset.map { source.location(ofCharacterOffset: $0) } ?? .start(of: source.path)
            return .error("cannot read the file: \(problem)", at: location)
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return translate(problem: problem, context: context, mark: mark, in: source)
        case let .duplicatedKeysInMapping(duplicates, context):
            return duplicateKey(duplicates.first ?? "?", firstMark: context.mark, in: source)
        default:
            return .error("cannot read YAML: \(error)", at: .start(of: source.path))
        }
    }

    private static func location(_ mark: Mark, in source: SourceFile) -> SourceLocation {
        SourceLocation(file: source.path, line: max(1, mark.line), column: max(1, mark.column))
    }

    private static func character(at mark: Mark, in source: SourceFile) -> Character? {
        guard let line = source.line(mark.line), mark.column >= 1, mark.column <= line.count else { return nil }
        return line[line.index(line.startIndex, offsetBy: mark.column - 1)]
    }

    private static func translate(problem: String, context: YamlError.Context?, mark: Mark, in source: SourceFile) -> Diagnostic {
        let at = location(mark, in: source)
        let contextLine = context.map { "line \($0.mark.line)" } ?? "an earlier line"
        let contextText = context?.text ?? ""

        if problem.contains("found character that cannot start any token"), character(at: mark, in: source) == "\t" {
            return .error("tab character in indentation; YAML indents with spaces only", at: at,
                          fix: "replace the tab with spaces")
        }
        if problem.contains("found a tab character") {
            return .error("tab character in indentation; YAML indents with spaces only", at: at,
                          fix: "replace the tab with spaces")
        }
        if contextText.contains("quoted scalar"), problem.contains("end of stream") {
            return .error("unclosed quote: this string never ends", at: context.map { location($0.mark, in: source) } ?? at,
                          fix: "add the closing quote")
        }
        if problem.contains("mapping values are not allowed") {
            return .error("unexpected ':' here: this line is indented deeper than the key above it, or a value contains ': '", at: at,
                          fix: "line the key up with the keys above it, or quote the value")
        }
        if problem.contains("did not find expected key") || problem.contains("did not find expected '-' indicator") {
            return .error("bad indentation: this line does not line up with the block that starts on \(contextLine)", at: at,
                          fix: "indent it like the other entries of that block")
        }
        if problem.contains("could not find expected ':'") {
            return .error("missing ':' after a key on \(contextLine)", at: at,
                          fix: "write 'key: value'")
        }
        if problem.contains("found undefined alias") {
            return .error("alias refers to an anchor that is not defined", at: at,
                          fix: "define the anchor with '&name' before using '*name'")
        }
        if problem.contains("but found another document") {
            return .error("expected one YAML document, found a second one", at: at,
                          fix: "remove the '---' line, or move the second document to its own file")
        }
        if problem.contains("Maximum nesting level") {
            return .error("nesting is too deep (over 1,000 levels)", at: at,
                          fix: "spec files nest a few levels at most; check that this is the file you meant")
        }
        let while_ = contextText.isEmpty ? "" : " (\(contextText) on \(contextLine))"
        return .error("invalid YAML: \(problem)\(while_)", at: at)
    }

    /// libyaml-in-Yams reports a duplicate key at its first occurrence; point at the second one,
    /// which is the one to remove or rename.
    private static func duplicateKey(_ key: String, firstMark: Mark, in source: SourceFile) -> Diagnostic {
        let first = location(firstMark, in: source)
        let second = secondOccurrence(of: key, after: firstMark, in: source)
        return .error("duplicate key '\(key)'", at: second ?? first,
                      notes: second == nil ? [] : ["first defined at \(first)"],
                      fix: "keep one '\(key)' entry")
    }

    /// The next place `key:` is written at the same column (block mappings) or on the same line
    /// (flow mappings) after the first occurrence.
    private static func secondOccurrence(of key: String, after mark: Mark, in source: SourceFile) -> SourceLocation? {
        let lines = source.text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let firstLine = Array(lines[mark.line - 1])
        let afterFirst = String(firstLine.dropFirst(mark.column - 1 + key.count))
        if let range = flowKeyRange(key, in: afterFirst) {
            let column = mark.column + key.count + afterFirst.distance(from: afterFirst.startIndex, to: range.lowerBound)
            return SourceLocation(file: source.path, line: mark.line, column: column)
        }
        for lineNumber in (mark.line + 1)..<(lines.count + 1) {
            let line = Array(lines[lineNumber - 1])
            let indentation = line.prefix { $0 == " " }.count
            let content = line.dropFirst(indentation)
            if content.isEmpty || content.first == "#" { continue }
            if indentation < mark.column - 1 && content.first != "-" { break }
            if indentation == mark.column - 1, startsWithKey(key, String(content)) {
                return SourceLocation(file: source.path, line: lineNumber, column: mark.column)
            }
        }
        return nil
    }

    private static func startsWithKey(_ key: String, _ text: String) -> Bool {
        for candidate in [key, "\"\(key)\"", "'\(key)'"] where text.hasPrefix(candidate) {
            let rest = text.dropFirst(candidate.count).drop { $0 == " " }
            if rest.hasPrefix(":") { return true }
        }
        return false
    }

    private static func flowKeyRange(_ key: String, in text: String) -> Range<String.Index>? {
        var search = text.startIndex..<text.endIndex
        while let found = text.range(of: key, range: search) {
            let before = text[text.startIndex..<found.lowerBound].last { $0 != " " }
            if before == "," || before == "{" {
                let rest = text[found.upperBound...].drop { $0 == " " }
                if rest.hasPrefix(":") { return found }
            }
            search = found.upperBound..<text.endIndex
        }
        return nil
    }
}
