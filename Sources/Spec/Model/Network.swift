import Foundation

/// An IPv4 or IPv6 network in CIDR notation, e.g. `10.20.0.0/16` or `::/0`.
public struct CIDR: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Family: Hashable, Sendable { case v4, v6 }

    public let family: Family
    /// The address as a 128-bit number (IPv4 uses the low 32 bits).
    let address: (high: UInt64, low: UInt64)
    public let prefixLength: Int

    public static func == (lhs: CIDR, rhs: CIDR) -> Bool {
        lhs.family == rhs.family && lhs.address == rhs.address && lhs.prefixLength == rhs.prefixLength
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(address.high)
        hasher.combine(address.low)
        hasher.combine(prefixLength)
    }

    private var bitWidth: Int { family == .v4 ? 32 : 128 }

    public static func parse(_ text: String) -> Result<CIDR, ParseProblem> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return .failure(ParseProblem("'\(text)' is not a CIDR range such as 10.0.0.0/16")) }
        let addressText = String(parts[0])
        let family: Family
        let address: (UInt64, UInt64)
        if let v4 = parseIPv4(addressText) {
            family = .v4
            address = (0, UInt64(v4))
        } else if let v6 = parseIPv6(addressText) {
            family = .v6
            address = v6
        } else {
            return .failure(ParseProblem("'\(text)' is not a valid IP address or CIDR range"))
        }
        let width = family == .v4 ? 32 : 128
        var prefix = width
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...width).contains(parsed) else {
                return .failure(ParseProblem("'\(text)' has an invalid prefix length; it must be 0 to \(width)"))
            }
            prefix = parsed
        }
        let cidr = CIDR(family: family, address: address, prefixLength: prefix)
        let network = cidr.networkAddress
        guard network == address else {
            let fixed = CIDR(family: family, address: network, prefixLength: prefix)
            return .failure(ParseProblem("'\(text)' has host bits set after the /\(prefix) prefix",
                                         fix: "did you mean '\(fixed)'?"))
        }
        return .success(cidr)
    }

    private init(family: Family, address: (UInt64, UInt64), prefixLength: Int) {
        self.family = family
        self.address = address
        self.prefixLength = prefixLength
    }

    /// The address with every bit past the prefix cleared.
    private var networkAddress: (UInt64, UInt64) {
        let hostBits = bitWidth - prefixLength
        let (high, low) = address
        if hostBits >= 128 { return (0, 0) }
        if hostBits >= 64 { return (high & ~((UInt64(1) << (hostBits - 64)) &- 1), 0) }
        if hostBits == 0 { return (high, low) }
        return (high, low & ~((UInt64(1) << hostBits) &- 1))
    }

    /// Whether the two ranges share at least one address.
    public func overlaps(_ other: CIDR) -> Bool {
        guard family == other.family else { return false }
        let shorter = prefixLength <= other.prefixLength ? self : other
        let longer = prefixLength <= other.prefixLength ? other : self
        return CIDR(family: family, address: longer.address, prefixLength: shorter.prefixLength).networkAddress == shorter.address
    }

    /// Whether every address of `other` is inside this range.
    public func contains(_ other: CIDR) -> Bool {
        prefixLength <= other.prefixLength && overlaps(other)
    }

    /// The private ranges of RFC 1918 that cloud VPCs accept.
    public static let privateRanges: [CIDR] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].compactMap {
        try? parse($0).get()
    }

    public var description: String {
        switch family {
        case .v4:
            let value = UInt32(truncatingIfNeeded: address.low)
            return "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)/\(prefixLength)"
        case .v6:
            var groups: [UInt16] = []
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: address.high >> UInt64(shift))) }
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: address.low >> UInt64(shift))) }
            return Self.formatIPv6(groups) + "/\(prefixLength)"
        }
    }

    static func parseIPv4(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, octet.allSatisfy(\.isASCII), let number = UInt32(octet), number <= 255,
                  octet == "0" || !octet.hasPrefix("0") else { return nil }
            value = value << 8 | number
        }
        return value
    }

    static func parseIPv6(_ text: String) -> (UInt64, UInt64)? {
        guard text.contains(":"), text.allSatisfy({ $0.isHexDigit || $0 == ":" }) else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, let value = UInt16(group, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        let high = all[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = all[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    static func formatIPv6(_ groups: [UInt16]) -> String {
        var bestStart = -1, bestLength = 0, index = 0
        while index < groups.count {
            if groups[index] == 0 {
                let start = index
                while index < groups.count, groups[index] == 0 { index += 1 }
                if index - start > bestLength, index - start > 1 { bestStart = start; bestLength = index - start }
            } else {
                index += 1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch CIDR.parse(text) {
        case .success(let cidr): self = cidr
        case .failure(let problem):
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problem.message))
        }
    }
}

/// A TCP or UDP port, or a range of them, as firewall rules and stacks write them.
public struct PortRange: Hashable, Sendable, Codable, CustomStringConvertible {
    public var lower: Int
    public var upper: Int

    public init(_ lower: Int, _ upper: Int? = nil) {
        self.lower = lower
        self.upper = upper ?? lower
    }

    public static let valid = 1...65535

    /// Parses `22`, `8000-8100`.
    public static func parse(_ text: String) -> Result<PortRange, ParseProblem> {
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = bounds.map { Int($0) }
        guard numbers.allSatisfy({ $0 != nil }) else {
            return .failure(ParseProblem("'\(text)' is not a port or a range such as 8000-8100"))
        }
        let values = numbers.compactMap { $0 }
        for value in values where !valid.contains(value) {
            return .failure(ParseProblem("\(value) is out of range; ports are 1 to 65535"))
        }
        let range = PortRange(values[0], values.count == 2 ? values[1] : nil)
        guard range.lower <= range.upper else {
            return .failure(ParseProblem("'\(text)' has its bounds reversed", fix: "write \(range.upper)-\(range.lower)"))
        }
        return .success(range)
    }

    public func overlaps(_ other: PortRange) -> Bool { lower <= other.upper && other.lower <= upper }

    public var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}
