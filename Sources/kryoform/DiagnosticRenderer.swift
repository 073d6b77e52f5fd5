import Rainbow
import Spec

/// Prints diagnostics the way compilers do: `file:line:col: error: message`, the line quoted with a
/// caret under the problem, then notes and the fix.
struct DiagnosticRenderer {
    let sources: [String: SourceFile]

    func render(_ diagnostic: Diagnostic) -> String {
        let location = diagnostic.location
        let severity = diagnostic.severity == .error ? "error".red.bold : "warning".yellow.bold
        var lines = ["\(location.description.bold): \(severity): \(diagnostic.message.bold)"]
        // The excerpt masks secrets' values; the caret then underlines the mask.
        if let source = sources[location.file], let line = source.excerpt(location.line), !line.isEmpty {
            let number = String(location.line)
            let gutter = String(repeating: " ", count: number.count)
            let shown = String(line.prefix(160)).replacingOccurrences(of: "\t", with: " ")
            let caretColumn = min(max(location.column, 1), shown.count + 1)
            let masked = source.secrets.contains { $0.start == location }
            let width = masked ? SourceFile.mask.count : tokenWidth(in: shown, from: caretColumn)
            let marker = "^" + String(repeating: "~", count: max(0, width - 1))
            lines.append(" \(number) | \(shown)".lightBlack)
            lines.append(" \(gutter) | ".lightBlack + String(repeating: " ", count: caretColumn - 1) + marker.green)
        }
        for note in diagnostic.notes {
            lines.append("   = note: \(note)")
        }
        if let fix = diagnostic.fix {
            lines.append("   = fix: \(fix)".cyan)
        }
        return lines.joined(separator: "\n")
    }

    /// How many characters the problem's token spans, so the marker underlines a word, not one letter.
    private func tokenWidth(in line: String, from column: Int) -> Int {
        let characters = Array(line)
        guard column - 1 < characters.count else { return 1 }
        var end = column - 1
        while end < characters.count, !" ,:]}#".contains(characters[end]) { end += 1 }
        return max(1, end - (column - 1))
    }

    /// "2 errors and 1 warning" / "no problems".
    static func count(_ diagnostics: [Diagnostic]) -> String {
        let errors = diagnostics.errorCount, warnings = diagnostics.warningCount
        var parts: [String] = []
        if errors > 0 { parts.append("\(errors) error\(errors == 1 ? "" : "s")") }
        if warnings > 0 { parts.append("\(warnings) warning\(warnings == 1 ? "" : "s")") }
        return parts.isEmpty ? "no problems" : parts.joined(separator: " and ")
    }
}
