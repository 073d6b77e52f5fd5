import Foundation

/// One HTTP request as the SigV4 signer sees it: the unencoded path, decoded query pairs, headers in order, body bytes.
///
/// The signer percent-encodes `path` and `query` itself, so both hold plain text (`"/a b"`, not `"/a%20b"`).
/// The `Host` header must be present: it is always signed.
public struct SigV4Request: Sendable {
    /// The HTTP method, e.g. `GET` or `POST`.
    public var method: String
    /// The path, not percent-encoded; `""` means `/`.
    public var path: String
    /// Query parameters, not percent-encoded, in any order (the canonical form sorts them).
    public var query: [(name: String, value: String)]
    /// Header fields in order; duplicate names are allowed and their values keep their order.
    public var headers: [(name: String, value: String)]
    /// The payload (empty for none); its SHA-256 is part of the signature.
    public var body: Data

    /// Makes a request; everything but the method and path defaults to empty.
    public init(method: String, path: String, query: [(name: String, value: String)] = [],
                headers: [(name: String, value: String)] = [], body: Data = Data()) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The values of a header by case-insensitive name, in the order they appear.
    public func values(ofHeader name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.name.lowercased() == wanted }.map(\.value)
    }
}

extension SigV4Request: Equatable {
    /// Field-by-field equality (tuples are compared by name and value, in order).
    public static func == (lhs: SigV4Request, rhs: SigV4Request) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.body == rhs.body
            && lhs.query.elementsEqual(rhs.query) { $0.name == $1.name && $0.value == $1.value }
            && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }
}
