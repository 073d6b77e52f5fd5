/// The plan refusals that keep the swarm running through an apply: no node replacement or
/// removal may leave a role that a deployed stack runs on without a node, or the swarm without
/// a manager, at the end or while it happens.
///
/// While the apply runs, a node made for the first time is not there yet, and deletes of
/// different nodes may run at the same time; node replacements (delete, then make again) run one
/// after another (`ApplyGraph`), so at most one replaced node is missing at once.
enum SwarmContinuity {
    /// The reasons to refuse `changes` (each with its fix, as the plan's errors read), given
    /// the desired state; none when the swarm keeps what its stacks need throughout.
    static func refusals(_ changes: [PlanChange], desired: DesiredState) -> [String] {
        guard let swarm = desired.resource(.swarm) else { return [] }
        let roles = members(swarm.attributes["roles"])
        let nodeActions = Dictionary(changes.filter { $0.kind == .node }.map { ($0.address.rawValue, $0.action) },
                                     uniquingKeysWith: { first, _ in first })
        var refusals: [String] = []

        // Roles: at the end, the desired swarm's; meanwhile, only its nodes that stay up.
        let rolesAtEnd = Set(roles.values.flatMap { $0 })
        for stack in desired.resources where stack.kind == .stack {
            guard let role = stack.attributes["role"], !rolesAtEnd.contains(role) else { continue }
            refusals.append("after this plan no node has role \(role), which \(stack.address) runs on"
                            + "\n  = fix: keep a node with role \(role) in the environment, or give \(stack.address) another role")
        }
        // A role loses a node where one of its nodes is replaced or deleted. Meanwhile it keeps
        // the nodes that are neither new nor replaced, and all but one of those replaced (they are
        // replaced in turn); it is without a node when that leaves none.
        var lost: [String: [String]] = [:]
        for change in changes where change.kind == .node && (change.action == .replace || change.action == .delete) {
            for role in list(change.before?["roles"] ?? change.after?["roles"]) { lost[role, default: []].append(change.address.rawValue) }
        }
        let deployed = changes.filter { $0.kind == .stack && $0.before != nil && $0.action != .delete }
        var refused = Set<String>()
        for stack in deployed {
            guard let role = stack.after?["role"] ?? stack.before?["role"], rolesAtEnd.contains(role), !refused.contains(role),
                  let leaving = lost[role] else { continue }
            let members = roles.filter { $0.value.contains(role) }.map(\.key)
            let staying = members.filter { nodeActions[$0] != .replace && nodeActions[$0] != .create }.count
            let replaced = members.filter { nodeActions[$0] == .replace }.count
            guard staying + max(replaced - 1, 0) == 0 else { continue }
            refused.insert(role)
            refusals.append("replacing or deleting \(leaving.sorted().joined(separator: ", ")) leaves role \(role) with no node while the apply runs, and \(stack.address) runs on it"
                            + "\n  = fix: add a node with role \(role) first (one more node in its cluster) and apply, then make this change")
        }

        // Managers: at the end, the desired swarm's; meanwhile, today's managers that stay.
        let desiredManagers = list(swarm.attributes["managers"])
        if desiredManagers.isEmpty {
            refusals.append("after this plan the swarm has no manager\n  = fix: give at least one node the management role")
        }
        let current = changes.first { $0.address == .swarm }.map { list($0.before?["managers"]) } ?? []
        let gone = current.filter { nodeActions[$0] == .delete }
        let replacedInTurn = current.filter { nodeActions[$0] == .replace }
        if !current.isEmpty, current.count - gone.count - (replacedInTurn.isEmpty ? 0 : 1) <= 0 {
            let leaving = (gone + replacedInTurn).sorted()
            refusals.append("this plan replaces or deletes \(leaving.joined(separator: ", ")), leaving the swarm with no manager while the apply runs"
                            + "\n  = fix: run three management nodes so managers change one at a time, or add a manager first and apply, then make this change")
        }
        return refusals
    }

    /// `node.a=application node.b=data,management` → address → roles.
    static func members(_ text: String?) -> [String: [String]] {
        var roles: [String: [String]] = [:]
        for entry in (text ?? "").split(separator: " ") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            roles[String(parts[0])] = parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []
        }
        return roles
    }

    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
    }
}
