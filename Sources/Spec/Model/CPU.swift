import Foundation

/// An amount of processor time in thousandths of a vCPU, written `2`, `0.5` or `500m`.
public struct CPU: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var millicores: Int

    public init(millicores: Int) {
        self.millicores = millicores
    }

    public static func cores(_ value: Int) -> CPU { CPU(millicores: value * 1000) }
    public static let zero = CPU(millicores: 0)

    public var cores: Double { Double(millicores) / 1000 }

    public static func parse(_ text: String) -> Result<CPU, ParseProblem> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("m"), let value = Int(trimmed.dropLast()) {
            return value >= 0 ? .success(CPU(millicores: value)) : .failure(ParseProblem("cannot be negative, found '\(text)'"))
        }
        guard let value = Double(trimmed), value.isFinite else {
            return .failure(ParseProblem("must be a number of vCPUs such as 2, 0.5 or 500m, found '\(text)'"))
        }
        guard value >= 0 else { return .failure(ParseProblem("cannot be negative, found '\(text)'")) }
        guard value < 1_000_000 else { return .failure(ParseProblem("is too large, found '\(text)'")) }
        let millicores = value * 1000
        guard millicores == millicores.rounded() else {
            return .failure(ParseProblem("is finer than a thousandth of a vCPU, found '\(text)'"))
        }
        return .success(CPU(millicores: Int(millicores)))
    }

    /// `2`, `0.5`, `0.125`.
    public var description: String { ByteFormatting.decimal(cores, places: 3) }

    public static func < (lhs: CPU, rhs: CPU) -> Bool { lhs.millicores < rhs.millicores }
    public static func + (lhs: CPU, rhs: CPU) -> CPU { CPU(millicores: lhs.millicores + rhs.millicores) }
    public static func - (lhs: CPU, rhs: CPU) -> CPU { CPU(millicores: lhs.millicores - rhs.millicores) }
    public static func * (lhs: CPU, rhs: Int) -> CPU { CPU(millicores: lhs.millicores * rhs) }
    public static func += (lhs: inout CPU, rhs: CPU) { lhs = lhs + rhs }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(cores)
    }

    public init(from decoder: Decoder) throws {
        millicores = Int((try decoder.singleValueContainer().decode(Double.self) * 1000).rounded())
    }
}

/// A span of time written `30s`, `5m`, `1h30m` or `500ms`.
public struct Interval: Hashable, Sendable, Codable, CustomStringConvertible {
    public var milliseconds: Int

    public init(milliseconds: Int) {
        self.milliseconds = milliseconds
    }

    public static func parse(_ text: String) -> Result<Interval, ParseProblem> {
        let units: [(String, Int)] = [("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var total = 0
        guard !rest.isEmpty, Int(rest) == nil else {
            return .failure(ParseProblem("needs a unit, found '\(text)'", fix: "write it as \(text)s"))
        }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber }
            guard !digits.isEmpty, let value = Int(digits) else {
                return .failure(ParseProblem("must be a duration such as 30s, 5m or 1h30m, found '\(text)'"))
            }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else {
                return .failure(ParseProblem("must be a duration such as 30s, 5m or 1h30m, found '\(text)'"))
            }
            rest = rest.dropFirst(unit.0.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.1)
            guard !overflow, total + product < 366 * 86_400_000 else {
                return .failure(ParseProblem("is longer than a year, found '\(text)'"))
            }
            total += product
        }
        return .success(Interval(milliseconds: total))
    }

    public var description: String {
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        var seconds = milliseconds / 1000
        var text = ""
        if seconds >= 3600 { text += "\(seconds / 3600)h"; seconds %= 3600 }
        if seconds >= 60 { text += "\(seconds / 60)m"; seconds %= 60 }
        if seconds > 0 || text.isEmpty { text += "\(seconds)s" }
        return text
    }
}
