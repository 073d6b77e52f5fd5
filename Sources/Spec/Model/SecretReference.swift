import Foundation

/// Where a secret's value comes from: an environment variable or a file. Specs never hold the value.
public enum SecretReference: Hashable, Sendable, Codable, CustomStringConvertible {
    case environment(String)
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        }
    }

    /// Parses `env:NAME` or `file:PATH`. Anything else is taken to be a literal secret and refused.
    public static func parse(_ text: String) -> Result<SecretReference, ParseProblem> {
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard isVariableName(name) else {
                return .failure(ParseProblem("names an invalid environment variable '\(name)'",
                                             fix: "use letters, digits and '_', not starting with a digit"))
            }
            return .success(.environment(name))
        }
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
                return .failure(ParseProblem("names no file", fix: "write file:PATH"))
            }
            return .success(.file(path))
        }
        return .failure(ParseProblem(
            "is a literal secret; secrets must be references, never values in a spec",
            fix: "write env:NAME or file:PATH, and rotate the secret if this file was ever committed", revealsSecret: true))
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch SecretReference.parse(text) {
        case .success(let reference): self = reference
        case .failure(let problem):
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problem.message))
        }
    }
}

/// Names users give to stacks, clusters, environments, volumes and secrets.
public enum Name {
    /// Lower-case letters, digits and '-', starting with a letter, at most 63 characters: valid
    /// as a DNS label, a Docker service name and a provider tag.
    public static func check(_ text: String) -> ParseProblem? {
        guard !text.isEmpty else { return ParseProblem("is empty") }
        guard text.count <= 63 else { return ParseProblem("'\(text)' is longer than 63 characters") }
        let scalars = text.unicodeScalars
        let valid = scalars.first.map { ("a"..."z").contains($0) } == true
            && scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
            && !text.hasSuffix("-")
        guard valid else {
            let suggestion = suggestedName(text)
            return ParseProblem("'\(text)' must be lower-case letters, digits and '-', starting with a letter",
                                fix: suggestion.isEmpty || suggestion == text ? nil : "did you mean '\(suggestion)'?")
        }
        return nil
    }

    static func suggestedName(_ text: String) -> String {
        let mapped = text.lowercased().unicodeScalars.map { scalar -> Character in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "-"
        }
        return String(mapped).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    /// Secret names also allow '_' (Docker secret names), e.g. `postgres_password`.
    public static func checkSecret(_ text: String) -> ParseProblem? {
        let scalars = text.unicodeScalars
        guard let first = scalars.first, ("a"..."z").contains(first), text.count <= 63,
              scalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" })
        else {
            return ParseProblem("'\(text)' must be lower-case letters, digits, '_' and '-', starting with a letter")
        }
        return nil
    }
}
