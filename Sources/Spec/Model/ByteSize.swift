import Foundation

/// An amount of memory or storage in bytes, written in specs as `512MiB`, `16GiB`, `1TiB` or `500GB`.
public struct ByteSize: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) {
        self.bytes = bytes
    }

    public static func mebibytes(_ value: Int64) -> ByteSize { ByteSize(bytes: value << 20) }
    public static func gibibytes(_ value: Int64) -> ByteSize { ByteSize(bytes: value << 30) }
    public static func tebibytes(_ value: Int64) -> ByteSize { ByteSize(bytes: value << 40) }
    public static let zero = ByteSize(bytes: 0)

    public var gibibytes: Double { Double(bytes) / Double(1 << 30) }

    /// The units a spec may use: binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB).
    static let units: [(suffix: String, factor: Double)] = [
        ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024), ("TiB", 1024 * 1024 * 1024 * 1024),
        ("Ki", 1024), ("Mi", 1024 * 1024), ("Gi", 1024 * 1024 * 1024), ("Ti", 1024 * 1024 * 1024 * 1024),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12),
    ]

    /// Parses `16GiB`, `1.5 TiB`, `512MiB`, `500GB`; a bare number is refused because its unit would be a guess.
    public static func parse(_ text: String) -> Result<ByteSize, ParseProblem> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if Double(trimmed) != nil {
            return .failure(ParseProblem("needs a unit, found '\(text)'", fix: "write it with a unit, e.g. \(trimmed)GiB or \(trimmed)MiB"))
        }
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = trimmed.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)
            guard let value = Double(number), value.isFinite else { break }
            guard value >= 0 else { return .failure(ParseProblem("cannot be negative, found '\(text)'")) }
            let bytes = value * unit.factor
            guard bytes < 9e18 else { return .failure(ParseProblem("is too large, found '\(text)'")) }
            return .success(ByteSize(bytes: Int64(bytes.rounded())))
        }
        let lower = trimmed.lowercased()
        if let unit = units.first(where: { lower.hasSuffix($0.suffix.lowercased()) }), Double(lower.dropLast(unit.suffix.count)) != nil {
            return .failure(ParseProblem("has a unit in the wrong case, found '\(text)'", fix: "write \(trimmed.dropLast(unit.suffix.count))\(unit.suffix)"))
        }
        return .failure(ParseProblem("must be a size such as 512MiB, 16GiB or 1TiB, found '\(text)'"))
    }

    /// The shortest exact binary form (`16GiB`, `512MiB`, `1TiB`), else GiB or MiB with two decimals (`19.88GiB`).
    public var description: String {
        for (suffix, shift) in [("TiB", 40), ("GiB", 30)] as [(String, Int64)] {
            let factor: Int64 = 1 << shift
            if bytes >= factor, bytes % factor == 0 { return "\(bytes / factor)\(suffix)" }
        }
        if bytes >= 1 << 30 { return ByteFormatting.decimal(Double(bytes) / Double(1 << 30)) + "GiB" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
        if bytes >= 1 << 20 { return ByteFormatting.decimal(Double(bytes) / Double(1 << 20)) + "MiB" }
        if bytes >= 1 << 10, bytes % 1024 == 0 { return "\(bytes >> 10)KiB" }
        return "\(bytes)B"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }
    public static func + (lhs: ByteSize, rhs: ByteSize) -> ByteSize { ByteSize(bytes: lhs.bytes + rhs.bytes) }
    public static func - (lhs: ByteSize, rhs: ByteSize) -> ByteSize { ByteSize(bytes: lhs.bytes - rhs.bytes) }
    public static func * (lhs: ByteSize, rhs: Int) -> ByteSize { ByteSize(bytes: lhs.bytes * Int64(rhs)) }
    public static func += (lhs: inout ByteSize, rhs: ByteSize) { lhs = lhs + rhs }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }

    public init(from decoder: Decoder) throws {
        bytes = try decoder.singleValueContainer().decode(Int64.self)
    }
}

/// Human forms of sizes for messages.
public enum ByteFormatting {
    /// "10.0 MiB", "512 KiB", "37 bytes".
    public static func describe(_ count: Int) -> String {
        if count >= 1 << 20 { return decimal(Double(count) / Double(1 << 20), places: 1) + " MiB" }
        if count >= 1 << 10 { return decimal(Double(count) / Double(1 << 10), places: 1) + " KiB" }
        return "\(count) bytes"
    }

    /// A number with at most `places` decimals and no trailing zeros ("1.5", "2", "0.25").
    public static func decimal(_ value: Double, places: Int = 2) -> String {
        var text = String(format: "%.\(places)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }
}
