import Foundation

/// The planner: a pure function of what the specs ask for, what the provider reports and what
/// the state records, returning the plan. No I/O.
public enum Planner {
    public struct Input: Sendable {
        public var desired: DesiredState
        /// What observation found (by tags); nil when the provider was not asked, and the state's records stand in.
        public var observed: [ObservedResource]?
        public var state: State?
        public var catalog: Catalog
        public var mode: Plan.Mode
        public var protect: Bool
        public var allowDestroy: Bool
        public var targets: [ResourceAddress]
        public var specsDigest: String
        public var now: Date

        public init(desired: DesiredState, observed: [ObservedResource]?, state: State?, catalog: Catalog, mode: Plan.Mode = .normal,
                    protect: Bool = false, allowDestroy: Bool = false, targets: [ResourceAddress] = [], specsDigest: String, now: Date = Date()) {
            self.desired = desired
            self.observed = observed
            self.state = state
            self.catalog = catalog
            self.mode = mode
            self.protect = protect
            self.allowDestroy = allowDestroy
            self.targets = targets
            self.specsDigest = specsDigest
            self.now = now
        }
    }

    public static func plan(_ input: Input) -> Plan {
        let stateRecords = Dictionary((input.state?.resources ?? []).map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        let observed = input.observed ?? (input.state?.resources ?? []).compactMap(\.asObserved)
        let (current, duplicates) = primaries(of: observed, state: stateRecords, catalog: input.catalog)

        var changes = duplicates
        switch input.mode {
        case .refreshOnly:
            changes += refreshChanges(current: current, state: stateRecords, catalog: input.catalog)
        case .normal, .destroy:
            let desired = input.mode == .destroy ? [] : input.desired.resources
            changes += diff(desired: desired, current: current, state: stateRecords, catalog: input.catalog,
                            reasonForDelete: input.mode == .destroy ? "destroy" : "not in spec any more")
        }
        var errors: [String] = []
        var targeting: PlanTargeting?
        if !input.targets.isEmpty {
            let restricted = restrict(changes, to: input.targets, desired: input.desired)
            changes = restricted.changes
            targeting = PlanTargeting(targets: input.targets, leftOut: restricted.leftOut)
            errors += unknownTargets(input).map { "\($0.message)\n  = fix: \($0.fix)" }
        }
        changes.sort { ($0.address, $0.providerID ?? "") < ($1.address, $1.providerID ?? "") }

        let destroyed = changes.filter { $0.action == .delete || $0.action == .replace }
        if input.protect, !input.allowDestroy, !destroyed.isEmpty {
            let names = destroyed.map { "\($0.address) (\($0.action.rawValue))" }
            errors.append("environment \(input.desired.environment) is protected (protect: true) and this plan destroys \(destroyed.count) resource\(destroyed.count == 1 ? "" : "s"): "
                          + names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", …" : "")
                          + "\n  = fix: if that is intended, run again with --allow-destroy; otherwise change the specs so nothing is replaced or deleted")
        }
        if input.mode == .normal {
            errors += SwarmContinuity.refusals(changes, desired: input.desired)
        }
        let before = changes.compactMap(\.monthlyBefore).reduce(0, +)
        let after = changes.compactMap(\.monthlyAfter).reduce(0, +)
        return Plan(
            formatVersion: Plan.formatVersion, project: input.desired.project, environment: input.desired.environment,
            provider: input.desired.provider, region: input.desired.region, mode: input.mode, createdAt: input.now,
            changes: changes, summary: PlanSummary(changes: changes),
            cost: PlanCost(monthlyBefore: before, monthlyAfter: after, currency: input.catalog.currency),
            basis: PlanBasis(stateLineage: input.state?.lineage, stateSerial: input.state?.serial ?? 0, specsDigest: input.specsDigest),
            errors: errors, notes: nil, targeting: targeting)
    }

    /// One observed resource per address (the one the state records, else the oldest id), and
    /// deletes for the others: duplicates a crash or a blind retry left behind.
    static func primaries(of observed: [ObservedResource], state: [ResourceAddress: StateResource], catalog: Catalog)
        -> (current: [ResourceAddress: ObservedResource], duplicates: [PlanChange]) {
        var current: [ResourceAddress: ObservedResource] = [:]
        var duplicates: [PlanChange] = []
        for (address, group) in Dictionary(grouping: observed, by: \.address) {
            let sorted = group.sorted { ($0.providerID.count, $0.providerID) < ($1.providerID.count, $1.providerID) }
            let recorded = state[address]?.providerID
            let primary = sorted.first { $0.providerID == recorded } ?? sorted[0]
            current[address] = primary
            for extra in sorted where extra.providerID != primary.providerID {
                duplicates.append(PlanChange(
                    address: address, kind: extra.kind, action: .delete,
                    reasons: ["duplicate of \(address) (\(primary.providerID)), left by an interrupted run"],
                    before: extra.attributes, providerID: extra.providerID,
                    monthlyBefore: catalog.monthlyPrice(kind: extra.kind, attributes: extra.attributes)))
            }
        }
        return (current, duplicates)
    }

    static func diff(desired: [DesiredResource], current: [ResourceAddress: ObservedResource], state: [ResourceAddress: StateResource],
                     catalog: Catalog, reasonForDelete: String) -> [PlanChange] {
        var changes: [PlanChange] = []
        var actions: [ResourceAddress: PlanChange.Action] = [:]
        var recreated = Set<ResourceAddress>()
        for resource in desired.sorted(by: { $0.address < $1.address }) {
            let record = state[resource.address]
            let price = catalog.monthlyPrice(kind: resource.kind, attributes: resource.attributes)
            guard let found = current[resource.address] else {
                var reasons: [String] = []
                if record?.status == .creating {
                    reasons.append("an interrupted create left nothing at the provider")
                } else if record != nil {
                    reasons.append("deleted outside kryoform")
                }
                let change = PlanChange(address: resource.address, kind: resource.kind, action: .create, reasons: reasons,
                                        after: resource.attributes, changed: resource.attributes.keys.sorted(), dependsOn: resource.dependsOn,
                                        notes: resource.notes, monthlyAfter: price)
                actions[resource.address] = .create
                if record != nil { recreated.insert(resource.address) }
                changes.append(change)
                continue
            }
            let before = (record?.attributes ?? [:]).merging(found.attributes) { $1 }
            var reasons: [String] = []
            var changed: [String] = []
            var replaces = false
            for key in Set(resource.attributes.keys).union(before.keys).sorted() where resource.attributes[key] != before[key] {
                changed.append(key)
                let effect = ResourceSchema.effect(of: key, on: resource.kind, from: before[key], to: resource.attributes[key])
                switch effect {
                case .inPlace(let how): reasons.append("\(key): \(before[key] ?? "(none)") → \(resource.attributes[key] ?? "(none)") (\(how))")
                case .replace(let why):
                    replaces = true
                    reasons.append("\(key): \(before[key] ?? "(none)") → \(resource.attributes[key] ?? "(none)") (\(why))")
                }
            }
            var action: PlanChange.Action = replaces ? .replace : changed.isEmpty ? .noOp : .update
            if action == .noOp || action == .update {
                for dependency in resource.dependsOn {
                    guard let kind = dependency.kind, ResourceSchema.followsReplacement(of: kind, by: resource.kind),
                          let dependencyAction = actions[dependency], dependencyAction == .replace || recreated.contains(dependency) else { continue }
                    action = .update
                    reasons.append("\(dependency) is \(dependencyAction == .replace ? "replaced" : "created again")")
                }
            }
            var stateOnly: PlanChange.StateOnly?
            if record == nil || record?.providerID != found.providerID || record?.status == .creating {
                stateOnly = .adopt
                reasons.append("created outside state, adopted")
            } else if record?.status == .pending, found.status == .ready, action == .noOp {
                // An apply stopped while this was booting: it is ready now, and the state says so.
                stateOnly = .refresh
                reasons.append("ready now")
            }
            actions[resource.address] = action
            changes.append(PlanChange(
                address: resource.address, kind: resource.kind, action: action, reasons: reasons, before: before, after: resource.attributes,
                changed: changed, dependsOn: resource.dependsOn, providerID: found.providerID,
                replaceStrategy: action == .replace ? ResourceSchema.replaceStrategy(for: resource.kind) : nil,
                stateOnly: stateOnly, notes: resource.notes,
                monthlyBefore: catalog.monthlyPrice(kind: found.kind, attributes: before), monthlyAfter: price))
        }
        let wanted = Set(desired.map(\.address))
        for (address, found) in current where !wanted.contains(address) {
            let attributes = (state[address]?.attributes ?? [:]).merging(found.attributes) { $1 }
            changes.append(PlanChange(
                address: address, kind: found.kind, action: .delete, reasons: [reasonForDelete], before: attributes,
                dependsOn: state[address]?.dependsOn ?? [], providerID: found.providerID,
                monthlyBefore: catalog.monthlyPrice(kind: found.kind, attributes: attributes)))
        }
        for (address, record) in state where current[address] == nil && !wanted.contains(address) {
            changes.append(PlanChange(
                address: address, kind: record.kind, action: .noOp,
                reasons: [record.status == .creating ? "an interrupted create left nothing at the provider; the record is dropped"
                                                     : "already gone at the provider; the record is dropped"],
                before: record.attributes, providerID: record.providerID, stateOnly: .forget))
        }
        return changes
    }

    /// Refresh-only: what changed outside kryoform, to be recorded in the state.
    static func refreshChanges(current: [ResourceAddress: ObservedResource], state: [ResourceAddress: StateResource], catalog: Catalog) -> [PlanChange] {
        var changes: [PlanChange] = []
        for address in Set(current.keys).union(state.keys) {
            let found = current[address]
            let record = state[address]
            let price = { (attributes: Attributes?) in attributes.flatMap { catalog.monthlyPrice(kind: found?.kind ?? record?.kind ?? .network, attributes: $0) } }
            switch (record, found) {
            case let (record?, nil):
                changes.append(PlanChange(address: address, kind: record.kind, action: .noOp, reasons: ["deleted outside kryoform"],
                                          before: record.attributes, dependsOn: record.dependsOn, providerID: record.providerID,
                                          stateOnly: .forget, monthlyBefore: price(record.attributes)))
            case let (nil, found?):
                changes.append(PlanChange(address: address, kind: found.kind, action: .noOp, reasons: ["created outside state, adopted"],
                                          after: found.attributes, providerID: found.providerID, stateOnly: .adopt,
                                          monthlyAfter: price(found.attributes)))
            case let (record?, found?):
                let after = record.attributes.merging(found.attributes) { $1 }
                let changed = Set(after.keys).union(record.attributes.keys).filter { after[$0] != record.attributes[$0] }.sorted()
                let adopted = record.providerID != found.providerID || record.status == .creating
                var reasons = changed.map { "\($0): \(record.attributes[$0] ?? "(none)") → \(after[$0] ?? "(none)") (changed outside kryoform)" }
                if adopted { reasons.append("created outside state, adopted") }
                changes.append(PlanChange(address: address, kind: found.kind, action: .noOp, reasons: reasons, before: record.attributes,
                                          after: after, changed: changed, dependsOn: record.dependsOn, providerID: found.providerID,
                                          stateOnly: changed.isEmpty && !adopted ? nil : (adopted ? .adopt : .refresh),
                                          monthlyBefore: price(record.attributes), monthlyAfter: price(after)))
            case (nil, nil): break
            }
        }
        return changes
    }
}
