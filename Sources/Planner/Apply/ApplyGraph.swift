/// The operations an apply carries out, and which must finish before each may start.
struct ApplyGraph {
    enum Phase: String, Sendable {
        case create, update, delete
        /// A change of the state alone.
        case record
    }

    struct Operation: Sendable {
        var id: Int
        var change: PlanChange
        var phase: Phase
        var prerequisites: Set<Int>
    }

    private(set) var operations: [Operation] = []

    init(plan: Plan) {
        var upOperation: [ResourceAddress: Int] = [:]
        var deleteOperations: [ResourceAddress: [Int]] = [:]
        /// Each replaced resource's operations, the first to run and the last.
        var replacements: [ResourceAddress: (first: Int, last: Int)] = [:]
        func add(_ change: PlanChange, _ phase: Phase) -> Int {
            operations.append(Operation(id: operations.count, change: change, phase: phase, prerequisites: []))
            return operations.count - 1
        }
        for change in plan.changes {
            switch change.action {
            case .create:
                upOperation[change.address] = add(change, .create)
            case .update:
                upOperation[change.address] = add(change, .update)
            case .replace:
                let delete = add(change, .delete)
                let create = add(change, .create)
                deleteOperations[change.address, default: []].append(delete)
                upOperation[change.address] = create
                if change.replaceStrategy == .createThenDelete {
                    operations[delete].prerequisites.insert(create)
                    replacements[change.address] = (create, delete)
                } else {
                    operations[create].prerequisites.insert(delete)
                    replacements[change.address] = (delete, create)
                }
            case .delete:
                deleteOperations[change.address, default: []].append(add(change, .delete))
            case .noOp:
                if change.stateOnly != nil { upOperation[change.address] = add(change, .record) }
            }
        }
        for index in operations.indices {
            let change = operations[index].change
            switch operations[index].phase {
            case .create, .update, .record:
                // After whatever it depends on is made or changed.
                for dependency in change.dependsOn {
                    if let prerequisite = upOperation[dependency] { operations[index].prerequisites.insert(prerequisite) }
                }
            case .delete:
                // After everything that depends on it is deleted: reverse dependency order.
                for other in operations where other.phase == .delete && other.change.dependsOn.contains(change.address) && other.id != index {
                    operations[index].prerequisites.insert(other.id)
                }
            }
        }
        chainManagerReplacements(plan, replacements)
    }

    /// Chains node replacements, the desired swarm's managers first, then the other nodes, each
    /// group in address order: one node's replacement (delete, then create) finishes before the
    /// next one's starts, so the swarm (and Raft its quorum) and every role keep all their other
    /// nodes meanwhile: a rolling replacement. A node counts as back once its create finished, so
    /// the driver that makes a node is to have it in the swarm by then.
    private mutating func chainManagerReplacements(_ plan: Plan, _ replacements: [ResourceAddress: (first: Int, last: Int)]) {
        let managers = (plan.changes.first { $0.address == .swarm }?.after?["managers"] ?? "").split(separator: ",").map { ResourceAddress(String($0)) }
        let nodes = replacements.keys.filter { operations[replacements[$0]?.first ?? 0].change.kind == .node }
        let order = managers.sorted().filter(nodes.contains) + nodes.filter { !managers.contains($0) }.sorted()
        var previous: Int?
        for node in order {
            guard let replacement = replacements[node] else { continue }
            if let previous { operations[replacement.first].prerequisites.insert(previous) }
            previous = replacement.last
        }
    }

    /// Every operation that cannot run once `failed` has failed, transitively.
    func dependents(of failed: Int) -> Set<Int> {
        var found = Set<Int>()
        var queue = [failed]
        while let current = queue.popLast() {
            for operation in operations where operation.prerequisites.contains(current) && !found.contains(operation.id) {
                found.insert(operation.id)
                queue.append(operation.id)
            }
        }
        return found
    }
}
