/// A path to a value inside one spec document, as a user reads it: `clusters.data.size.memory`, `depends_on[1]`.
///
/// Validation names the value it finds wrong by its path; the document's `SourceMap` turns the path
/// into a file:line:column.
public struct ModelPath: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    public init(stringLiteral value: String) {
        self.components = value.split(separator: ".").map { .key(String($0)) }
    }

    public static let root = ModelPath()

    public func key(_ name: String) -> ModelPath {
        ModelPath(components + [.key(name)])
    }

    public func index(_ position: Int) -> ModelPath {
        ModelPath(components + [.index(position)])
    }

    public static func / (path: ModelPath, key: String) -> ModelPath { path.key(key) }
    public static func / (path: ModelPath, index: Int) -> ModelPath { path.index(index) }

    /// The path one level up; the root's parent is the root.
    public var parent: ModelPath {
        ModelPath(Array(components.dropLast()))
    }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let name): text += text.isEmpty ? name : "." + name
            case .index(let position): text += "[\(position)]"
            }
        }
        return text
    }
}

/// Where each value and key of one spec document was written.
public struct SourceMap: Hashable, Sendable {
    public let file: String
    private var values: [ModelPath: SourceLocation] = [:]
    private var keys: [ModelPath: SourceLocation] = [:]

    public init(file: String) {
        self.file = file
    }

    mutating func record(value location: SourceLocation, at path: ModelPath) {
        values[path] = location
    }

    mutating func record(key location: SourceLocation, at path: ModelPath) {
        keys[path] = location
    }

    /// Where the value at `path` was written, or the nearest enclosing value that was.
    public func location(of path: ModelPath) -> SourceLocation {
        var current = path
        while true {
            if let found = values[current] { return found }
            if current.components.isEmpty { return .start(of: file) }
            current = current.parent
        }
    }

    /// Where the key naming the value at `path` was written; falls back to the value's location.
    public func keyLocation(of path: ModelPath) -> SourceLocation {
        keys[path] ?? location(of: path)
    }

    /// Whether the document wrote a value at exactly `path`.
    public func contains(_ path: ModelPath) -> Bool {
        values[path] != nil
    }
}
