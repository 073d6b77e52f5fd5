import Foundation
import ProviderFakes
import Providers

/// One case of the aws-c-auth SigV4 suite (`shared/testdata/sigv4/v4/<case>/`), read from its files.
struct SigV4Vector {
    /// The `context.json` of a case: credentials, scope, timestamp and the suite's switches.
    struct Context: Decodable {
        /// The credentials a case signs with.
        struct Credentials: Decodable {
            let access_key_id: String
            let secret_access_key: String
            let token: String?
        }
        let credentials: Credentials
        let region: String
        let service: String
        let normalize: Bool
        let sign_body: Bool
        let timestamp: String
        let omit_session_token: Bool?
    }

    let name: String
    let context: Context
    let requestLine: String
    let request: SigV4Request
    let canonicalRequest: String
    let stringToSign: String
    let signature: String
    let signedRequest: String

    /// The `Authorization` value written in `header-signed-request.txt`.
    var authorization: String? {
        signedRequest.split(separator: "\n").first { $0.hasPrefix("Authorization:") }
            .map { String($0.dropFirst("Authorization:".count)) }
    }

    /// A signer set up as the case's context says.
    var signer: SigV4Signer {
        SigV4Signer(accessKeyID: context.credentials.access_key_id, secretAccessKey: context.credentials.secret_access_key,
                    sessionToken: context.credentials.token, region: context.region, service: context.service,
                    options: .init(normalizePath: context.normalize, addContentSHA256Header: context.sign_body,
                                   signSessionToken: !(context.omit_session_token ?? false)))
    }

    /// The case's signing time, parsed from the context's ISO 8601 timestamp.
    var date: Date? { ISO8601DateFormatter().date(from: context.timestamp) }
}

/// Why a vector could not be read.
struct SigV4VectorError: Error, CustomStringConvertible {
    let description: String
}

/// Finds, lists and parses the SigV4 vector folders.
enum SigV4VectorFiles {
    static let folder = "testdata/sigv4/v4"

    /// The `v4` folder in the `shared` folder beside the repository (or `$KRYOFORM_SHARED`).
    static func root(filePath: String = #filePath) -> String? {
        guard let shared = ProviderDescriptions.sharedFolder(near: filePath, holding: folder) else { return nil }
        let path = shared.appendingPathComponent(folder).path
        return isDirectory(path) ? path : nil
    }

    /// Every case folder (one holding `request.txt`) under the root, as sorted paths relative to it.
    static func caseNames() -> [String] {
        guard let root = root(), let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var names: [String] = []
        while let entry = walker.nextObject() as? String {
            if (entry as NSString).lastPathComponent == "request.txt" {
                names.append((entry as NSString).deletingLastPathComponent)
            }
        }
        return names.sorted()
    }

    /// Reads one case by its path relative to the root.
    static func load(_ name: String) throws -> SigV4Vector {
        guard let root = root() else { throw SigV4VectorError(description: "SigV4 vectors not found; set KRYOFORM_SHARED") }
        let dir = "\(root)/\(name)"
        func text(_ file: String) throws -> String {
            try String(contentsOfFile: "\(dir)/\(file)", encoding: .utf8)
        }
        func value(_ file: String) throws -> String {
            let content = try text(file)
            return content.hasSuffix("\n") ? String(content.dropLast()) : content
        }
        let context = try JSONDecoder().decode(SigV4Vector.Context.self, from: Data(try text("context.json").utf8))
        let (requestLine, request) = try parseRequest(try text("request.txt"))
        return SigV4Vector(name: name, context: context, requestLine: requestLine, request: request,
                           canonicalRequest: try value("header-canonical-request.txt"),
                           stringToSign: try value("header-string-to-sign.txt"),
                           signature: try value("header-signature.txt"),
                           signedRequest: try text("header-signed-request.txt"))
    }

    /// Parses a raw HTTP/1.1 request: request line, headers (folded continuation lines kept with their
    /// line break, duplicates kept in order), a blank line, then the body. Path and query are percent-decoded.
    static func parseRequest(_ raw: String) throws -> (requestLine: String, request: SigV4Request) {
        let text = raw.replacingOccurrences(of: "\r\n", with: "\n")
        let head: Substring
        var body = Data()
        if let blank = text.range(of: "\n\n") {
            head = text[..<blank.lowerBound]
            body = Data(text[blank.upperBound...].utf8)
        } else {
            head = text.hasSuffix("\n") ? text.dropLast() : Substring(text)
        }
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard let requestLine = lines.popFirst(),
              let firstSpace = requestLine.firstIndex(of: " "),
              let lastSpace = requestLine.lastIndex(of: " "), firstSpace < lastSpace,
              requestLine[requestLine.index(after: lastSpace)...].hasPrefix("HTTP/") else {
            throw SigV4VectorError(description: "bad request line in \(raw.debugDescription)")
        }
        let method = String(requestLine[..<firstSpace])
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let query = pathPart.count > 1 ? parseQuery(pathPart[1]) : []
        var headers: [(name: String, value: String)] = []
        for line in lines {
            if line.first == " " || line.first == "\t" {
                guard let last = headers.indices.last else { throw SigV4VectorError(description: "continuation first") }
                headers[last].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
            } else {
                throw SigV4VectorError(description: "bad header line \(line.debugDescription)")
            }
        }
        let path = decode(pathPart.first ?? "/")
        return (String(requestLine), SigV4Request(method: method, path: path, query: query, headers: headers, body: body))
    }

    /// A signed request written back in the suite's `header-signed-request.txt` layout.
    static func serialize(requestLine: String, _ request: SigV4Request) -> String {
        let headers = request.headers.map { "\($0.name):\($0.value)\n" }.joined()
        return "\(requestLine)\n\(headers)\n" + String(decoding: request.body, as: UTF8.self)
    }

    /// `a=1&b=2` as decoded pairs; a parameter without `=` has an empty value.
    private static func parseQuery(_ query: Substring) -> [(name: String, value: String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (name: decode(parts.first ?? ""), value: parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// Percent-decodes, leaving text that is not valid percent-encoding as it is.
    private static func decode(_ text: Substring) -> String {
        String(text).removingPercentEncoding ?? String(text)
    }

    /// Whether a path names an existing directory.
    private static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}
