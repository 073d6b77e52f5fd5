import Yams

/// Reads one YAML document into typed values, collecting every problem instead of stopping at the
/// first, and recording where each value was written.
///
/// Each `read…` call either returns a value or records a located diagnostic and returns nil, so a
/// decoder can go on and find the next problem.
final class DocumentReader {
    let source: SourceFile
    private(set) var diagnostics: [Diagnostic] = []
    private(set) var sourceMap: SourceMap

    init(source: SourceFile) {
        self.source = source
        self.sourceMap = SourceMap(file: source.path)
    }

    var file: String { source.path }

    // MARK: Locations and problems

    func location(of node: Node) -> SourceLocation {
        guard let mark = node.mark else { return .start(of: file) }
        return SourceLocation(file: file, line: max(1, mark.line), column: max(1, mark.column))
    }

    func error(_ message: String, at node: Node, notes: [String] = [], fix: String? = nil) {
        diagnostics.append(.error(message, at: location(of: node), notes: notes, fix: fix))
    }

    func warning(_ message: String, at node: Node, notes: [String] = [], fix: String? = nil) {
        diagnostics.append(.warning(message, at: location(of: node), notes: notes, fix: fix))
    }

    func report(_ diagnostic: Diagnostic) {
        diagnostics.append(diagnostic)
    }

    private func record(_ node: Node, at path: ModelPath) {
        sourceMap.record(value: location(of: node), at: path)
    }

    // MARK: Mappings

    /// The entries of a mapping, after reporting unknown keys (with a suggestion from `allowed`)
    /// and missing `required` ones. Returns nil, with a diagnostic, when `node` is not a mapping.
    func mapping(
        _ node: Node,
        at path: ModelPath,
        what: String,
        allowed: [String],
        required: [String] = []
    ) -> Fields? {
        record(node, at: path)
        guard case .mapping(let mapping) = node else {
            error("\(what) must be a mapping of keys to values, found \(describe(node))", at: node)
            return nil
        }
        var fields = Fields(node: node, path: path)
        for (keyNode, value) in flattenMerges(mapping) {
            guard case .scalar(let keyScalar) = keyNode else {
                error("keys in \(what) must be plain names, found \(describe(keyNode))", at: keyNode)
                continue
            }
            let key = keyScalar.string
            guard allowed.contains(key) else {
                error("unknown key '\(key)' in \(what)", at: keyNode,
                      fix: Suggestion.didYouMean(key, in: allowed)
                        ?? "allowed keys: \(allowed.joined(separator: ", "))")
                continue
            }
            sourceMap.record(key: location(of: keyNode), at: path / key)
            fields.entries[key] = (keyNode, value)
        }
        for key in required where fields.entries[key] == nil {
            error("\(what) is missing required key '\(key)'", at: node)
        }
        return fields
    }

    /// The entries of a mapping whose keys are names the user chooses (clusters, env, labels).
    func namedEntries(_ node: Node, at path: ModelPath, what: String) -> [(name: String, key: Node, value: Node)]? {
        record(node, at: path)
        guard case .mapping(let mapping) = node else {
            error("\(what) must be a mapping of names to values, found \(describe(node))", at: node)
            return nil
        }
        var entries: [(String, Node, Node)] = []
        for (keyNode, value) in flattenMerges(mapping) {
            guard case .scalar(let keyScalar) = keyNode, !keyScalar.isNull else {
                error("names in \(what) must be plain strings, found \(describe(keyNode))", at: keyNode)
                continue
            }
            sourceMap.record(key: location(of: keyNode), at: path / keyScalar.string)
            entries.append((keyScalar.string, keyNode, value))
        }
        return entries
    }

    /// Applies YAML merge keys (`<<: *defaults`): the mapping's own keys win over merged ones.
    private func flattenMerges(_ mapping: Node.Mapping) -> [(Node, Node)] {
        var own: [(Node, Node)] = []
        var merged: [(Node, Node)] = []
        for (key, value) in mapping {
            if case .scalar(let scalar) = key, scalar.string == "<<", scalar.style == .plain {
                let sources: [Node]
                switch value {
                case .mapping: sources = [value]
                case .sequence(let sequence): sources = Array(sequence)
                default:
                    error("a merge key '<<' takes a mapping or a list of mappings, found \(describe(value))", at: value)
                    continue
                }
                for source in sources {
                    guard case .mapping(let inner) = source else {
                        error("a merge key '<<' takes a mapping or a list of mappings, found \(describe(source))", at: source)
                        continue
                    }
                    merged.append(contentsOf: flattenMerges(inner))
                }
            } else {
                own.append((key, value))
            }
        }
        let ownKeys = Set(own.compactMap { $0.0.scalar?.string })
        return own + merged.filter { !ownKeys.contains($0.0.scalar?.string ?? "") }
    }

    // MARK: Scalars

    /// A non-null scalar's text, or nil with a diagnostic naming what was expected.
    func string(_ node: Node, at path: ModelPath, what: String) -> String? {
        record(node, at: path)
        guard case .scalar(let scalar) = node else {
            error("\(what) must be a string, found \(describe(node))", at: node)
            return nil
        }
        guard !scalar.isNull else {
            error("\(what) has no value", at: node)
            return nil
        }
        return scalar.string
    }

    /// An optional string: null reads as absent.
    func optionalString(_ node: Node, at path: ModelPath, what: String) -> String? {
        if case .scalar(let scalar) = node, scalar.isNull {
            record(node, at: path)
            return nil
        }
        return string(node, at: path, what: what)
    }

    func integer(_ node: Node, at path: ModelPath, what: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, at: path, what: what) else { return nil }
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            error("\(what) must be a whole number, found '\(text)'", at: node)
            return nil
        }
        guard range.contains(value) else {
            error("\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(value)", at: node)
            return nil
        }
        return value
    }

    func bool(_ node: Node, at path: ModelPath, what: String) -> Bool? {
        guard let text = string(node, at: path, what: what) else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            error("\(what) must be true or false, found '\(text)'", at: node,
                  fix: ["yes", "on", "y"].contains(text.lowercased()) ? "write true"
                    : ["no", "off", "n"].contains(text.lowercased()) ? "write false" : nil)
            return nil
        }
    }

    /// A value parsed from a scalar by `parse`, whose error message is reported at the node.
    func parsed<T>(_ node: Node, at path: ModelPath, what: String, _ parse: (String) -> Result<T, ParseProblem>) -> T? {
        guard let text = string(node, at: path, what: what) else { return nil }
        switch parse(text) {
        case .success(let value): return value
        case .failure(let problem) where problem.revealsSecret:
            secretError("\(what) \(problem.message)", at: node, fix: problem.fix)
            return nil
        case .failure(let problem):
            error("\(what) \(problem.message)", at: node, fix: problem.fix)
            return nil
        }
    }

    // MARK: Sequences

    /// The items of a sequence, each with its path; nil with a diagnostic when `node` is not one.
    func sequence(_ node: Node, at path: ModelPath, what: String) -> [(path: ModelPath, node: Node)]? {
        record(node, at: path)
        guard case .sequence(let sequence) = node else {
            error("\(what) must be a list, found \(describe(node))", at: node)
            return nil
        }
        return sequence.enumerated().map { (path / $0.offset, $0.element) }
    }

    /// A list of strings; a single string is not accepted, so `depends_on: postgres` gets a clear fix.
    func stringList(_ node: Node, at path: ModelPath, what: String) -> [String]? {
        if case .scalar(let scalar) = node, !scalar.isNull {
            record(node, at: path)
            error("\(what) must be a list, found the string '\(scalar.string)'", at: node,
                  fix: "write [\(scalar.string)]")
            return nil
        }
        guard let items = sequence(node, at: path, what: what) else { return nil }
        return items.compactMap { string($0.node, at: $0.path, what: "each entry of \(what)") }
    }

    // MARK: Description

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if scalar.isNull { return "nothing" }
            let text = scalar.string.count > 40 ? String(scalar.string.prefix(37)) + "..." : scalar.string
            return "'\(text)'"
        }
    }

    /// The entries of one mapping that passed the key check.
    struct Fields {
        let node: Node
        let path: ModelPath
        var entries: [String: (key: Node, value: Node)] = [:]

        subscript(key: String) -> Node? { entries[key]?.value }
        func keyNode(_ key: String) -> Node? { entries[key]?.key }
        func path(_ key: String) -> ModelPath { path / key }
    }
}

/// Why a scalar could not be parsed into a value, phrased to follow the field's name.
public struct ParseProblem: Error, Hashable, Sendable {
    /// Completes "memory …": "needs a unit, e.g. 512MiB".
    public var message: String
    public var fix: String?
    /// True when the problem is that the text itself is a secret (a literal token, a password in
    /// a URL): the diagnostic then masks the value wherever the line is quoted.
    public var revealsSecret: Bool

    public init(_ message: String, fix: String? = nil, revealsSecret: Bool = false) {
        self.message = message
        self.fix = fix
        self.revealsSecret = revealsSecret
    }
}
