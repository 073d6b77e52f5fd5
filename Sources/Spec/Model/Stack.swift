/// One entry of the inventory (`stacks/<name>.yaml`): a service kryoform deploys, or a library or
/// external service that belongs to the inventory but deploys nothing.
public struct Stack: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// Runs as a Docker Swarm service on the nodes of its role.
        case service
        /// Code used inside other services (PyTorch, NumPy): nothing to deploy.
        case library
        /// A service run by someone else (Stripe, Twilio) or outside Swarm: nothing to deploy.
        case external
    }

    /// The inventory's layers, as the KRYONIX seed groups its stacks.
    public enum Layer: String, Hashable, Sendable, Codable, CaseIterable {
        case infrastructure, ai, monitoring, application, development, security, communication
    }

    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable {
        /// `replicas` tasks spread over the role's nodes.
        case replicated
        /// One task on every node of the role.
        case global
    }

    public var name: String
    public var kind: Kind
    public var layer: Layer
    /// The cluster role its tasks are placed on (for libraries and externals: where they are used).
    public var role: String
    public var description: String?
    public var image: String?
    public var version: String?
    public var mode: Mode
    public var replicas: Int
    /// What each task reserves on its node.
    public var resources: Resources
    /// The most each task may use; nil where the stack sets no limit.
    public var limits: Resources?
    public var command: [String]?
    public var ports: [ServicePort]
    public var routes: [Route]
    public var volumes: [StackVolume]
    public var environment: [String: String]
    public var secrets: [String]
    public var dependsOn: [String]
    public var health: HealthCheck?
    public var source: SourceMap

    public var deploysSomething: Bool { kind == .service }

    /// `image:version`, or the image alone when the version is not set.
    public var imageReference: String? {
        image.map { image in version.map { "\(image):\($0)" } ?? image }
    }
}

/// CPU, memory and GPU, as a stack reserves them or a node offers them.
public struct Resources: Hashable, Sendable, Codable {
    public var cpu: CPU
    public var memory: ByteSize
    public var gpu: Int

    public init(cpu: CPU = .zero, memory: ByteSize = .zero, gpu: Int = 0) {
        self.cpu = cpu
        self.memory = memory
        self.gpu = gpu
    }

    public static let zero = Resources()

    public static func + (lhs: Resources, rhs: Resources) -> Resources {
        Resources(cpu: lhs.cpu + rhs.cpu, memory: lhs.memory + rhs.memory, gpu: lhs.gpu + rhs.gpu)
    }

    public static func * (lhs: Resources, count: Int) -> Resources {
        Resources(cpu: lhs.cpu * count, memory: lhs.memory * count, gpu: lhs.gpu * count)
    }

    /// Whether every amount here is at most the one in `other`.
    public func fits(in other: Resources) -> Bool {
        cpu <= other.cpu && memory <= other.memory && gpu <= other.gpu
    }
}

/// A port a service listens on, and the port the swarm publishes it on, if any.
public struct ServicePort: Hashable, Sendable, Codable {
    public enum Transport: String, Hashable, Sendable, Codable, CaseIterable { case tcp, udp }

    public var target: Int
    /// Published on every node through the swarm's routing mesh; nil when only reachable inside the overlay network.
    public var published: Int?
    public var `protocol`: Transport
}

/// An HTTP route Traefik publishes for a stack: `grafana.<domain>/` → port 3000.
public struct Route: Hashable, Sendable, Codable {
    /// A full host name, or a single label that is prefixed to the environment's `domain`.
    public var host: String
    public var path: String
    public var port: Int

    /// The host name in an environment whose domain is `domain`.
    public func hostName(domain: String?) -> String {
        host.contains(".") ? host : domain.map { "\(host).\($0)" } ?? host
    }
}

/// A volume a stack mounts: a cluster volume of the same name where the role's nodes have one,
/// otherwise a Docker volume on the node's disk.
public struct StackVolume: Hashable, Sendable, Codable {
    public var name: String
    public var path: String
}

public struct HealthCheck: Hashable, Sendable, Codable {
    public var command: [String]
    public var interval: Interval
    public var timeout: Interval
    public var retries: Int
    public var startPeriod: Interval?
}
