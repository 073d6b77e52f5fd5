/// The kinds of resource an environment is made of, in the order they are listed.
public enum ResourceKind: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    case network, firewall
    case sshKey = "ssh_key"
    case node, volume, swarm, stack

    /// Whether the cloud provider owns this kind (the others are configuration on the nodes).
    public var isCloud: Bool { self != .swarm && self != .stack }

    private var order: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: ResourceKind, rhs: ResourceKind) -> Bool { lhs.order < rhs.order }
}

/// A resource's stable name within its environment: `network`, `node.application.2`,
/// `volume.data.1.pgdata`, `stack.postgres`.
public struct ResourceAddress: Hashable, Sendable, Comparable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static let network: ResourceAddress = "network"
    public static let firewall: ResourceAddress = "firewall"
    public static let sshKey: ResourceAddress = "ssh_key"
    public static let swarm: ResourceAddress = "swarm"

    public static func node(cluster: String, index: Int) -> ResourceAddress {
        ResourceAddress("node.\(cluster).\(index)")
    }

    /// A host of the static provider, by its name.
    public static func node(host: String) -> ResourceAddress {
        ResourceAddress("node.\(host)")
    }

    public static func volume(cluster: String, index: Int, name: String) -> ResourceAddress {
        ResourceAddress("volume.\(cluster).\(index).\(name)")
    }

    public static func stack(_ name: String) -> ResourceAddress {
        ResourceAddress("stack.\(name)")
    }

    public var segments: [Substring] { rawValue.split(separator: ".", omittingEmptySubsequences: false) }

    /// The kind named by the first segment, or nil for an address kryoform did not make.
    public var kind: ResourceKind? { segments.first.flatMap { ResourceKind(rawValue: String($0)) } }

    public var description: String { rawValue }

    /// Orders by kind, then segment by segment with numbers compared as numbers (`node.a.2` before `node.a.10`).
    public static func < (lhs: ResourceAddress, rhs: ResourceAddress) -> Bool {
        if lhs.kind != rhs.kind, let left = lhs.kind, let right = rhs.kind { return left < right }
        for (left, right) in zip(lhs.segments, rhs.segments) where left != right {
            if let leftNumber = Int(left), let rightNumber = Int(right) { return leftNumber < rightNumber }
            return left < right
        }
        return lhs.segments.count < rhs.segments.count
    }
}

/// The tags every created resource carries, so observation finds it by listing tags even when
/// the state file never recorded it. Tags use only `[a-z0-9_-:]` (DigitalOcean allows no dots).
public enum ResourceTags {
    public static let projectPrefix = "kf-project:"
    public static let environmentPrefix = "kf-env:"
    public static let addressPrefix = "kf-addr:"

    /// The tags naming an environment of a project: what observation lists.
    public static func scope(project: String, environment: String) -> [String] {
        [projectPrefix + project, environmentPrefix + environment]
    }

    /// Every tag of the resource at `address`.
    public static func all(project: String, environment: String, address: ResourceAddress) -> [String] {
        scope(project: project, environment: environment) + [addressTag(address)]
    }

    public static func addressTag(_ address: ResourceAddress) -> String {
        addressPrefix + address.rawValue.replacingOccurrences(of: ".", with: ":")
    }

    /// The address a resource's tags name, or nil when none does.
    public static func address(in tags: [String]) -> ResourceAddress? {
        tags.first { $0.hasPrefix(addressPrefix) }.map {
            ResourceAddress(String($0.dropFirst(addressPrefix.count)).replacingOccurrences(of: ":", with: "."))
        }
    }
}
