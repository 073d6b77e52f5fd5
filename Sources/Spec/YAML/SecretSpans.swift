import Yams

extension DocumentReader {
    /// Reports that `node` holds a secret's value: located at the node like any error, and marked
    /// so every excerpt of its line masks the value (see `SourceFile.excerpt`). `message` must
    /// not quote the value.
    func secretError(_ message: String, at node: Node, fix: String? = nil) {
        let value = node.scalar?.string ?? ""
        secretError(message, value: value, at: location(of: node), fix: fix)
    }

    /// The same for a value read earlier, by where it was written.
    func secretError(_ message: String, value: String, at location: SourceLocation, fix: String? = nil) {
        report(.error(message, at: location, fix: fix, secret: span(of: value, at: location)))
    }

    /// Where `value` is written on the line of `start`: the scalar as written, quotes included; the
    /// rest of the line when it is not written there on one line (a block scalar, a folded quote).
    func span(of value: String, at start: SourceLocation) -> SourceSpan {
        guard let line = source.line(start.line), start.column - 1 <= line.count else { return SourceSpan(start: start, length: nil) }
        let rest = Array(line.dropFirst(start.column - 1))
        switch rest.first {
        case "'": return SourceSpan(start: start, length: Self.quotedLength(rest, quote: "'", escape: nil))
        case "\"": return SourceSpan(start: start, length: Self.quotedLength(rest, quote: "\"", escape: "\\"))
        default:
            let characters = Array(value)
            return SourceSpan(start: start, length: !characters.isEmpty && rest.starts(with: characters) ? characters.count : nil)
        }
    }

    /// The length of the quoted scalar opening `text`, closing quote included; nil when it does not close on this line.
    /// In single quotes `''` is a quote; in double quotes `escape` protects the next character.
    static func quotedLength(_ text: [Character], quote: Character, escape: Character?) -> Int? {
        guard text.first == quote else { return nil }
        var index = 1
        while index < text.count {
            if let escape, text[index] == escape {
                index += 2
                continue
            }
            if text[index] == quote {
                if escape == nil, index + 1 < text.count, text[index + 1] == quote {
                    index += 2
                    continue
                }
                return index + 1
            }
            index += 1
        }
        return nil
    }
}
