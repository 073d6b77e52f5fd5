import Foundation

/// Keeps the state during an apply and writes it after every completed action, so a crash at
/// any instant loses nothing: an intent is recorded before each create, the result after it.
public actor StateRecorder {
    private let store: StateStore
    public private(set) var state: State
    public private(set) var writes = 0

    public init(store: StateStore, state: State) {
        self.store = store
        self.state = state
    }

    /// The provider ids of `addresses`, for requests that refer to them.
    public func providerIDs(_ addresses: [ResourceAddress]) -> [ResourceAddress: String] {
        var ids: [ResourceAddress: String] = [:]
        for address in addresses {
            if let id = state.resource(address)?.providerID { ids[address] = id }
        }
        return ids
    }

    /// Records that creates are about to be sent.
    public func recordIntents(_ changes: [PlanChange]) throws {
        // A resource replaced create-then-delete keeps its old id on record until the new one exists.
        for change in changes where state.resource(change.address)?.providerID == nil {
            state.record(StateResource(address: change.address, kind: change.kind, providerID: nil, status: .creating,
                                       attributes: change.after ?? [:], dependsOn: change.dependsOn))
        }
        try save()
    }

    /// Records resources as the provider reported them.
    public func recordObserved(_ resources: [ObservedResource], dependsOn: [ResourceAddress: [ResourceAddress]]) throws {
        for resource in resources {
            state.record(StateResource(address: resource.address, kind: resource.kind, providerID: resource.providerID,
                                       status: resource.status == .ready ? .ready : .pending, attributes: resource.attributes,
                                       details: resource.details, dependsOn: dependsOn[resource.address] ?? []))
        }
        try save()
    }

    /// Drops the record of `address` (only if it still names `providerID`, when given).
    public func remove(_ address: ResourceAddress, providerID: String?) throws {
        let before = state.resources.count
        state.remove(address, providerID: providerID)
        if state.resources.count != before { try save() }
    }

    /// Drops intents whose create the provider refused outright.
    public func dropIntents(_ addresses: [ResourceAddress]) throws {
        for address in addresses where state.resource(address)?.status == .creating {
            state.remove(address)
        }
        try save()
    }

    private func save() throws {
        state.serial += 1
        try store.write(state)
        writes += 1
    }
}
