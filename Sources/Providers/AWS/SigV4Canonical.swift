import Crypto
import Foundation

/// The pieces of a SigV4 canonical request: URI encoding, path normalisation, query, headers, hashes, dates.
enum SigV4Canonical {
    /// Percent-encodes every byte of the UTF-8 form except RFC 3986 unreserved characters, with uppercase hex.
    static func uriEncode<S: StringProtocol>(_ text: S) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHex[Int(byte >> 4)])
                out.append(upperHex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether a byte is an RFC 3986 unreserved character (`A-Z a-z 0-9 - . _ ~`).
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// The canonical URI: optionally without `.`/`..`/empty segments, each segment encoded once, always starting with `/`.
    static func canonicalPath(_ path: String, normalize: Bool) -> String {
        let rawSegments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard normalize else {
            let encoded = rawSegments.map { uriEncode($0) }.joined(separator: "/")
            return encoded.hasPrefix("/") ? encoded : "/" + encoded
        }
        var kept: [Substring] = []
        for segment in rawSegments {
            switch segment {
            case "", ".":
                continue
            case "..":
                _ = kept.popLast()
            default:
                kept.append(segment)
            }
        }
        // As in RFC 3986 remove_dot_segments: a path ending in "/", "/." or "/.." names a directory.
        let last = rawSegments.last ?? ""
        let endsAsDirectory = last.isEmpty || last == "." || last == ".."
        let joined = "/" + kept.map { uriEncode($0) }.joined(separator: "/")
        return endsAsDirectory && !kept.isEmpty ? joined + "/" : joined
    }

    /// The canonical query string: names and values encoded, sorted by name then value (bytewise), `name=value` joined by `&`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (name: uriEncode($0.name), value: uriEncode($0.value)) }
            .sorted { lhs, rhs in
                lhs.name == rhs.name ? bytewiseLess(lhs.value, rhs.value) : bytewiseLess(lhs.name, rhs.name)
            }
            .map { "\($0.name)=\($0.value)" }
            .joined(separator: "&")
    }

    /// The canonical headers block (each line ending in a newline) and the signed-headers list.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (block: String, signed: String) {
        var values: [String: [String]] = [:]
        for header in headers {
            values[header.name.lowercased(), default: []].append(normalizedValue(header.value))
        }
        let names = values.keys.sorted(by: bytewiseLess)
        let block = names.map { "\($0):\(values[$0, default: []].joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    /// A header value trimmed, with every run of whitespace (spaces, tabs, folded line breaks) made one space.
    static func normalizedValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" })
            .joined(separator: " ")
    }

    /// Compares two strings by their UTF-8 bytes, the order SigV4 sorts in.
    static func bytewiseLess(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    /// Lowercase hex SHA-256 of some bytes.
    static func sha256Hex<D: DataProtocol>(_ data: D) -> String {
        hex(SHA256.hash(data: data))
    }

    /// Lowercase hex of a byte sequence.
    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = [UInt8]()
        for byte in bytes {
            out.append(lowerHex[Int(byte >> 4)])
            out.append(lowerHex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The UTC timestamp `yyyyMMdd'T'HHmmss'Z'` and day `yyyyMMdd` of a date, computed without a calendar or locale.
    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let dayText = pad(year, 4) + pad(month, 2) + pad(day, 2)
        let time = pad(secondOfDay / 3600, 2) + pad(secondOfDay % 3600 / 60, 2) + pad(secondOfDay % 60, 2)
        return (dayText + "T" + time + "Z", dayText)
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// A non-negative number in decimal, zero-padded on the left to a width.
    static func pad(_ number: Int, _ width: Int) -> String {
        let digits = String(number)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static let upperHex = Array("0123456789ABCDEF".utf8)
    private static let lowerHex = Array("0123456789abcdef".utf8)
}
