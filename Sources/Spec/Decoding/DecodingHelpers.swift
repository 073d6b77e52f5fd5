import Yams

extension DocumentReader {
    /// A user-chosen name (stack, cluster, environment, volume), checked against the naming rule.
    func name(_ node: Node, at path: ModelPath, what: String) -> String? {
        guard let text = string(node, at: path, what: what) else { return nil }
        if let problem = Name.check(text) {
            error("\(what) \(problem.message)", at: node, fix: problem.fix)
            return nil
        }
        return text
    }

    /// A value of a closed set of choices (`kind`, `layer`, `protocol`), with a suggestion when misspelt.
    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, at path: ModelPath, what: String, as type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, at: path, what: what) else { return nil }
        if let value = T(rawValue: text) { return value }
        let options = T.allCases.map(\.rawValue)
        error("\(what) must be one of \(options.joined(separator: ", ")), found '\(text)'", at: node,
              fix: Suggestion.didYouMean(text, in: options))
        return nil
    }

    func secretReference(_ node: Node, at path: ModelPath, what: String) -> SecretReference? {
        parsed(node, at: path, what: what, SecretReference.parse)
    }

    func byteSize(_ node: Node, at path: ModelPath, what: String, in range: ClosedRange<ByteSize>) -> ByteSize? {
        guard let size = parsed(node, at: path, what: what, ByteSize.parse) else { return nil }
        guard range.contains(size) else {
            error("\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(size)", at: node)
            return nil
        }
        return size
    }

    func cpu(_ node: Node, at path: ModelPath, what: String, in range: ClosedRange<CPU>) -> CPU? {
        guard let cpu = parsed(node, at: path, what: what, CPU.parse) else { return nil }
        guard range.contains(cpu) else {
            error("\(what) must be between \(range.lowerBound) and \(range.upperBound) vCPU, found \(cpu)", at: node)
            return nil
        }
        return cpu
    }

    func interval(_ node: Node, at path: ModelPath, what: String) -> Interval? {
        parsed(node, at: path, what: what, Interval.parse)
    }

    /// A mapping of names to plain strings (`env`, `labels`, `pins`).
    func stringMap(_ node: Node, at path: ModelPath, what: String, checkKey: (String) -> ParseProblem? = { _ in nil }) -> [String: String]? {
        guard let entries = namedEntries(node, at: path, what: what) else { return nil }
        var result: [String: String] = [:]
        for entry in entries {
            if let problem = checkKey(entry.name) {
                error("key \(problem.message) in \(what)", at: entry.key, fix: problem.fix)
                continue
            }
            if case .scalar(let scalar) = entry.value, scalar.isNull {
                result[entry.name] = ""
                continue
            }
            if let value = string(entry.value, at: path / entry.name, what: "\(what) '\(entry.name)'") {
                result[entry.name] = value
            }
        }
        return result
    }

    /// Reports a name listed twice in one list; returns the names in order without repeats.
    func unique(_ names: [(name: String, node: Node)], what: String) -> [String] {
        var seen: [String: Node] = [:]
        var result: [String] = []
        for (name, node) in names {
            if let first = seen[name] {
                error("\(what) '\(name)' is listed twice", at: node, notes: ["first listed at \(location(of: first))"],
                      fix: "remove one of them")
                continue
            }
            seen[name] = node
            result.append(name)
        }
        return result
    }
}

/// Host names for routes and domains: dot-separated DNS labels.
enum HostName {
    static func check(_ text: String) -> ParseProblem? {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !text.isEmpty && text.count <= 253 && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
        return valid ? nil : ParseProblem("'\(text)' is not a valid host name", fix: "use lower-case letters, digits, '-' and '.'")
    }
}
