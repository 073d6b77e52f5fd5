import Foundation

/// One EC2 Query API call: the action and its parameters, flattened the way the `ec2` protocol
/// wants them (`InstanceId.1`, `Filter.1.Name`, `Filter.1.Value.1`, `TagSpecification.1.Tag.1.Key`).
///
/// Values are plain text; `body` percent-encodes them as AWS does (RFC 3986 unreserved
/// characters kept, everything else `%XX`, a space is `%20`).
struct EC2Query: Sendable, Equatable {
    static let version = "2016-11-15"

    var action: String
    /// Parameters in the order they were added (the body sorts nothing; AWS does not care).
    private(set) var parameters: [Parameter] = []
    /// Whether sending it twice is harmless: reads, deletes, and creates carrying a `ClientToken`.
    var idempotent: Bool

    struct Parameter: Sendable, Equatable {
        var name: String
        var value: String
    }

    init(_ action: String, idempotent: Bool = false) {
        self.action = action
        self.idempotent = idempotent
    }

    subscript(name: String) -> String? {
        get { parameters.last { $0.name == name }?.value }
        set {
            parameters.removeAll { $0.name == name }
            if let newValue { parameters.append(Parameter(name: name, value: newValue)) }
        }
    }

    /// `name.1`, `name.2`, ... for a list of plain values.
    mutating func list(_ name: String, _ values: [String]) {
        for (index, value) in values.enumerated() { self["\(name).\(index + 1)"] = value }
    }

    /// `Filter.N.Name` and `Filter.N.Value.M`, after the filters already there.
    mutating func filter(_ name: String, _ values: [String]) {
        let index = (parameters.compactMap { parameter -> Int? in
            guard parameter.name.hasPrefix("Filter."), parameter.name.hasSuffix(".Name") else { return nil }
            return Int(parameter.name.dropFirst("Filter.".count).dropLast(".Name".count))
        }.max() ?? 0) + 1
        self["Filter.\(index).Name"] = name
        list("Filter.\(index).Value", values)
    }

    /// The tag filters that find one environment's objects: `tag:kf-project` and `tag:kf-env`.
    mutating func scopeFilters(_ tags: [EC2Tag]) {
        for tag in tags { filter("tag:\(tag.key)", [tag.value]) }
    }

    /// `TagSpecification.N.ResourceType` and its `Tag.M.Key` / `Tag.M.Value`.
    mutating func tagSpecification(_ resourceType: String, _ tags: [EC2Tag]) {
        let index = (parameters.compactMap { parameter -> Int? in
            guard parameter.name.hasPrefix("TagSpecification."), parameter.name.hasSuffix(".ResourceType") else { return nil }
            return Int(parameter.name.dropFirst("TagSpecification.".count).dropLast(".ResourceType".count))
        }.max() ?? 0) + 1
        self["TagSpecification.\(index).ResourceType"] = resourceType
        for (tagIndex, tag) in tags.enumerated() {
            self["TagSpecification.\(index).Tag.\(tagIndex + 1).Key"] = tag.key
            self["TagSpecification.\(index).Tag.\(tagIndex + 1).Value"] = tag.value
        }
    }

    /// `IpPermissions.N.…` for security group rules.
    mutating func permissions(_ rules: [EC2Permission]) {
        for (index, rule) in rules.enumerated() {
            let prefix = "IpPermissions.\(index + 1)"
            self["\(prefix).IpProtocol"] = rule.proto
            if rule.proto != "-1" {
                self["\(prefix).FromPort"] = String(rule.fromPort)
                self["\(prefix).ToPort"] = String(rule.toPort)
            }
            if rule.cidr.contains(":") {
                self["\(prefix).Ipv6Ranges.1.CidrIpv6"] = rule.cidr
                if let description = rule.description { self["\(prefix).Ipv6Ranges.1.Description"] = description }
            } else {
                self["\(prefix).IpRanges.1.CidrIp"] = rule.cidr
                if let description = rule.description { self["\(prefix).IpRanges.1.Description"] = description }
            }
        }
    }

    /// The form body: `Action`, `Version`, then the parameters.
    var body: Data {
        let pairs = [("Action", action), ("Version", Self.version)] + parameters.map { ($0.name, $0.value) }
        return Data(pairs.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&").utf8)
    }

    /// AWS percent-encoding: unreserved characters as they are, every other byte `%XX`.
    static func encode(_ text: String) -> String {
        SigV4Canonical.uriEncode(text)
    }

    /// The parameters of a form body, decoded (for the fake and the tests).
    static func decode(_ body: Data) -> [String: String] {
        var result: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[1])) : ""
            result[name] = value
        }
        return result
    }
}

/// One EC2 tag. kryoform's tags are `prefix:value` strings (`kf-env:dev`); on EC2 the part
/// before the first colon is the key and the rest the value.
struct EC2Tag: Hashable, Sendable {
    var key: String
    var value: String

    init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// `kf-addr:node:main:1` → key `kf-addr`, value `node:main:1`.
    init(kryoform tag: String) {
        if let colon = tag.firstIndex(of: ":") {
            key = String(tag[..<colon])
            value = String(tag[tag.index(after: colon)...])
        } else {
            key = tag
            value = ""
        }
    }

    /// The kryoform form back: `key:value`.
    var kryoform: String { "\(key):\(value)" }
}

/// One ingress rule of a security group as kryoform manages it: one protocol, one port range,
/// one source range (`-1` is every protocol).
struct EC2Permission: Hashable, Sendable {
    var proto: String
    var fromPort: Int
    var toPort: Int
    var cidr: String
    var description: String?
}
