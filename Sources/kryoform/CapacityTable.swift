import Rainbow
import Spec

/// The per-role capacity table of `validate --explain-capacity`.
struct CapacityTable {
    let report: CapacityReport

    func render() -> String {
        let reserve = report.reservePerNode
        var rows: [[String]] = [["role", "clusters", "nodes", "vCPU reserved/offered", "memory reserved/offered", "GPU", "", "largest consumers"]]
        for pool in report.pools {
            let shared = pool.roles.count > 1
            for usage in pool.roles {
                let offered = usage.allocatable
                rows.append([
                    usage.role, usage.clusters.joined(separator: ","), String(usage.nodes),
                    pool.unknownSizes.isEmpty ? "\(usage.reserved.cpu) / \(offered.cpu)" : "\(usage.reserved.cpu) / ?",
                    pool.unknownSizes.isEmpty ? "\(usage.reserved.memory) / \(offered.memory)" : "\(usage.reserved.memory) / ?",
                    "\(usage.reserved.gpu) / \(offered.gpu)",
                    shared ? "shared" : status(usage.reserved, offered, known: pool.unknownSizes.isEmpty),
                    usage.consumers.prefix(3).map { "\($0.stack) \($0.total.memory)" }.joined(separator: ", "),
                ])
            }
            if shared {
                rows.append([
                    "(together)", pool.clusters.joined(separator: ","), String(pool.nodes),
                    "\(pool.reserved.cpu) / \(pool.allocatable.cpu)", "\(pool.reserved.memory) / \(pool.allocatable.memory)",
                    "\(pool.reserved.gpu) / \(pool.allocatable.gpu)", status(pool.reserved, pool.allocatable, known: pool.unknownSizes.isEmpty), "",
                ])
            }
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        let lines = rows.enumerated().map { index, row in
            let text = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            return index == 0 ? text.bold : text
        }
        let title = "Capacity of environment \(report.environment) (each node keeps \(reserve.cpu) vCPU and \(reserve.memory) for the system)"
        return ([title.bold] + lines.map { "  " + $0 }).joined(separator: "\n")
    }

    private func status(_ reserved: Resources, _ offered: Resources, known: Bool) -> String {
        guard known else { return "at plan" }
        return reserved.fits(in: offered) ? "ok".green : "SHORT".red
    }
}

/// The JSON form of one environment's capacity report.
struct CapacityJSON: Encodable {
    struct Role: Encodable {
        var role: String
        var clusters: [String]
        var nodes: Int
        var reserved: Resources
        var offered: Resources
        var consumers: [Consumer]
    }

    struct Consumer: Encodable {
        var stack: String
        var tasks: Int
        var per_task: Resources
    }

    struct Pool: Encodable {
        var clusters: [String]
        var nodes: Int
        var reserved: Resources
        var offered: Resources
        /// nil when a cluster's size is a provider slug.
        var fits: Bool?
        var roles: [Role]
    }

    var environment: String
    var reserve_per_node: Resources
    var pools: [Pool]

    init(_ report: CapacityReport) {
        environment = report.environment
        reserve_per_node = report.reservePerNode
        pools = report.pools.map { pool in
            Pool(clusters: pool.clusters, nodes: pool.nodes, reserved: pool.reserved, offered: pool.allocatable,
                 fits: pool.unknownSizes.isEmpty ? pool.fits : nil,
                 roles: pool.roles.map { usage in
                     Role(role: usage.role, clusters: usage.clusters, nodes: usage.nodes, reserved: usage.reserved, offered: usage.allocatable,
                          consumers: usage.consumers.map { Consumer(stack: $0.stack, tasks: $0.tasks, per_task: $0.perTask) })
                 })
        }
    }
}
