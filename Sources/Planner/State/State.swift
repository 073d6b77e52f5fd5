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

    public init(project: String, environment: String, lineage: String = UUID().uuidString.lowercased()) {
        self.formatVersion = Self.formatVersion
        self.lineage = lineage
        self.serial = 0
        self.project = project
        self.environment = environment
        self.resources = []
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", lineage, serial, project, environment, resources
    }

    public func resource(_ address: ResourceAddress) -> StateResource? {
        resources.first { $0.address == address }
    }

    /// Adds or replaces the record of `resource.address`.
    public mutating func record(_ resource: StateResource) {
        resources.removeAll { $0.address == resource.address }
        resources.append(resource)
        resources.sort { $0.address < $1.address }
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
        resources.removeAll { $0.address == address && (providerID == nil || $0.providerID == providerID) }
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
