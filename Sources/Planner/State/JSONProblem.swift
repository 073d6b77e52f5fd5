import Foundation

/// Says why a JSON file did not decode and where: line and column for broken JSON, the field
/// (`resources[3].status`) for a value of the wrong shape.
public enum JSONProblem {
    public static func describe(_ error: Error, in data: Data) -> String {
        if let unreadable = error as? StateCodec.Unreadable { return unreadable.problem }
        guard let decoding = error as? DecodingError else { return error.localizedDescription }
        switch decoding {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // JSONDecoder says only "not valid JSON"; the parser behind JSONSerialization says where.
            var detail = context.debugDescription
            do { _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
                detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? detail
            }
            let reason = detail.replacing(/\s+around (line \d+, column \d+|character \d+)/, with: "").trimmingCharacters(in: CharacterSet(charactersIn: ". "))
            guard let (line, column) = position(in: detail, data: data) else { return "it is not valid JSON (\(reason))" }
            return "it is not valid JSON at line \(line), column \(column) (\(reason.prefix(1).lowercased() + reason.dropFirst()))"
        case let .keyNotFound(key, context):
            return "\(path(context.codingPath + [key])) is missing"
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return String(describing: decoding)
        }
    }

    /// `resources[3].status`.
    static func path(_ keys: [CodingKey]) -> String {
        guard !keys.isEmpty else { return "the top level" }
        return keys.enumerated().map { index, key in
            if let number = key.intValue { return "[\(number)]" }
            return (index == 0 ? "" : ".") + key.stringValue
        }.joined()
    }

    /// The parser's "line 3, column 5", or its offset ("around character 15", from 0, or the end
    /// of the file) turned into a line and a column, both from 1.
    static func position(in detail: String, data: Data) -> (Int, Int)? {
        if let match = detail.firstMatch(of: /line (\d+), column (\d+)/), let line = Int(match.1), let column = Int(match.2) {
            return (line, column)
        }
        let offset: Int
        if let match = detail.firstMatch(of: /character (\d+)/), let number = Int(match.1), number <= data.count {
            offset = number
        } else if detail.localizedCaseInsensitiveContains("end of file") {
            offset = data.count
        } else {
            return nil
        }
        let before = data.prefix(offset)
        let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
        return (line, column)
    }
}
