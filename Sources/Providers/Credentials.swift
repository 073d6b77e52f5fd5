import Foundation
import Planner
import Spec

/// Reads the provider's credentials from where the spec's references point. Values never leave
/// the adapters: not in messages, plans, state or logs.
public enum Credentials {
    public static func resolve(_ key: String, of environment: Environment, projectRoot: URL, variables: [String: String], what: String) throws -> String {
        guard let reference = environment.provider.credentials[key] else {
            throw ProviderError(.invalidRequest, "environment \(environment.name): provider.\(key) is not set; it names \(what)",
                                fix: "add \(key): env:VARIABLE to the provider block")
        }
        switch reference {
        case .environment(let name):
            guard let value = variables[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                throw ProviderError(.unauthorized, "environment \(environment.name): set \(name) to \(what) (provider.\(key) is env:\(name), which is not set)")
            }
            return try checked(value, from: "env:\(name)", environment: environment)
        case .file(let path):
            let expanded = NSString(string: path).expandingTildeInPath
            let url = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded) : projectRoot.appendingPathComponent(expanded)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw ProviderError(.unauthorized, "environment \(environment.name): provider.\(key) is file:\(path), which cannot be read; put \(what) in it")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                throw ProviderError(.unauthorized, "environment \(environment.name): provider.\(key) is file:\(path), which is empty; put \(what) in it")
            }
            return try checked(value, from: "file:\(path)", environment: environment)
        }
    }

    /// A credential is one word of printable characters; the message never repeats it.
    static func checked(_ value: String, from source: String, environment: Environment) throws -> String {
        guard value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ProviderError(.unauthorized, "environment \(environment.name): the credential in \(source) holds spaces, line breaks or other characters no token has",
                                fix: "put exactly the token there, on one line")
        }
        return value
    }
}
