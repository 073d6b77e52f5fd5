/// One environment (`environments/<name>.yaml`): where it runs, its network, its clusters of
/// nodes, and which stacks of the inventory run on them.
public struct Environment: Hashable, Sendable {
    public var name: String
    public var description: String?
    public var provider: Provider
    /// The DNS domain that route hosts without a dot are prefixed to (`grafana` → `grafana.<domain>`).
    public var domain: String?
    public var network: Network
    /// In file order.
    public var clusters: [Cluster]
    public var stacks: StackSelection
    /// Stack versions pinned for this environment, overriding the inventory's.
    public var pins: [String: String]
    public var overrides: [String: StackOverride]
    /// Where each secret's value comes from; a secret not listed reads `env:<NAME IN CAPITALS>`.
    public var secrets: [String: SecretReference]
    /// When true, any plan that destroys a resource of this environment fails unless `--allow-destroy`.
    public var protect: Bool
    /// False (`configure_nodes: false`): kryoform makes the cloud machines and leaves their
    /// configuration to the team (no swarm, no stacks in the plan, no SSH).
    public var configuresNodes: Bool = true
    public var source: SourceMap
    /// False when a cluster could not be read: role and capacity checks then stay quiet rather
    /// than report the missing cluster's roles as absent.
    public var clustersAreComplete = true

    /// The roles the environment's clusters (or, for the static provider, its hosts) carry.
    public var roles: Set<String> { Set(clusters.flatMap(\.roles) + provider.hosts.flatMap(\.roles)) }

    /// Where the value of `secret` comes from in this environment.
    public func reference(forSecret secret: String) -> SecretReference {
        secrets[secret] ?? .environment(secret.uppercased().replacingOccurrences(of: "-", with: "_"))
    }
}

public struct Provider: Hashable, Sendable {
    public enum Name: String, Hashable, Sendable, Codable, CaseIterable {
        case digitalocean, vultr, aws, sandbox, `static`

        /// The credential keys this provider takes, each with the reference used when it is left out.
        public var credentials: [(key: String, defaultReference: SecretReference?)] {
            switch self {
            case .digitalocean: return [("token", .environment("DIGITALOCEAN_TOKEN"))]
            case .vultr: return [("api_key", .environment("VULTR_API_KEY"))]
            case .aws: return [
                ("access_key_id", .environment("AWS_ACCESS_KEY_ID")),
                ("secret_access_key", .environment("AWS_SECRET_ACCESS_KEY")),
                ("session_token", nil),
            ]
            case .sandbox, .static: return []
            }
        }

        /// Whether the provider is a cloud reached over HTTP (and so takes `region` and `endpoint`).
        public var isCloud: Bool { self != .sandbox && self != .static }
    }

    public var name: Name
    public var region: String?
    /// A compatible API to use instead of the public one (a proxy, an emulator, a test server).
    public var endpoint: String?
    /// The provider's OS image for new nodes (a slug, an AMI id).
    public var image: String?
    /// Credential key (`token`, `access_key_id`, ...) to where its value comes from.
    public var credentials: [String: SecretReference]
    /// For the `static` provider: the existing hosts.
    public var hosts: [StaticHost]
    /// For the `sandbox` provider: the folder its emulated cloud lives in, relative to the
    /// project (default `.kryoform/sandbox`). Working copies that share state share it too.
    public var directory: String? = nil
}

/// An existing machine the `static` provider configures over SSH.
public struct StaticHost: Hashable, Sendable {
    public var name: String
    public var address: String
    public var port: Int?
    public var user: String?
    public var roles: [String]
}

public struct Network: Hashable, Sendable {
    public var cidr: CIDR?
    public var firewall: [FirewallRule]
}

/// Inbound traffic allowed to the environment's nodes.
public struct FirewallRule: Hashable, Sendable {
    public enum Transport: String, Hashable, Sendable, Codable, CaseIterable { case tcp, udp, icmp }

    public var ports: [PortRange]
    public var from: [CIDR]
    public var `protocol`: Transport
    public var description: String?
}

/// A group of identical nodes carrying one or more roles.
public struct Cluster: Hashable, Sendable {
    public var name: String
    public var roles: [String]
    public var nodes: Int
    public var size: NodeSize
    public var volumes: [ClusterVolume]
    public var labels: [String: String]
}

/// How big each node is: provider-neutral amounts, or a provider's own size slug.
public enum NodeSize: Hashable, Sendable {
    case neutral(cpu: Int, memory: ByteSize, disk: ByteSize?, gpu: Int)
    case slug(String)

    /// The disk a neutral size asks for.
    public var disk: ByteSize? {
        if case .neutral(_, _, let disk, _) = self { return disk }
        return nil
    }
}

/// A block-storage volume attached to each node of a cluster.
public struct ClusterVolume: Hashable, Sendable {
    public var name: String
    public var size: ByteSize

    public init(name: String, size: ByteSize) {
        self.name = name
        self.size = size
    }
}

/// Which stacks of the inventory an environment runs.
public enum StackSelection: Hashable, Sendable {
    case all
    case only([String])
    case allExcept([String])

    public func includes(_ stack: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let names): return names.contains(stack)
        case .allExcept(let names): return !names.contains(stack)
        }
    }
}

/// An environment's change to one stack's scale: fewer replicas in dev, more memory in prod.
public struct StackOverride: Hashable, Sendable {
    public var replicas: Int?
    public var cpu: CPU?
    public var memory: ByteSize?
    public var gpu: Int?
}
