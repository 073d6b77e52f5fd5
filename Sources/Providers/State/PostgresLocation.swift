import Foundation

/// Where the state database is: `state.url` read, `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE`.
/// Everything said about it names `display`, never the URL, which holds the password.
public struct PostgresLocation: Hashable, Sendable {
    /// libpq's `sslmode`, the three modes that mean something without certificate files.
    public enum TLSMode: String, Hashable, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it (libpq's default).
        case prefer
        /// TLS, or no connection.
        case require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var tls: TLSMode

    public init(host: String, port: Int = 5432, username: String, password: String?, database: String?, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// `HOST:PORT/DATABASE`.
    public var display: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database ?? username)" }

    /// Reads `text`; `source` names where it came from (`state.url (env:KRYOFORM_STATE_URL)`) in
    /// the error, which never repeats the text.
    public static func parse(_ text: String, source: String) throws -> PostgresLocation {
        func failure(_ reason: String) -> StateURLError {
            StateURLError(message: "\(source) is not a usable PostgreSQL URL: \(reason)",
                          fix: "set it to postgres://USER:PASSWORD@HOST:5432/DATABASE (add ?sslmode=disable for a server without TLS)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let components = URLComponents(string: trimmed) else { throw failure("it does not parse as a URL") }
        guard let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw failure("it must start with postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else { throw failure("it names no host") }
        guard let user = components.user, !user.isEmpty else { throw failure("it names no user (postgres://USER@HOST/...)") }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw failure("sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            default:
                throw failure("the parameter '\(item.name)' is not supported (only sslmode is)")
            }
        }
        return PostgresLocation(host: host, port: components.port ?? 5432, username: user, password: components.password,
                                database: database.isEmpty ? nil : database, tls: tls)
    }
}

/// `state.url` is not a URL kryoform can connect with.
public struct StateURLError: Error, Hashable, Sendable {
    public var message: String
    public var fix: String
}
