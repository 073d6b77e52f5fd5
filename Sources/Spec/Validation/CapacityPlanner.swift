/// Whether the service stacks an environment runs fit the nodes it has.
///
/// Nodes are grouped into pools: clusters that share a role share their nodes, so roles carried by
/// the same cluster are checked together (the dev node carries every role). For each pool the
/// reservations of all its tasks (`replicas × resources`, or one per node for global stacks) must fit
/// the nodes' capacity minus the system reserve, every single task must fit on one node, and GPU
/// tasks need GPU nodes. Sums are a necessary condition, not a bin-packing proof: the per-task check
/// catches the usual case where one large task fits nowhere.
public enum CapacityPlanner {
    /// What each node keeps for the OS, Docker and the swarm agent: 1 vCPU and 1 GiB.
    public static let systemReserve = Resources(cpu: .cores(1), memory: .gibibytes(1), gpu: 0)

    /// A node's capacity minus the system reserve; nil when the size is a provider slug, whose
    /// capacity only the provider's catalog knows.
    public static func allocatable(_ size: NodeSize) -> Resources? {
        guard case .neutral(let cpu, let memory, _, let gpu) = size else { return nil }
        return Resources(
            cpu: max(.zero, CPU.cores(cpu) - systemReserve.cpu),
            memory: max(.zero, memory - systemReserve.memory),
            gpu: gpu
        )
    }

    public static func report(environment: Environment, stacks: [Stack]) -> CapacityReport {
        let services = stacks.filter(\.deploysSomething)
        var pools: [CapacityReport.Pool] = []
        for group in poolGroups(environment.clusters) {
            let roles = Set(group.flatMap(\.roles))
            var pool = CapacityReport.Pool(clusters: group.map(\.name), nodes: group.reduce(0) { $0 + $1.nodes }, roles: [])
            pool.unknownSizes = group.filter { allocatable($0.size) == nil }.map(\.name)
            for cluster in group {
                if let node = allocatable(cluster.size) {
                    pool.allocatable = pool.allocatable + node * cluster.nodes
                }
            }
            for role in environment.clusters.flatMap(\.roles).uniqued() where roles.contains(role) {
                let carriers = group.filter { $0.roles.contains(role) }
                let nodes = carriers.reduce(0) { $0 + $1.nodes }
                var usage = CapacityReport.RoleUsage(role: role, clusters: carriers.map(\.name), nodes: nodes)
                for cluster in carriers {
                    if let node = allocatable(cluster.size) { usage.allocatable = usage.allocatable + node * cluster.nodes }
                }
                for stack in services where stack.role == role {
                    let tasks = stack.mode == .global ? nodes : stack.replicas
                    let consumer = CapacityReport.Consumer(stack: stack.name, tasks: tasks, perTask: stack.resources)
                    usage.consumers.append(consumer)
                    usage.reserved = usage.reserved + consumer.total
                }
                usage.consumers.sort { ($0.total.memory, $0.total.cpu, $1.stack) > ($1.total.memory, $1.total.cpu, $0.stack) }
                pool.reserved = pool.reserved + usage.reserved
                pool.roles.append(usage)
            }
            pools.append(pool)
        }
        return CapacityReport(environment: environment.name, reservePerNode: systemReserve, pools: pools)
    }

    /// Clusters joined when they share a role, in file order.
    static func poolGroups(_ clusters: [Cluster]) -> [[Cluster]] {
        var groups: [[Cluster]] = []
        for cluster in clusters {
            let touching = groups.indices.filter { index in groups[index].contains { !Set($0.roles).isDisjoint(with: cluster.roles) } }
            var merged = touching.flatMap { groups[$0] } + [cluster]
            merged.sort { first, second in
                (clusters.firstIndex(of: first) ?? 0) < (clusters.firstIndex(of: second) ?? 0)
            }
            for index in touching.reversed() { groups.remove(at: index) }
            groups.append(merged)
        }
        return groups
    }

    /// The shortfalls of `report` as located errors.
    public static func check(environment: Environment, stacks: [Stack]) -> [Diagnostic] {
        let report = report(environment: environment, stacks: stacks)
        var diagnostics: [Diagnostic] = []
        let stacksByName = Dictionary(stacks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for pool in report.pools {
            let clusterAt = environment.source.keyLocation(of: ModelPath.root / "clusters" / (pool.clusters.first ?? ""))
            if !pool.unknownSizes.isEmpty {
                if pool.roles.contains(where: { !$0.consumers.isEmpty }) {
                    diagnostics.append(.warning(
                        "capacity of cluster \(pool.unknownSizes.map { "'\($0)'" }.joined(separator: ", ")) is known only from the provider's catalog; it is checked at plan time",
                        at: environment.source.keyLocation(of: ModelPath.root / "clusters" / pool.unknownSizes[0])))
                }
                continue
            }
            // Each task fits on one node, and GPU tasks find GPU nodes.
            for usage in pool.roles {
                let largest = largestNode(for: usage, in: environment)
                for consumer in usage.consumers {
                    let at = stacksByName[consumer.stack]?.source.location(of: "resources") ?? clusterAt
                    if consumer.perTask.gpu > 0, largest.gpu < consumer.perTask.gpu {
                        diagnostics.append(.error(
                            "stack '\(consumer.stack)' needs \(consumer.perTask.gpu) GPU per task, but no node of role '\(usage.role)' in environment '\(environment.name)' has \(largest.gpu == 0 ? "a GPU" : "that many")",
                            at: environment.source.keyLocation(of: ModelPath.root / "clusters" / (usage.clusters.first ?? "")),
                            notes: ["the GPU is reserved at \(at)"],
                            fix: "give the cluster size.gpu: \(consumer.perTask.gpu), or set overrides.\(consumer.stack).resources.gpu: 0 in this environment"))
                    } else if !consumer.perTask.fits(in: largest) {
                        diagnostics.append(.error(
                            "a task of stack '\(consumer.stack)' reserves \(describe(consumer.perTask)), more than any node of role '\(usage.role)' offers (\(describe(largest)) after the system reserve)",
                            at: environment.source.keyLocation(of: ModelPath.root / "clusters" / (usage.clusters.first ?? "")),
                            notes: ["the reservation is set at \(at)"],
                            fix: "use a larger node size for role '\(usage.role)', or override the stack's resources in this environment"))
                    }
                }
                // Only meaningful where the role has fewer nodes than the pool it shares them in.
                if !usage.reserved.fits(in: usage.allocatable), usage.allocatable != pool.allocatable {
                    diagnostics.append(contentsOf: [shortfall(
                        of: "the nodes of role '\(usage.role)'", environment: environment, reserved: usage.reserved, allocatable: usage.allocatable,
                        consumers: usage.consumers, clusters: usage.clusters)].compactMap { $0 })
                }
            }
            if !pool.reserved.fits(in: pool.allocatable) {
                let what = pool.roles.count == 1 ? "the nodes of role '\(pool.roles[0].role)'"
                    : "the nodes of \(pool.clusters.map { "'\($0)'" }.joined(separator: ", ")) (roles \(pool.roles.map(\.role).joined(separator: ", ")))"
                diagnostics.append(contentsOf: [shortfall(
                    of: what, environment: environment, reserved: pool.reserved, allocatable: pool.allocatable,
                    consumers: pool.roles.flatMap(\.consumers), clusters: pool.clusters)].compactMap { $0 })
            }
        }
        return diagnostics
    }

    private static func largestNode(for usage: CapacityReport.RoleUsage, in environment: Environment) -> Resources {
        environment.clusters.filter { usage.clusters.contains($0.name) }.compactMap { allocatable($0.size) }.reduce(Resources.zero) {
            Resources(cpu: max($0.cpu, $1.cpu), memory: max($0.memory, $1.memory), gpu: max($0.gpu, $1.gpu))
        }
    }

    private static func shortfall(
        of what: String, environment: Environment, reserved: Resources, allocatable: Resources,
        consumers: [CapacityReport.Consumer], clusters: [String]
    ) -> Diagnostic? {
        var short: [String] = []
        if reserved.cpu > allocatable.cpu { short.append("\(reserved.cpu) vCPU (nodes offer \(allocatable.cpu))") }
        if reserved.memory > allocatable.memory { short.append("\(reserved.memory) memory (nodes offer \(allocatable.memory))") }
        // No GPU at all is reported task by task, with its own fix.
        if reserved.gpu > allocatable.gpu, allocatable.gpu > 0 { short.append("\(reserved.gpu) GPU (nodes offer \(allocatable.gpu))") }
        guard !short.isEmpty else { return nil }
        let memoryShort = reserved.memory > allocatable.memory
        let largest = consumers.sorted {
            memoryShort ? ($0.total.memory, $1.stack) > ($1.total.memory, $0.stack) : ($0.total.cpu, $1.stack) > ($1.total.cpu, $0.stack)
        }.prefix(5)
        return .error(
            "\(what) in environment '\(environment.name)' are short of capacity: their stacks reserve \(short.joined(separator: " and "))",
            at: environment.source.keyLocation(of: ModelPath.root / "clusters" / (clusters.first ?? "")),
            notes: [
                "largest consumers: " + largest.map { "\($0.stack) (\(describe($0.total)))" }.joined(separator: ", "),
                "each node keeps \(describe(systemReserve)) for the system",
            ],
            fix: "add nodes or use a larger size for \(clusters.map { "'\($0)'" }.joined(separator: ", ")), lower the reservations with overrides, or run fewer stacks here")
    }

    static func describe(_ resources: Resources) -> String {
        var parts = ["\(resources.cpu) vCPU", "\(resources.memory)"]
        if resources.gpu > 0 { parts.append("\(resources.gpu) GPU") }
        return parts.joined(separator: ", ")
    }
}

/// The demand and supply of capacity in one environment, per pool of nodes and per role.
public struct CapacityReport: Sendable, Hashable {
    public struct Consumer: Sendable, Hashable {
        public var stack: String
        public var tasks: Int
        public var perTask: Resources
        public var total: Resources { perTask * tasks }
    }

    public struct RoleUsage: Sendable, Hashable {
        public var role: String
        public var clusters: [String]
        public var nodes: Int
        public var reserved = Resources.zero
        public var allocatable = Resources.zero
        /// Largest first.
        public var consumers: [Consumer] = []
    }

    public struct Pool: Sendable, Hashable {
        public var clusters: [String]
        public var nodes: Int
        public var roles: [RoleUsage]
        public var reserved = Resources.zero
        public var allocatable = Resources.zero
        /// Clusters sized by a provider slug, whose capacity is not known without the catalog.
        public var unknownSizes: [String] = []

        public var fits: Bool { unknownSizes.isEmpty ? reserved.fits(in: allocatable) && roles.allSatisfy { $0.reserved.fits(in: $0.allocatable) } : true }
    }

    public var environment: String
    public var reservePerNode: Resources
    public var pools: [Pool]
}

extension Sequence where Element: Hashable {
    func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}
