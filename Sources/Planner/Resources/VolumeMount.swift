import Spec

/// How a cluster volume is used on its node: where the provider's disk appears, where kryoform
/// mounts it, and which stacks bind it.
public enum VolumeMount {
    /// The `details` key of an observed volume holding the paths its disk may appear at on the
    /// node it is attached to, most specific first, space-separated (set by each provider).
    public static let deviceDetail = "device"
    /// The compared attribute saying where the volume is mounted on its node.
    public static let attribute = "mount"

    /// Where the volume named `name` is mounted on every node that holds one.
    public static func mountPoint(_ name: String) -> String { "/mnt/kryoform/\(name)" }

    /// The folder stacks bind: inside the mounted filesystem, so that where the volume is not
    /// mounted the folder does not exist and a task refuses to start rather than write its
    /// data to the node's own disk.
    public static func dataPath(_ name: String) -> String { mountPoint(name) + "/data" }

    /// The name of a volume from its address (`volume.data.1.pgdata` → `pgdata`).
    public static func name(of address: ResourceAddress) -> String { address.segments.last.map(String.init) ?? "" }

    /// The device paths a provider named for an observed volume.
    public static func devices(of volume: ObservedResource) -> [String] {
        (volume.details[deviceDetail] ?? "").split(separator: " ").map(String.init)
    }
}

/// Which of a stack's volumes are cluster volumes of its role's nodes, and where that puts it.
public struct VolumeBinding: Hashable, Sendable {
    /// Names of the stack's volumes the role's nodes hold as cluster volumes, in the stack's order.
    public var volumes: [String]
    /// The node a replicated stack of one task is held to (the first holding every bound
    /// volume, in address order): its data is on that node's volume, so the task never moves
    /// to another node's. Nil for a stack of several tasks or a global one: each task uses the
    /// volume of the node it runs on, at most one task a node.
    public var pinnedNode: String?

    /// The binding of `stack` in `environment`, or nil where none of its volumes is a cluster volume.
    public static func of(_ stack: Stack, in environment: Environment) -> VolumeBinding? {
        guard environment.provider.name != .static, !stack.volumes.isEmpty else { return nil }
        let clusters = environment.clusters.filter { $0.roles.contains(stack.role) && $0.nodes > 0 }
        let bound = stack.volumes.map(\.name).filter { name in clusters.contains { $0.volumes.contains { $0.name == name } } }
        guard !bound.isEmpty else { return nil }
        var pinned: String?
        if stack.mode == .replicated && stack.replicas == 1 {
            let holders = clusters.filter { cluster in bound.allSatisfy { name in cluster.volumes.contains { $0.name == name } } }
                .map { ResourceAddress.node(cluster: $0.name, index: 1) }
            pinned = holders.sorted().first?.rawValue
        }
        return VolumeBinding(volumes: bound, pinnedNode: pinned)
    }

    /// The stack's `placement` attribute in the plan.
    public var summary: String {
        let names = volumes.joined(separator: ",")
        if let pinnedNode { return "\(pinnedNode) (holds volume \(names))" }
        return "nodes holding volume \(names), one task each"
    }
}
