/// A place in a spec file: the file's path relative to the project root, and a 1-based line and column.
public struct SourceLocation: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The start of a file, for problems that belong to the whole file.
    public static func start(of file: String) -> SourceLocation {
        SourceLocation(file: file, line: 1, column: 1)
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// Characters of one line of a spec file: `length` from `start`, or to the end of the line when nil.
public struct SourceSpan: Hashable, Sendable, Codable {
    public var start: SourceLocation
    public var length: Int?

    public init(start: SourceLocation, length: Int?) {
        self.start = start
        self.length = length
    }
}

/// One problem found in the specs: what is wrong, where, and what to do about it.
public struct Diagnostic: Hashable, Sendable, Codable {
    public enum Severity: String, Hashable, Sendable, Codable {
        case error
        case warning
    }

    public var severity: Severity
    public var message: String
    public var location: SourceLocation
    /// Supporting facts ("first defined at dev.yaml:4:3", "the cycle: a → b → a").
    public var notes: [String]
    /// What the user can do, when one fix is known ("did you mean 'nodes'?").
    public var fix: String?
    /// Where the file holds a secret's value, when the problem is that it does: every excerpt of
    /// that line shows a mask there instead. The message never quotes the value.
    public var secret: SourceSpan?

    public init(
        _ severity: Severity,
        _ message: String,
        at location: SourceLocation,
        notes: [String] = [],
        fix: String? = nil,
        secret: SourceSpan? = nil
    ) {
        self.severity = severity
        self.message = message
        self.location = location
        self.notes = notes
        self.fix = fix
        self.secret = secret
    }

    public static func error(_ message: String, at location: SourceLocation, notes: [String] = [], fix: String? = nil,
                             secret: SourceSpan? = nil) -> Diagnostic {
        Diagnostic(.error, message, at: location, notes: notes, fix: fix, secret: secret)
    }

    public static func warning(_ message: String, at location: SourceLocation, notes: [String] = [], fix: String? = nil) -> Diagnostic {
        Diagnostic(.warning, message, at: location, notes: notes, fix: fix)
    }
}

extension Array where Element == Diagnostic {
    public var hasErrors: Bool { contains { $0.severity == .error } }
    public var errorCount: Int { filter { $0.severity == .error }.count }
    public var warningCount: Int { filter { $0.severity == .warning }.count }

    /// The diagnostics in file, line, column order; ties keep the order they were found in.
    public func sortedByLocation() -> [Diagnostic] {
        enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
    }
}
