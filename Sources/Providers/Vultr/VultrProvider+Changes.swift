import Foundation
import Planner

/// Updates in place, deletes, and waiting for instances to be active.
extension VultrProvider {
    // MARK: Update

    public func update(_ request: ResourceRequest) async throws -> ObservedResource {
        guard let current = request.current else {
            throw ProviderError(.invalidRequest, "vultr: update of \(request.address) names no resource")
        }
        return try await explaining("updating \(request.address)") {
            let id = current.providerID
            switch request.kind {
            case .node:
                var resource = observed(request, id: id)
                let live = try await api.get(Vultr.InstanceAnswer.self, "/v2/instances/\(id)").instance
                resource.details = VultrObservation.details(of: live)
                if let size = request.attributes["size"], size != live.plan {
                    // Vultr resizes a running instance in place (it restarts it); the disk grows with the plan.
                    _ = try await api.send(Vultr.InstanceAnswer.self, "PATCH", "/v2/instances/\(id)", body: Vultr.ResizeInstance(plan: size),
                                           retry: .idempotent)
                    resource.status = .pending
                }
                return resource
            case .volume:
                var resource = observed(request, id: id)
                let live = try await api.get(Vultr.BlockAnswer.self, "/v2/blocks/\(id)").block
                if let size = request.attributes["size_gib"].flatMap({ Int($0) }), size > live.size_gb {
                    try await api.send(HTTPRequest(method: "PATCH", path: "/v2/blocks/\(id)",
                                                   body: try APIClient.encoder.encode(Vultr.ResizeBlock(size_gb: size)), retry: .idempotent))
                }
                let wanted = request.attributes["node"] ?? ""
                let wantedInstance = wanted.isEmpty ? nil : try instanceID(for: wanted, in: request)
                let attached = live.attachedInstance
                if attached != wantedInstance {
                    if attached != nil { try await detach(id) }
                    if let wantedInstance {
                        try await attach(id, to: wantedInstance)
                        resource.details["instance_id"] = wantedInstance
                    }
                } else if let attached {
                    resource.details["instance_id"] = attached
                }
                return resource
            case .firewall:
                let wanted = try await wantedRules(request)
                let (delete, add) = VultrFirewallRules.changes(current: try await rules(of: id), wanted: wanted)
                try await changeRules(id, delete: delete, add: add)
                return observed(request, id: id)
            case .sshKey:
                // Names only change on kryoform's own key; a key registered by hand keeps its name.
                let live = try await api.get(Vultr.SSHKeyAnswer.self, "/v2/ssh-keys/\(id)").ssh_key
                var resource = observed(request, id: id)
                if let name = request.attributes["name"], live.name != name {
                    if live.name.hasPrefix(VultrNaming.scope(of: request).project + "-") {
                        try await api.send(HTTPRequest(method: "PATCH", path: "/v2/ssh-keys/\(id)",
                                                       body: try APIClient.encoder.encode(Vultr.RenameSSHKey(name: name)), retry: .idempotent))
                    } else {
                        resource.details["shared"] = "true"
                    }
                }
                return resource
            case .network, .swarm, .stack:
                throw ProviderError(.invalidRequest, "vultr: \(request.address) cannot change in place; it is replaced")
            }
        }
    }

    // MARK: Delete

    public func delete(_ resource: ObservedResource) async throws {
        try await explaining("deleting \(resource.address)") {
            let id = resource.providerID
            switch resource.kind {
            case .node:
                try await deleteIgnoringAbsence("/v2/instances/\(id)")
            case .volume:
                // Vultr deletes only a detached block.
                let block: Vultr.Block
                do {
                    block = try await api.get(Vultr.BlockAnswer.self, "/v2/blocks/\(id)").block
                } catch let failure as HTTPFailure where failure.status == 404 {
                    return
                }
                if block.attachedInstance != nil { try await detach(id) }
                try await deleteIgnoringAbsence("/v2/blocks/\(id)")
            case .firewall:
                try await deleteIgnoringAbsence("/v2/firewalls/\(id)")
            case .network:
                // Deleted instances leave their VPC a little after the delete answers: try again for a while.
                let deadline = clock.now().addingTimeInterval(max(60, settings.pollInterval * 10))
                while true {
                    do {
                        try await deleteIgnoringAbsence("/v2/vpcs/\(id)")
                        return
                    } catch let failure as HTTPFailure where [400, 409, 412].contains(failure.status ?? 0) && clock.now() < deadline {
                        try await clock.sleep(seconds: min(1, settings.pollInterval))
                    }
                }
            case .sshKey:
                // A key that was in the account before kryoform (registered under another name) is left there.
                do {
                    let live = try await api.get(Vultr.SSHKeyAnswer.self, "/v2/ssh-keys/\(id)").ssh_key
                    if let name = resource.attributes["name"], live.name != name { return }
                } catch let failure as HTTPFailure where failure.status == 404 {
                    return
                }
                try await deleteIgnoringAbsence("/v2/ssh-keys/\(id)")
            case .swarm, .stack:
                throw ProviderError(.invalidRequest, "vultr: \(resource.kind.rawValue) is node configuration, not a cloud resource")
            }
        }
    }

    /// Detaches a block without a restart; a block already detached (or whose instance is gone) is fine.
    func detach(_ block: String) async throws {
        do {
            try await api.send(HTTPRequest(method: "POST", path: "/v2/blocks/\(block)/detach",
                                           body: try APIClient.encoder.encode(Vultr.DetachBlock(live: true)), retry: .idempotent))
        } catch let failure as HTTPFailure where failure.status == 400 || failure.status == 404 || failure.status == 409 {
            let live = try await api.get(Vultr.BlockAnswer.self, "/v2/blocks/\(block)").block
            guard live.attachedInstance == nil else { throw failure }
        }
    }

    // MARK: Waiting

    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] {
        let nodes = resources.filter { $0.kind == .node && $0.status != .ready }
        guard !nodes.isEmpty else { return resources }
        let started = clock.now()
        var current = Dictionary(resources.map { ($0.providerID, $0) }, uniquingKeysWith: { first, _ in first })
        var pauses = pauses()
        try await explaining("waiting for \(nodes.count) instance\(nodes.count == 1 ? "" : "s") to be active") {
            while true {
                // One listing of the scope per poll, not one request per instance.
                var listed = Dictionary(try await instances(in: scope).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                let elapsed = clock.now().timeIntervalSince(started)
                if elapsed > settings.listingLag {
                    // A listing may lag: past that, an instance missing from it is asked for itself,
                    // and only a 404 means it is gone.
                    var gone: [String] = []
                    for node in nodes where listed[node.providerID] == nil {
                        do {
                            listed[node.providerID] = try await api.get(Vultr.InstanceAnswer.self, "/v2/instances/\(node.providerID)").instance
                        } catch let failure as HTTPFailure where failure.status == 404 {
                            gone.append(node.providerID)
                        }
                    }
                    if !gone.isEmpty {
                        throw ProviderError(.notFound, "vultr: instance\(gone.count == 1 ? "" : "s") \(gone.joined(separator: ", ")) disappeared while waiting for \(gone.count == 1 ? "it" : "them") to be active",
                                            fix: "run kryoform plan to see what exists now")
                    }
                }
                var waiting: [String] = []
                for node in nodes {
                    guard let instance = listed[node.providerID] else { waiting.append(node.providerID); continue }
                    var resource = current[node.providerID] ?? node
                    resource.details = VultrObservation.details(of: instance)
                    resource.status = instance.isReady ? .ready : .pending
                    if let plan = instance.plan { resource.attributes["size"] = plan }
                    current[node.providerID] = resource
                    if resource.status != .ready { waiting.append(node.providerID) }
                }
                if waiting.isEmpty { return }
                guard elapsed < settings.readyTimeout else {
                    throw ProviderError(.unavailable, "vultr: instances \(waiting.joined(separator: ", ")) were not active after \(Int(settings.readyTimeout)) s",
                                        fix: "look at them in the Vultr console; run apply again to go on")
                }
                try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
            }
        }
        return resources.map { current[$0.providerID] ?? $0 }
    }
}
