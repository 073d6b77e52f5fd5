import Foundation

/// Keeps the state during an apply and records every completed action as it comes, so a crash
/// at any instant loses nothing: an intent is recorded before each create, the result after it.
/// Each step goes to the store as one journal record of what it changed; the whole state is
/// written only when the store holds none yet (and by the store's compaction at the end).
public actor StateRecorder {
    private let store: StateStore
    /// The state without its records (they are in `records`, by address).
    private var header: State
    private var records: [ResourceAddress: StateResource]
    /// Whether the store holds a state the journal's records can follow.
    private var stored: Bool
    public private(set) var writes = 0

    public init(store: StateStore, state: State, stored: Bool = true) {
        self.store = store
        var header = state
        header.resources = []
        self.header = header
        self.records = Dictionary(state.resources.map { ($0.address, $0) }, uniquingKeysWith: { _, last in last })
        self.stored = stored
    }

    /// The state as recorded so far.
    public var state: State {
        var state = header
        state.resources = records.values.sorted { $0.address < $1.address }
        return state
    }

    /// The provider ids of `addresses`, for requests that refer to them.
    public func providerIDs(_ addresses: [ResourceAddress]) -> [ResourceAddress: String] {
        var ids: [ResourceAddress: String] = [:]
        for address in addresses {
            if let id = records[address]?.providerID { ids[address] = id }
        }
        return ids
    }

    /// Records that creates are about to be sent.
    public func recordIntents(_ changes: [PlanChange]) throws {
        // A resource replaced create-then-delete keeps its old id on record until the new one exists.
        var recorded: [StateResource] = []
        for change in changes where records[change.address]?.providerID == nil {
            recorded.append(StateResource(address: change.address, kind: change.kind, providerID: nil, status: .creating,
                                          attributes: change.after ?? [:], dependsOn: change.dependsOn))
        }
        try save(recorded: recorded)
    }

    /// Records resources as the provider reported them.
    public func recordObserved(_ resources: [ObservedResource], dependsOn: [ResourceAddress: [ResourceAddress]]) throws {
        try save(recorded: resources.map { resource in
            StateResource(address: resource.address, kind: resource.kind, providerID: resource.providerID,
                          status: resource.status == .ready ? .ready : .pending, attributes: resource.attributes,
                          details: resource.details, dependsOn: dependsOn[resource.address] ?? [])
        })
    }

    /// Drops the record of `address` (only if it still names `providerID`, when given).
    public func remove(_ address: ResourceAddress, providerID: String?) throws {
        guard let record = records[address], providerID == nil || record.providerID == providerID else { return }
        try save(removed: [address])
    }

    /// Drops intents whose create the provider refused outright.
    public func dropIntents(_ addresses: [ResourceAddress]) throws {
        try save(removed: addresses.filter { records[$0]?.status == .creating })
    }

    /// One step: the records it writes and the addresses it drops, then the store told, durably.
    private func save(recorded: [StateResource] = [], removed: [ResourceAddress] = []) throws {
        for address in removed { records[address] = nil }
        for resource in recorded { records[resource.address] = resource }
        header.serial += 1
        let record = StateJournalRecord(lineage: header.lineage, serial: header.serial, recorded: recorded, removed: removed)
        if stored {
            try store.append(record) { state }
        } else {
            try store.write(state)
            stored = true
        }
        writes += 1
    }
}
