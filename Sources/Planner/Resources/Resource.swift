/// A resource's attributes as kryoform compares them: name → value, both plain text.
public typealias Attributes = [String: String]

/// A resource the specs ask for, with what it depends on.
public struct DesiredResource: Hashable, Sendable, Codable {
    public var address: ResourceAddress
    public var kind: ResourceKind
    public var attributes: Attributes
    public var dependsOn: [ResourceAddress]
    /// Display-only explanations of attributes (`size` → "16 vCPU, 32 GiB, 200 GiB disk; cheapest for …").
    public var notes: [String: String]

    public init(address: ResourceAddress, kind: ResourceKind, attributes: Attributes, dependsOn: [ResourceAddress] = [], notes: [String: String] = [:]) {
        self.address = address
        self.kind = kind
        self.attributes = attributes
        self.dependsOn = dependsOn
        self.notes = notes
    }
}

/// A resource as a provider reports it.
public struct ObservedResource: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable {
        /// Created, not yet usable (a node that is still booting).
        case pending
        case ready
    }

    public var address: ResourceAddress
    public var kind: ResourceKind
    /// The provider's own id (a droplet id, an instance id).
    public var providerID: String
    public var status: Status
    /// The attributes the provider reports, under the same names as the desired ones.
    public var attributes: Attributes
    /// What the provider adds that is not compared: addresses, creation time.
    public var details: [String: String]

    public init(address: ResourceAddress, kind: ResourceKind, providerID: String, status: Status = .ready, attributes: Attributes, details: [String: String] = [:]) {
        self.address = address
        self.kind = kind
        self.providerID = providerID
        self.status = status
        self.attributes = attributes
        self.details = details
    }
}

/// How each kind of resource takes a change to each attribute.
public enum ResourceSchema {
    /// What a change of one attribute does.
    public enum Effect: Hashable, Sendable {
        /// Changed on the live resource; the text says how ("resize in place").
        case inPlace(String)
        /// The resource must be replaced; the text says why.
        case replace(String)
    }

    /// How a replacement is carried out.
    public enum ReplaceStrategy: String, Hashable, Sendable, Codable {
        /// The old one goes first (a node keeps its name and address tag).
        case deleteThenCreate = "delete-then-create"
        /// The new one comes first and the old one goes after (a key, a firewall: no gap).
        case createThenDelete = "create-then-delete"
    }

    public static func effect(of attribute: String, on kind: ResourceKind, from before: String?, to after: String?) -> Effect {
        switch (kind, attribute) {
        case (.node, "size"): return .inPlace("resize in place")
        case (.node, "region"), (.node, "image"), (.node, "network"): return .replace("forces replacement")
        case (.node, "disk_gib"):
            if let before = before.flatMap(Int.init), let after = after.flatMap(Int.init), after < before {
                return .replace("a disk cannot shrink; forces replacement")
            }
            return .inPlace("grow in place")
        case (.node, _): return .inPlace("updated in place")
        case (.volume, "size_gib"):
            if let before = before.flatMap(Int.init), let after = after.flatMap(Int.init), after < before {
                return .replace("a volume cannot shrink; forces replacement")
            }
            return .inPlace("grow in place")
        case (.volume, "node"): return .inPlace("re-attach")
        case (.volume, VolumeMount.attribute): return .inPlace("mount on its node")
        case (.volume, _), (.network, _): return .replace("forces replacement")
        case (.sshKey, "public_key"): return .replace("a key cannot be changed; forces replacement")
        case (.firewall, _): return .inPlace("rules updated in place")
        case (.swarm, _): return .inPlace("membership updated in place")
        case (.stack, _): return .inPlace("redeploy")
        case (.sshKey, _): return .inPlace("updated in place")
        }
    }

    public static func replaceStrategy(for kind: ResourceKind) -> ReplaceStrategy {
        switch kind {
        case .sshKey, .firewall, .stack: return .createThenDelete
        case .network, .node, .volume, .swarm: return .deleteThenCreate
        }
    }

    /// Whether a resource of `kind` must be updated when a dependency of kind `dependency` is
    /// replaced (a volume re-attaches to the new node; the swarm takes the new node in).
    public static func followsReplacement(of dependency: ResourceKind, by kind: ResourceKind) -> Bool {
        switch (kind, dependency) {
        case (.volume, .node), (.swarm, .node): return true
        default: return false
        }
    }
}
