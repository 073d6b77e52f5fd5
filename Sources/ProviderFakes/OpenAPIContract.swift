// OpenAPIContract — a small OpenAPI 3.0 contract checker (Foundation only).
//
// Loads an OpenAPI 3.0 JSON document once, indexes its path templates per
// method, and checks HTTP requests / responses against the description:
// path + method, path/query parameters, request body, response body.
//
// Schema validation implements the subset of the OpenAPI 3.0 Schema Object
// that the DigitalOcean description uses: type, nullable, enum, properties,
// required, items, allOf, oneOf, anyOf, additionalProperties, minimum,
// maximum, exclusiveMinimum/Maximum, multipleOf, minLength, maxLength,
// pattern, minItems, maxItems, readOnly / writeOnly (for `required`).
// `format`, `discriminator`, `not`, `uniqueItems` are ignored.
//
// Object keys are checked strictly in both directions: a key that no schema
// applied at that location names is a violation, unless additionalProperties
// (true or a schema) allows it, or the schema is a free-form object
// (`{"type": "object"}` with no properties / composition).

import Foundation

// MARK: - JSON value

/// A Sendable JSON value. Booleans and numbers are kept apart (JSONSerialization
/// on Linux hands out NSNumber for both; `is Bool` is true for NSNumber(1)).
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var number: Double? {
        if case .number(let d) = self { return d }
        return nil
    }

    var isTrue: Bool {
        if case .bool(true) = self { return true }
        return false
    }

    /// The JSON kind, as used in violation messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Short rendering for messages.
    var brief: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return JSONValue.format(d)
        case .string(let s):
            let cut = s.count > 60 ? String(s.prefix(60)) + "…" : s
            return "\"\(cut)\""
        case .array(let a): return "array(\(a.count))"
        case .object(let o): return "object(\(o.count) keys)"
        }
    }

    static func format(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    /// Parses JSON text (fragments allowed).
    static func parse(_ data: Data) throws -> JSONValue {
        let any = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        return JSONValue(any: any)
    }

    private static let boolClassID = ObjectIdentifier(type(of: NSNumber(value: true)))

    /// Converts a JSONSerialization result.
    init(any: Any) {
        if let d = any as? [String: Any] {
            var o = [String: JSONValue](minimumCapacity: d.count)
            for (k, v) in d { o[k] = JSONValue(any: v) }
            self = .object(o)
        } else if let a = any as? [Any] {
            self = .array(a.map { JSONValue(any: $0) })
        } else if let s = any as? String {
            self = .string(s)
        } else if type(of: any) == Bool.self, let b = any as? Bool {
            self = .bool(b)
        } else if let n = any as? NSNumber {
            if ObjectIdentifier(type(of: n)) == JSONValue.boolClassID {
                self = .bool(n.boolValue)
            } else {
                self = .number(n.doubleValue)
            }
        } else {
            self = .null
        }
    }
}

// MARK: - Support types

struct ContractLoadError: Error, CustomStringConvertible {
    let description: String
}

/// Compiled `pattern` regexes, shared by all copies of a contract.
final class RegexCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cache: [String: NSRegularExpression?] = [:]

    /// nil when the pattern does not compile (such patterns are skipped).
    func regex(_ pattern: String) -> NSRegularExpression? {
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[pattern] { return hit }
        let compiled = try? NSRegularExpression(pattern: pattern)
        cache[pattern] = .some(compiled)
        return compiled
    }
}

struct PathTemplate: Sendable {
    enum Segment: Sendable {
        case literal(String)
        case param(String)
    }

    let raw: String
    let segments: [Segment]

    init(_ raw: String) {
        self.raw = raw
        segments = PathTemplate.split(raw).map { seg in
            if seg.hasPrefix("{"), seg.hasSuffix("}"), seg.count >= 2 {
                return .param(String(seg.dropFirst().dropLast()))
            }
            return .literal(seg)
        }
    }

    static func split(_ path: String) -> [String] {
        var p = Substring(path)
        if p.hasPrefix("/") { p = p.dropFirst() }
        return p.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    /// Path parameter values (percent-decoded), or nil when the path does not match.
    func match(_ parts: [String]) -> [(name: String, value: String)]? {
        guard parts.count == segments.count else { return nil }
        var params: [(name: String, value: String)] = []
        for (seg, part) in zip(segments, parts) {
            switch seg {
            case .literal(let lit):
                if lit != part { return nil }
            case .param(let name):
                if part.isEmpty { return nil }
                params.append((name, part.removingPercentEncoding ?? part))
            }
        }
        return params
    }

    /// Literal segments win over template segments, left to right.
    func isMoreSpecific(than other: PathTemplate) -> Bool {
        for (a, b) in zip(segments, other.segments) {
            switch (a, b) {
            case (.literal, .param): return true
            case (.param, .literal): return false
            default: continue
            }
        }
        return false
    }
}

// MARK: - Contract

public struct OpenAPIContract: Sendable {
    private static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    private let root: JSONValue
    private let paths: [String: JSONValue]
    /// METHOD (upper case) → number of segments → templates.
    private let index: [String: [Int: [PathTemplate]]]
    private let regexes = RegexCache()

    /// Loads and indexes the document (parse once; callers cache it).
    public init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        let root = try JSONValue.parse(data)
        guard let paths = root["paths"]?.object else {
            throw ContractLoadError(description: "\(url.path): not an OpenAPI document (no 'paths' object)")
        }
        var index: [String: [Int: [PathTemplate]]] = [:]
        for (raw, item) in paths {
            let tpl = PathTemplate(raw)
            let item = Self.resolve(item, in: root)
            for m in Self.methods where item[m]?.object != nil {
                index[m.uppercased(), default: [:]][tpl.segments.count, default: []].append(tpl)
            }
        }
        self.root = root
        self.paths = paths
        self.index = index
    }

    /// The path template ("/v2/droplets/{droplet_id}") an actual request path ("/v2/droplets/123") matches for `method`, or nil. Literal segments win over template segments when both match (e.g. "/v2/droplets/actions" vs "/v2/droplets/{droplet_id}").
    public func template(method: String, path: String) -> String? {
        lookup(method: method.uppercased(), path: Self.stripQuery(path))?.template.raw
    }

    /// Every way the request breaks the description; empty when it conforms.
    /// query: the decoded query items in order. body: the raw JSON body, or nil/empty.
    public func checkRequest(method: String, path: String, query: [(name: String, value: String)], body: Data?) -> [String] {
        let m = method.uppercased()
        let p = Self.stripQuery(path)
        guard let found = lookup(method: m, path: p), let op = operation(found.template, m) else {
            return ["no operation \(m) \(p) in the description"]
        }
        let prefix = "\(m) \(p)"
        var out: [String] = []
        let params = parameters(found.template, op)

        // Path parameters.
        for (name, value) in found.params {
            guard let decl = params.first(where: { $0["in"]?.string == "path" && $0["name"]?.string == name }),
                  let schema = decl["schema"] else { continue }
            out += checkParameter(schema, value, label: "path.\(name)").map { "\(prefix) \($0)" }
        }

        // Query parameters.
        let queryDecls = params.filter { $0["in"]?.string == "query" }
        for item in query {
            guard let decl = queryDecls.first(where: { $0["name"]?.string == item.name }) else {
                out.append("\(prefix) query.\(item.name): parameter not declared by the operation")
                continue
            }
            if let schema = decl["schema"] {
                out += checkParameter(schema, item.value, label: "query.\(item.name)").map { "\(prefix) \($0)" }
            }
        }
        for decl in queryDecls where decl["required"]?.isTrue == true {
            if let name = decl["name"]?.string, !query.contains(where: { $0.name == name }) {
                out.append("\(prefix) query: missing required parameter '\(name)'")
            }
        }

        // Body.
        let payload = Self.nonEmpty(body)
        guard let requestBody = op["requestBody"].map({ resolve($0) }) else {
            if let payload {
                out.append("\(prefix) body: operation takes no request body, but \(payload.count) bytes were sent")
            }
            return out
        }
        guard let payload else {
            if requestBody["required"]?.isTrue == true {
                out.append("\(prefix) body: missing (the request body is required)")
            }
            return out
        }
        guard let media = Self.jsonMedia(requestBody["content"]) else {
            return out // Only non-JSON content described; nothing to check.
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(payload)
        } catch {
            out.append("\(prefix) body: not valid JSON")
            return out
        }
        if let schema = media["schema"] {
            out += validator(forRequest: true).validate(schema, json, "body").map { "\(prefix) \($0)" }
        }
        return out
    }

    /// Every way a response breaks the description for that operation and status (falls back to the "default" response only if the status is not listed; a listed status with no JSON content expects an empty body).
    public func checkResponse(method: String, path: String, status: Int, body: Data?) -> [String] {
        let m = method.uppercased()
        let p = Self.stripQuery(path)
        guard let found = lookup(method: m, path: p), let op = operation(found.template, m) else {
            return ["no operation \(m) \(p) in the description"]
        }
        let prefix = "\(m) \(p) (\(status))"
        guard let responses = op["responses"].map({ resolve($0) })?.object else {
            return ["\(prefix): the operation describes no responses"]
        }
        let code = String(status)
        guard let listed = responses[code] ?? responses["\(status / 100)XX"] ?? responses["\(status / 100)xx"]
            ?? responses["default"] else {
            return ["\(prefix): status \(status) is not described (described: \(responses.keys.sorted().joined(separator: ", ")))"]
        }
        let response = resolve(listed)
        let payload = Self.nonEmpty(body)
        let content = response["content"]?.object ?? [:]
        guard let media = Self.jsonMedia(response["content"]) else {
            if let payload, content.isEmpty {
                return ["\(prefix) body: the description has no content for this status, but \(payload.count) bytes were returned"]
            }
            return [] // No body, or a non-JSON body we do not check.
        }
        guard let payload else {
            return ["\(prefix) body: missing (expected application/json)"]
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(payload)
        } catch {
            return ["\(prefix) body: not valid JSON"]
        }
        guard let schema = media["schema"] else { return [] }
        return validator(forRequest: false).validate(schema, json, "body").map { "\(prefix) \($0)" }
    }

    // MARK: Lookup helpers

    private func lookup(method: String, path: String) -> (template: PathTemplate, params: [(name: String, value: String)])? {
        let parts = PathTemplate.split(path)
        guard let candidates = index[method]?[parts.count] else { return nil }
        var best: (template: PathTemplate, params: [(name: String, value: String)])?
        for tpl in candidates {
            guard let params = tpl.match(parts) else { continue }
            if let current = best, !tpl.isMoreSpecific(than: current.template) { continue }
            best = (tpl, params)
        }
        return best
    }

    private func operation(_ template: PathTemplate, _ method: String) -> JSONValue? {
        guard let item = paths[template.raw].map({ resolve($0) }) else { return nil }
        guard let op = item[method.lowercased()], op.object != nil else { return nil }
        return resolve(op)
    }

    /// Path-level parameters overridden by operation-level ones (same name + in).
    private func parameters(_ template: PathTemplate, _ op: JSONValue) -> [JSONValue] {
        let item = paths[template.raw].map { resolve($0) }
        var result: [JSONValue] = []
        func key(_ p: JSONValue) -> String { "\(p["in"]?.string ?? "")\u{0}\(p["name"]?.string ?? "")" }
        let opParams = (op["parameters"]?.array ?? []).map { resolve($0) }
        let opKeys = Set(opParams.map(key))
        for p in (item?["parameters"]?.array ?? []).map({ resolve($0) }) where !opKeys.contains(key(p)) {
            result.append(p)
        }
        result += opParams
        return result
    }

    /// Checks one textual parameter value against its schema.
    private func checkParameter(_ schemaIn: JSONValue, _ value: String, label: String, depth: Int = 0) -> [String] {
        guard depth < 16, let s = resolve(schemaIn).object else { return [] }
        var out: [String] = []
        for branch in s["allOf"]?.array ?? [] {
            out += checkParameter(branch, value, label: label, depth: depth + 1)
        }
        for key in ["oneOf", "anyOf"] {
            guard let branches = s[key]?.array, !branches.isEmpty else { continue }
            let results = branches.map { checkParameter($0, value, label: label, depth: depth + 1) }
            if !results.contains(where: { $0.isEmpty }) {
                let closest = results.min(by: { $0.count < $1.count }) ?? []
                out.append("\(label): '\(value)' matches none of the \(key) alternatives (closest: \(closest.joined(separator: "; ")))")
            }
        }
        let instance: JSONValue
        switch s["type"]?.string {
        case "integer":
            guard let i = Int64(value) else { return out + ["\(label): expected integer, found '\(value)'"] }
            instance = .number(Double(i))
        case "number":
            guard let d = Double(value), d.isFinite else { return out + ["\(label): expected number, found '\(value)'"] }
            instance = .number(d)
        case "boolean":
            guard value == "true" || value == "false" else { return out + ["\(label): expected boolean, found '\(value)'"] }
            instance = .bool(value == "true")
        case "array":
            // form/explode: each occurrence carries one item.
            if let items = s["items"] { out += checkParameter(items, value, label: label, depth: depth + 1) }
            return out
        case "object":
            return out
        default:
            instance = .string(value)
        }
        var scalar = s
        for key in ["allOf", "oneOf", "anyOf", "items", "properties", "required"] { scalar[key] = nil }
        out += validator(forRequest: true).validate(.object(scalar), instance, label)
        return out
    }

    private func validator(forRequest: Bool) -> SchemaValidator {
        SchemaValidator(root: root, forRequest: forRequest, regexes: regexes)
    }

    private func resolve(_ value: JSONValue) -> JSONValue {
        Self.resolve(value, in: root)
    }

    /// Follows `{"$ref": "#/..."}` (JSON pointer into the same document).
    static func resolve(_ value: JSONValue, in root: JSONValue) -> JSONValue {
        var current = value
        var hops = 0
        while let ref = current["$ref"]?.string, hops < 32 {
            guard let target = pointer(ref, in: root) else { return current }
            current = target
            hops += 1
        }
        return current
    }

    static func pointer(_ ref: String, in root: JSONValue) -> JSONValue? {
        guard ref.hasPrefix("#") else { return nil }
        var node = root
        let body = ref.dropFirst()
        if body.isEmpty { return root }
        guard body.hasPrefix("/") else { return nil }
        for rawToken in body.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = (String(rawToken).removingPercentEncoding ?? String(rawToken))
                .replacingOccurrences(of: "~1", with: "/")
                .replacingOccurrences(of: "~0", with: "~")
            switch node {
            case .object(let o):
                guard let next = o[token] else { return nil }
                node = next
            case .array(let a):
                guard let i = Int(token), a.indices.contains(i) else { return nil }
                node = a[i]
            default:
                return nil
            }
        }
        return node
    }

    private static func stripQuery(_ path: String) -> String {
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { return String(path[..<q]) }
        return path
    }

    private static func nonEmpty(_ body: Data?) -> Data? {
        guard let body, !body.isEmpty else { return nil }
        let blank = body.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        return blank ? nil : body
    }

    /// The application/json (or other +json) media type object of a content map.
    private static func jsonMedia(_ content: JSONValue?) -> JSONValue? {
        guard let c = content?.object else { return nil }
        if let m = c["application/json"] { return m }
        for key in c.keys.sorted() where key.lowercased().contains("json") { return c[key] }
        return nil
    }
}

// MARK: - Schema validation

/// Result of applying one schema (and its compositions) at one instance location.
private struct Evaluation {
    var errors: [String] = []
    /// Object keys named by `properties` of the applied schemas.
    var named: Set<String> = []
    /// Unknown keys allowed (additionalProperties true/schema, free-form object).
    var open = false
    /// Some applied schema names properties (or forbids additional ones), so unknown keys are checked.
    var declares = false

    mutating func merge(_ other: Evaluation) {
        errors += other.errors
        named.formUnion(other.named)
        open = open || other.open
        declares = declares || other.declares
    }
}

private struct SchemaValidator {
    let root: JSONValue
    let forRequest: Bool
    let regexes: RegexCache

    /// Validates `instance` at a new location (`path`), including the unknown-key check.
    func validate(_ schema: JSONValue, _ instance: JSONValue, _ path: String) -> [String] {
        var e = evaluate(schema, instance, path, outer: [], depth: 0)
        if case .object(let o) = instance, e.declares, !e.open {
            for k in o.keys.sorted() where !e.named.contains(k) {
                e.errors.append("\(path): unknown key '\(k)'")
            }
        }
        return e.errors
    }

    private func resolve(_ v: JSONValue) -> JSONValue { OpenAPIContract.resolve(v, in: root) }

    private func child(_ path: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-"
        }
        return plain ? "\(path).\(key)" : "\(path)[\"\(key)\"]"
    }

    /// Keys named by a schema's properties, through allOf/oneOf/anyOf (not into properties).
    private func staticNames(_ schemaIn: JSONValue, depth: Int = 0) -> Set<String> {
        guard depth < 16, let s = resolve(schemaIn).object else { return [] }
        var names = Set(s["properties"]?.object?.keys.map { $0 } ?? [])
        for key in ["allOf", "oneOf", "anyOf"] {
            for b in s[key]?.array ?? [] { names.formUnion(staticNames(b, depth: depth + 1)) }
        }
        return names
    }

    private func staticNames(_ list: [JSONValue]) -> Set<String> {
        list.reduce(into: Set<String>()) { $0.formUnion(staticNames($1)) }
    }

    private func typeMatches(_ type: String, _ v: JSONValue) -> Bool {
        switch (type, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number):
            return true
        case ("integer", .number(let d)):
            return d.isFinite && d == d.rounded()
        case ("object", _), ("array", _), ("string", _), ("boolean", _), ("number", _), ("integer", _):
            return false
        default:
            return true // Unknown type keyword: do not judge.
        }
    }

    private func unknownKeys(_ instance: JSONValue, _ e: Evaluation, outer: Set<String>, _ path: String) -> [String] {
        guard case .object(let o) = instance, e.declares, !e.open else { return [] }
        return o.keys.sorted().filter { !outer.contains($0) && !e.named.contains($0) }
            .map { "\(path): unknown key '\($0)'" }
    }

    private func summary(_ reasons: [String]) -> String {
        let shown = reasons.prefix(20).joined(separator: "; ")
        return reasons.count > 20 ? "\(shown); (+\(reasons.count - 20) more)" : shown
    }

    /// The branch that fits best: fewest violations at this very location (wrong type,
    /// missing required or unknown keys), then fewest violations overall.
    private func closest(_ violations: [[String]], at path: String) -> Int {
        let here = "\(path): "
        func rank(_ v: [String]) -> (Int, Int) { (v.filter { $0.hasPrefix(here) }.count, v.count) }
        return violations.indices.min { rank(violations[$0]) < rank(violations[$1]) } ?? 0
    }

    private func branchName(_ branch: JSONValue, _ i: Int) -> String {
        if let t = resolve(branch)["title"]?.string { return "'\(t)'" }
        return "#\(i)"
    }

    private func evaluate(_ schemaIn: JSONValue, _ instance: JSONValue, _ path: String, outer: Set<String>, depth: Int) -> Evaluation {
        var r = Evaluation()
        guard depth < 48 else { return r }
        let schema = resolve(schemaIn)
        if schemaIn["$ref"] != nil, schema["$ref"] != nil {
            r.errors.append("\(path): unresolvable $ref \(schemaIn["$ref"]?.string ?? "")")
            return r
        }
        guard let s = schema.object else {
            if case .bool(false) = schema { r.errors.append("\(path): no value is allowed here") }
            return r
        }
        let type = s["type"]?.string

        if case .null = instance {
            if s["nullable"]?.isTrue == true { return r }
            if let type {
                r.errors.append("\(path): expected \(type), found null")
                return r
            }
        }
        if let allowed = s["enum"]?.array, !allowed.contains(instance) {
            let list = allowed.prefix(12).map(\.brief).joined(separator: ", ") + (allowed.count > 12 ? ", …" : "")
            r.errors.append("\(path): \(instance.brief) is not one of [\(list)]")
        }
        if let type, !typeMatches(type, instance) {
            r.errors.append("\(path): expected \(type), found \(instance.kind)")
            return r
        }

        let props = s["properties"]?.object ?? [:]
        let allOf = s["allOf"]?.array ?? []
        let oneOf = s["oneOf"]?.array ?? []
        let anyOf = s["anyOf"]?.array ?? []

        switch instance {
        case .string(let str):
            let length = str.unicodeScalars.count
            if let min = s["minLength"]?.number, Double(length) < min {
                r.errors.append("\(path): string length \(length) is below minLength \(JSONValue.format(min))")
            }
            if let max = s["maxLength"]?.number, Double(length) > max {
                r.errors.append("\(path): string length \(length) exceeds maxLength \(JSONValue.format(max))")
            }
            if let pattern = s["pattern"]?.string, let re = regexes.regex(pattern) {
                let range = NSRange(str.startIndex..<str.endIndex, in: str)
                if re.firstMatch(in: str, options: [], range: range) == nil {
                    r.errors.append("\(path): \(instance.brief) does not match pattern \(pattern)")
                }
            }
        case .number(let d):
            if let min = s["minimum"]?.number {
                let exclusive = s["exclusiveMinimum"]?.isTrue == true
                if exclusive ? !(d > min) : !(d >= min) {
                    r.errors.append("\(path): \(JSONValue.format(d)) is below the \(exclusive ? "exclusive " : "")minimum \(JSONValue.format(min))")
                }
            }
            if let max = s["maximum"]?.number {
                let exclusive = s["exclusiveMaximum"]?.isTrue == true
                if exclusive ? !(d < max) : !(d <= max) {
                    r.errors.append("\(path): \(JSONValue.format(d)) is above the \(exclusive ? "exclusive " : "")maximum \(JSONValue.format(max))")
                }
            }
            if let step = s["multipleOf"]?.number, step > 0 {
                let q = d / step
                if abs(q - q.rounded()) > 1e-9 {
                    r.errors.append("\(path): \(JSONValue.format(d)) is not a multiple of \(JSONValue.format(step))")
                }
            }
        case .array(let items):
            if let min = s["minItems"]?.number, Double(items.count) < min {
                r.errors.append("\(path): \(items.count) items, fewer than minItems \(JSONValue.format(min))")
            }
            if let max = s["maxItems"]?.number, Double(items.count) > max {
                r.errors.append("\(path): \(items.count) items, more than maxItems \(JSONValue.format(max))")
            }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() {
                    r.errors += validate(itemSchema, item, "\(path)[\(i)]")
                }
            }
        case .object(let o):
            if !props.isEmpty { r.declares = true }
            for k in o.keys.sorted() {
                guard let ps = props[k], let v = o[k] else { continue }
                r.named.insert(k)
                r.errors += validate(ps, v, child(path, k))
            }
            for case .string(let name) in s["required"]?.array ?? [] where o[name] == nil {
                if let ps = props[name] {
                    let p = resolve(ps)
                    if forRequest, p["readOnly"]?.isTrue == true { continue }
                    if !forRequest, p["writeOnly"]?.isTrue == true { continue }
                }
                r.errors.append("\(path): missing required '\(name)'")
            }
            switch s["additionalProperties"] {
            case .bool(false)?:
                r.declares = true
            case .bool(true)?:
                r.open = true
            case .object(let extra)?:
                r.open = true
                for k in o.keys.sorted() where props[k] == nil {
                    if let v = o[k] { r.errors += validate(.object(extra), v, child(path, k)) }
                }
            default:
                if type == "object", props.isEmpty, allOf.isEmpty, oneOf.isEmpty, anyOf.isEmpty {
                    r.open = true // Free-form object.
                }
            }
        default:
            break
        }

        let isObject: Bool
        if case .object = instance { isObject = true } else { isObject = false }
        let ownNames: Set<String> = isObject ? Set(props.keys) : []

        if !allOf.isEmpty {
            let branchNames = isObject ? allOf.map { staticNames($0) } : []
            let base = isObject ? outer.union(ownNames).union(staticNames(oneOf)).union(staticNames(anyOf)) : []
            for (i, branch) in allOf.enumerated() {
                var context = base
                if isObject {
                    for (j, names) in branchNames.enumerated() where j != i { context.formUnion(names) }
                }
                r.merge(evaluate(branch, instance, path, outer: context, depth: depth + 1))
            }
        }

        if !oneOf.isEmpty {
            let context = isObject ? outer.union(ownNames).union(staticNames(allOf)).union(staticNames(anyOf)) : []
            var results: [(eval: Evaluation, violations: [String])] = []
            for branch in oneOf {
                let e = evaluate(branch, instance, path, outer: context, depth: depth + 1)
                results.append((e, e.errors + unknownKeys(instance, e, outer: context, path)))
            }
            let matching = results.filter { $0.violations.isEmpty }
            r.declares = r.declares || results.contains { $0.eval.declares }
            if matching.isEmpty {
                let best = closest(results.map(\.violations), at: path)
                r.errors.append("\(path): matches no oneOf branch; closest \(branchName(oneOf[best], best)): \(summary(results[best].violations))")
                r.open = true // Unknown keys were reported with the closest branch.
            } else {
                // DO's branches overlap, so more than one match is tolerated.
                for m in matching {
                    r.named.formUnion(m.eval.named)
                    r.open = r.open || m.eval.open
                }
            }
        }

        if !anyOf.isEmpty {
            let context = isObject ? outer.union(ownNames).union(staticNames(allOf)).union(staticNames(oneOf)) : []
            let results = anyOf.map { evaluate($0, instance, path, outer: context, depth: depth + 1) }
            r.declares = r.declares || results.contains { $0.declares }
            let valid = results.filter { $0.errors.isEmpty }
            if valid.isEmpty {
                let reasons = results.map { $0.errors + unknownKeys(instance, $0, outer: context, path) }
                let best = closest(reasons, at: path)
                r.errors.append("\(path): matches no anyOf branch; closest \(branchName(anyOf[best], best)): \(summary(reasons[best]))")
                r.open = true
            } else {
                // Several anyOf branches may hold at once: their keys combine, and keys
                // none of them names are reported at this location as unknown.
                var union = Set<String>()
                var open = false
                for v in valid {
                    union.formUnion(v.named)
                    open = open || v.open
                }
                r.named.formUnion(union)
                r.open = r.open || open
                // Keys left over are named only by branches that failed: report why the
                // closest such branch failed (its keys then count as named here).
                if case .object(let o) = instance, !open {
                    let leftover = Set(o.keys).subtracting(context).subtracting(union)
                    let candidates = results.indices.filter {
                        !results[$0].errors.isEmpty && !results[$0].named.isDisjoint(with: leftover)
                    }
                    if !candidates.isEmpty {
                        let best = candidates[closest(candidates.map { results[$0].errors }, at: path)]
                        let keys = results[best].named.intersection(leftover).sorted().map { "'\($0)'" }.joined(separator: ", ")
                        r.errors.append("\(path): no anyOf branch accepts \(keys); closest \(branchName(anyOf[best], best)): \(summary(results[best].errors))")
                        r.named.formUnion(results[best].named)
                    }
                }
            }
        }
        return r
    }
}
