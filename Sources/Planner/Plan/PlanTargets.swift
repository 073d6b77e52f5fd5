import Spec

/// `--target`: which changes a targeted plan holds, and the targets that name nothing.
extension Planner {
    /// `--target`: the named resources and what they depend on, and nothing else: the other
    /// changes are left out of the plan (counted by address), not shown as unchanged. Deleting a
    /// target deletes first what depends on it and is deleted too, as a destroy does.
    static func restrict(_ changes: [PlanChange], to targets: [ResourceAddress], desired: DesiredState)
        -> (changes: [PlanChange], leftOut: Int) {
        let dependencies = Dictionary(changes.map { ($0.address, $0.dependsOn) }, uniquingKeysWith: +)
        var keep = Set<ResourceAddress>()
        func include(_ addresses: [ResourceAddress]) {
            var queue = addresses
            while let address = queue.popLast() {
                guard keep.insert(address).inserted else { continue }
                queue += desired.resource(address)?.dependsOn ?? []
                queue += dependencies[address] ?? []
            }
        }
        include(targets)
        while true {
            let deleted = Set(changes.filter { keep.contains($0.address) && $0.action == .delete }.map(\.address))
            let dependents = changes.filter { !keep.contains($0.address) && $0.action == .delete && !deleted.isDisjoint(with: $0.dependsOn) }
            if dependents.isEmpty { break }
            include(dependents.map(\.address))
        }
        let leftOut = Set(changes.map(\.address)).subtracting(keep).count
        return (changes.filter { keep.contains($0.address) }, leftOut)
    }

    /// The targets that name no resource: none the specs want, none observation found, none the
    /// state records. Planning them would plan nothing and pass as "No changes".
    public static func unknownTargets(_ input: Input) -> [UnknownTargetError] {
        var known = Set(input.desired.resources.map(\.address))
        known.formUnion((input.observed ?? []).map(\.address))
        known.formUnion((input.state?.resources ?? []).map(\.address))
        return input.targets.filter { !known.contains($0) }.map { target in
            UnknownTargetError(target: target, environment: input.desired.environment, known: known.sorted())
        }
    }
}

/// A `--target` naming no address of the environment, with the addresses it may have meant.
public struct UnknownTargetError: Error, Sendable, Hashable {
    public var target: ResourceAddress
    public var environment: String
    /// The closest known address, when one is close enough to be a likely typo.
    public var suggestion: ResourceAddress?
    /// Known addresses of the target's kind (all of them when it names no kind), at most ten.
    public var candidates: [ResourceAddress]

    public init(target: ResourceAddress, environment: String, known: [ResourceAddress]) {
        self.target = target
        self.environment = environment
        let sameKind = known.filter { $0.kind == target.kind }
        candidates = Array((sameKind.isEmpty ? known : sameKind).prefix(10))
        suggestion = Suggestion.closest(to: target.rawValue, in: known.map(\.rawValue)).map { ResourceAddress($0) }
    }

    public var message: String {
        "--target \(target): environment \(environment) has no resource \(target) (not in the specs, at the provider or in the state)"
    }

    public var fix: String {
        var parts: [String] = []
        if let suggestion { parts.append("did you mean '\(suggestion)'?") }
        if !candidates.isEmpty { parts.append("environment \(environment) has " + candidates.map(\.rawValue).joined(separator: ", ")) }
        if parts.isEmpty { parts.append("environment \(environment) has no resources yet: plan without --target") }
        return parts.joined(separator: "; ")
    }
}
