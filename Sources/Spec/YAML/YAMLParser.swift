import Yams

/// Turns the bytes of a spec file into a YAML node tree, or into one located diagnostic.
///
/// Whatever the bytes are (binary, truncated, 10 MB, nested a thousand deep), the result is a
/// node or a diagnostic, never a crash: size and encoding are checked before libyaml sees the text,
/// libyaml itself stops nesting at 1,000 levels, and every libyaml error is mapped to a message
/// that says what to fix.
public enum YAMLParser {
    /// The largest spec file accepted. Real stack and environment files are a few KiB.
    public static let maximumFileSize = 1 << 20

    public enum Outcome {
        case document(Node, SourceFile)
        /// The file holds no YAML value at all (empty, blank, or comments only).
        case empty(SourceFile)
        case failure(Diagnostic)
    }

    public static func parse(path: String, bytes: [UInt8]) -> Outcome {
        if bytes.count > maximumFileSize {
            return .failure(tooLarge(path: path, size: bytes.count))
        }
        if let invalid = firstInvalidUTF8(bytes) {
            let prefix = SourceFile(path: path, text: String(decoding: bytes[..<invalid], as: UTF8.self))
            return .failure(.error(
                String(format: "file is not UTF-8 text: byte 0x%02X cannot start a character", bytes[invalid]),
                at: prefix.location(ofCharacterOffset: prefix.text.count),
                fix: "save the file as UTF-8; binary files do not belong in a spec folder"
            ))
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let source = SourceFile(path: path, text: text)
        if let control = firstForbiddenControlCharacter(in: text) {
            return .failure(.error(
                "control character U+\(String(control.scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)) is not allowed in YAML",
                at: source.location(ofCharacterOffset: control.offset),
                fix: "remove it; binary files do not belong in a spec folder"
            ))
        }
        do {
            guard let node = try Yams.compose(yaml: text) else { return .empty(source) }
            if case .scalar(let scalar) = node, scalar.isNull { return .empty(source) }
            return .document(node, source)
        } catch let error as YamlError {
            return .failure(YAMLErrorTranslation.diagnostic(for: error, in: source))
        } catch {
            return .failure(.error("cannot read YAML: \(error)", at: .start(of: path)))
        }
    }

    static func tooLarge(path: String, size: Int) -> Diagnostic {
        .error("file is \(ByteFormatting.describe(size)); spec files are limited to \(ByteFormatting.describe(maximumFileSize))",
               at: .start(of: path), fix: "check that this is the file you meant to put here")
    }

    /// The byte offset of the first byte that is not part of a valid UTF-8 sequence.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
            case .emptyInput:
                return nil
            case .error:
                return min(offset, bytes.count - 1)
            }
        }
    }

    /// The first character YAML forbids (C0 controls other than tab and line breaks, DEL, and NUL).
    static func firstForbiddenControlCharacter(in text: String) -> (scalar: Unicode.Scalar, offset: Int)? {
        for (offset, character) in text.enumerated() {
            for scalar in character.unicodeScalars {
                let value = scalar.value
                let allowed = value == 0x09 || value == 0x0A || value == 0x0D || value == 0x85
                if (value < 0x20 || value == 0x7F) && !allowed {
                    return (scalar, offset)
                }
            }
        }
        return nil
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

extension Node.Scalar {
    /// Whether this scalar is YAML's null: empty, `~` or `null`, written without quotes.
    var isNull: Bool {
        style == .plain && ["", "~", "null", "Null", "NULL"].contains(string)
    }
}
