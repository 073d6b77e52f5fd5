/// The text of one spec file, kept so diagnostics can quote the line they point at.
public struct SourceFile: Sendable, Hashable {
    /// The path relative to the project root, as diagnostics print it.
    public let path: String
    public let text: String
    /// Where the file holds secrets' values (literal secrets found while reading it): `excerpt`
    /// masks them, so no quoted line shows one.
    public var secrets: [SourceSpan] = []

    /// What stands for a secret's value in an excerpt, whatever its length.
    public static let mask = "********"

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }

    /// Line `number` as a diagnostic may quote it: with every secret on it masked; nil past the end.
    public func excerpt(_ number: Int) -> String? {
        guard var characters = line(number).map(Array.init) else { return nil }
        // Right to left, so the columns of the spans still to mask stay where they were.
        for span in secrets.filter({ $0.start.line == number }).sorted(by: { $0.start.column > $1.start.column }) {
            let start = min(max(span.start.column - 1, 0), characters.count)
            let end = span.length.map { min(start + $0, characters.count) } ?? characters.count
            characters.replaceSubrange(start..<end, with: Array(Self.mask))
        }
        return String(characters)
    }

    /// The text of 1-based line `number`, without its line break; nil past the end.
    public func line(_ number: Int) -> Substring? {
        guard number >= 1 else { return nil }
        var current = 1
        var start = text.startIndex
        while current < number {
            guard let newline = text[start...].firstIndex(where: \.isNewline) else { return nil }
            start = text.index(after: newline)
            current += 1
        }
        let end = text[start...].firstIndex(where: \.isNewline) ?? text.endIndex
        return text[start..<end]
    }

    /// The 1-based line and column of the character `offset` characters from the start.
    public func location(ofCharacterOffset offset: Int) -> SourceLocation {
        var line = 1, column = 1, seen = 0
        for character in text {
            if seen == offset { break }
            seen += 1
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SourceLocation(file: path, line: line, column: column)
    }
}
