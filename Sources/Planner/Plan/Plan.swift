import Foundation

/// A plan: plain data saying what apply will do to each resource, and why.
public struct Plan: Hashable, Sendable, Codable {
    public static let formatVersion = "1"

    public enum Mode: String, Hashable, Sendable, Codable {
        /// Make the resources match the specs.
        case normal
        /// Delete everything the environment owns.
        case destroy
        /// Only record in the state what changed outside kryoform.
        case refreshOnly = "refresh-only"
    }

    public var formatVersion: String
    public var project: String
    public var environment: String
    public var provider: String
    public var region: String
    public var mode: Mode
    public var createdAt: Date
    /// Every resource, changed or not, in the order apply may take them.
    public var changes: [PlanChange]
    public var summary: PlanSummary
    public var cost: PlanCost
    public var basis: PlanBasis
    /// Reasons the plan may not be applied (a protected environment it would destroy).
    public var errors: [String]
    /// What the plan leaves out, and why (node configuration a provider cannot do yet).
    public var notes: [String]?
    /// Set when the plan was restricted with `--target`: it then holds only the targets and what
    /// they depend on.
    public var targeting: PlanTargeting? = nil

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", project, environment, provider, region, mode, createdAt = "created_at"
        case changes, summary, cost, basis, errors, notes, targeting
    }

    /// True when applying it would change anything, the state included.
    public var hasChanges: Bool { changes.contains(where: \.doesSomething) }
}

/// What `--target` named, and how many addresses outside the targets the plan did not look at.
public struct PlanTargeting: Hashable, Sendable, Codable {
    public var targets: [ResourceAddress]
    /// Addresses with a change or a record that the plan left out because no target needs them.
    public var leftOut: Int

    public init(targets: [ResourceAddress], leftOut: Int) {
        self.targets = targets
        self.leftOut = leftOut
    }

    /// "19 resources outside the targets were not planned (--target node.main.1)."
    public var sentence: String {
        "\(leftOut) resource\(leftOut == 1 ? "" : "s") outside the targets \(leftOut == 1 ? "was" : "were") not planned (--target "
            + targets.map(\.rawValue).joined(separator: ", ") + ")."
    }

    enum CodingKeys: String, CodingKey {
        case targets, leftOut = "left_out"
    }
}

/// What the plan does to one resource.
public struct PlanChange: Hashable, Sendable, Codable {
    public enum Action: String, Hashable, Sendable, Codable, CaseIterable {
        case create, update, replace, delete
        case noOp = "no-op"
    }

    /// A change of the state alone, with no call to the provider.
    public enum StateOnly: String, Hashable, Sendable, Codable {
        /// Found at the provider by its tags, missing from the state: record it.
        case adopt
        /// In the state, gone at the provider: drop the record.
        case forget
        /// The provider reports other attributes than the state records: record them.
        case refresh
    }

    public var address: ResourceAddress
    public var kind: ResourceKind
    public var action: Action
    /// For display only: why, per attribute or for the whole resource.
    public var reasons: [String]
    public var before: Attributes?
    public var after: Attributes?
    /// The attributes whose value changes.
    public var changed: [String]
    public var dependsOn: [ResourceAddress]
    /// The provider's id of the existing resource (for update, replace, delete).
    public var providerID: String?
    public var replaceStrategy: ResourceSchema.ReplaceStrategy?
    public var stateOnly: StateOnly?
    /// Display-only notes per attribute (the size chosen and its price).
    public var notes: [String: String]
    /// Monthly price before and after.
    public var monthlyBefore: Double?
    public var monthlyAfter: Double?

    public init(address: ResourceAddress, kind: ResourceKind, action: Action, reasons: [String] = [], before: Attributes? = nil,
                after: Attributes? = nil, changed: [String] = [], dependsOn: [ResourceAddress] = [], providerID: String? = nil,
                replaceStrategy: ResourceSchema.ReplaceStrategy? = nil, stateOnly: StateOnly? = nil, notes: [String: String] = [:],
                monthlyBefore: Double? = nil, monthlyAfter: Double? = nil) {
        self.address = address
        self.kind = kind
        self.action = action
        self.reasons = reasons
        self.before = before
        self.after = after
        self.changed = changed
        self.dependsOn = dependsOn
        self.providerID = providerID
        self.replaceStrategy = replaceStrategy
        self.stateOnly = stateOnly
        self.notes = notes
        self.monthlyBefore = monthlyBefore
        self.monthlyAfter = monthlyAfter
    }

    /// True when applying it calls the provider or changes the state.
    public var doesSomething: Bool { action != .noOp || stateOnly != nil }

    enum CodingKeys: String, CodingKey {
        case address, kind, action, reasons, before, after, changed, dependsOn = "depends_on", providerID = "provider_id"
        case replaceStrategy = "replace_strategy", stateOnly = "state_only", notes
        case monthlyBefore = "monthly_before", monthlyAfter = "monthly_after"
    }
}

public struct PlanSummary: Hashable, Sendable, Codable {
    public var create = 0
    public var update = 0
    public var replace = 0
    public var delete = 0
    public var noOp = 0
    /// Changes of the state alone (adopted, forgotten, refreshed records).
    public var stateOnly = 0

    enum CodingKeys: String, CodingKey {
        case create, update, replace, delete, noOp = "no-op", stateOnly = "state_only"
    }

    public init(changes: [PlanChange]) {
        for change in changes {
            switch change.action {
            case .create: create += 1
            case .update: update += 1
            case .replace: replace += 1
            case .delete: delete += 1
            case .noOp: noOp += 1
            }
            if change.stateOnly != nil { stateOnly += 1 }
        }
    }

    /// Resources this plan destroys (deleted or replaced).
    public var destroying: Int { delete + replace }
}

public struct PlanCost: Hashable, Sendable, Codable {
    public var monthlyBefore: Double
    public var monthlyAfter: Double
    public var currency: String

    enum CodingKeys: String, CodingKey {
        case monthlyBefore = "monthly_before", monthlyAfter = "monthly_after", currency
    }
}

/// What the plan was made against, so `apply FILE` can refuse it once either has moved on.
public struct PlanBasis: Hashable, Sendable, Codable {
    /// Nil when there was no state yet.
    public var stateLineage: String?
    public var stateSerial: Int
    /// SHA-256 over the project file, the environment's file and the stack files.
    public var specsDigest: String

    public init(stateLineage: String?, stateSerial: Int, specsDigest: String) {
        self.stateLineage = stateLineage
        self.stateSerial = stateSerial
        self.specsDigest = specsDigest
    }

    enum CodingKeys: String, CodingKey {
        case stateLineage = "state_lineage", stateSerial = "state_serial", specsDigest = "specs_digest"
    }
}
