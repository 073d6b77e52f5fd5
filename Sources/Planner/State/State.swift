import Foundation

/// What kryoform has made for one environment: which provider object is which address.
public struct State: Hashable, Sendable, Codable {
    public static let formatVersion = 1

    public var formatVersion: Int
    /// Set once when the state is first written; a saved plan made against another lineage is refused.
    public var lineage: String
    /// Grows by one on every write.
    public var serial: Int
    public var project: String
    public var environment: String
    /// Sorted by address.
    public var resources: [StateResource]
    /// Set on the copy left behind by `state migrate`: where the state went, in words. A state
    /// that moved is read-only: no command takes its lock to change it.
    public var movedTo: String?

    public init(project: String, environment: String, lineage: String = UUID().uuidString.lowercased()) {
        self.formatVersion = Self.formatVersion
        self.lineage = lineage
        self.serial = 0
        self.project = project
        self.environment = environment
        self.resources = []
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", lineage, serial, project, environment, resources, movedTo = "moved_to"
    }

    public func resource(_ address: ResourceAddress) -> StateResource? {
        let index = insertionIndex(of: address)
        if index < resources.count, resources[index].address == address { return resources[index] }
        // A hand-edited file need not be sorted.
        return resources.first { $0.address == address }
    }

    /// Adds or replaces the record of `resource.address`, keeping the records sorted.
    public mutating func record(_ resource: StateResource) {
        let index = insertionIndex(of: resource.address)
        if index < resources.count, resources[index].address == resource.address {
            resources[index] = resource
        } else {
            resources.removeAll { $0.address == resource.address }
            resources.insert(resource, at: min(insertionIndex(of: resource.address), resources.count))
        }
    }

    /// Where `address` is, or would go, in the sorted records (binary search).
    private func insertionIndex(of address: ResourceAddress) -> Int {
        var low = 0, high = resources.count
        while low < high {
            let middle = (low + high) / 2
            if resources[middle].address < address { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Applies one journal record: its records added or replaced, its removals dropped, its serial taken.
    public mutating func apply(_ record: StateJournalRecord) {
        for address in record.removed { remove(address) }
        for resource in record.recorded { self.record(resource) }
        serial = record.serial
    }

    /// What changed since `previous`, in a line for the history: "2 added, 1 changed, 1 removed".
    public func changeSummary(since previous: State?) -> String {
        let before = Dictionary((previous?.resources ?? []).map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(resources.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        let added = after.keys.filter { before[$0] == nil }.count
        let removed = before.keys.filter { after[$0] == nil }.count
        let changed = after.filter { address, resource in
            guard var old = before[address] else { return false }
            old.updatedAt = resource.updatedAt
            return old != resource
        }.count
        let parts = [(added, "added"), (changed, "changed"), (removed, "removed")].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        return parts.isEmpty ? "no change" : parts.joined(separator: ", ")
    }

    public mutating func remove(_ address: ResourceAddress, providerID: String? = nil) {
        let index = insertionIndex(of: address)
        if index < resources.count, resources[index].address == address {
            if providerID == nil || resources[index].providerID == providerID { resources.remove(at: index) }
            return
        }
        resources.removeAll { $0.address == address && (providerID == nil || $0.providerID == providerID) }
    }
}

/// One step of an apply, as the journal keeps it: the records it wrote and the addresses it
/// dropped, and the serial the state has after it. Replaying a state's journal in order gives
/// the state as the apply left it.
public struct StateJournalRecord: Hashable, Sendable, Codable {
    public var lineage: String
    public var serial: Int
    public var recorded: [StateResource]
    public var removed: [ResourceAddress]

    public init(lineage: String, serial: Int, recorded: [StateResource] = [], removed: [ResourceAddress] = []) {
        self.lineage = lineage
        self.serial = serial
        self.recorded = recorded
        self.removed = removed
    }

    public var isEmpty: Bool { recorded.isEmpty && removed.isEmpty }

    /// `base` with `records` applied in order. Records `base` already has (a crash came between
    /// writing the state and emptying the journal) are passed over; a record that does not
    /// follow is a `Mismatch` saying why.
    public static func replay(_ records: [StateJournalRecord], onto base: State?, stateName: String) throws -> State {
        guard var state = base else {
            throw Mismatch(problem: "it holds \(records.count) records of an apply, and the state they follow (\(stateName)) is missing")
        }
        for record in records where record.serial > state.serial {
            guard record.lineage == state.lineage, record.serial == state.serial + 1 else {
                throw Mismatch(problem: "its record of serial \(record.serial) (lineage \(record.lineage)) does not follow \(stateName) "
                               + "at serial \(state.serial) (lineage \(state.lineage))")
            }
            state.apply(record)
        }
        return state
    }

    public struct Mismatch: Error {
        public let problem: String
    }
}

/// One resource in the state.
public struct StateResource: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable {
        /// A create was about to be sent: the provider may or may not have the resource.
        case creating
        /// Created; not yet ready when last seen.
        case pending
        case ready
    }

    public var address: ResourceAddress
    public var kind: ResourceKind
    public var providerID: String?
    public var status: Status
    public var attributes: Attributes
    public var details: [String: String]
    public var dependsOn: [ResourceAddress]
    /// When this record was last written.
    public var updatedAt: Date

    public init(address: ResourceAddress, kind: ResourceKind, providerID: String?, status: Status, attributes: Attributes,
                details: [String: String] = [:], dependsOn: [ResourceAddress], updatedAt: Date = Date()) {
        self.address = address
        self.kind = kind
        self.providerID = providerID
        self.status = status
        self.attributes = attributes
        self.details = details
        self.dependsOn = dependsOn
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case address, kind, providerID = "provider_id", status, attributes, details, dependsOn = "depends_on", updatedAt = "updated_at"
    }

    /// The record as an observation, for planning when the provider was not asked.
    public var asObserved: ObservedResource? {
        guard let providerID, status != .creating else { return nil }
        return ObservedResource(address: address, kind: kind, providerID: providerID,
                                status: status == .ready ? .ready : .pending, attributes: attributes, details: details)
    }
}
