import Foundation
import Planner

/// Updates in place and deletes.
extension EC2Provider {
    // MARK: Update

    public func update(_ request: ResourceRequest) async throws -> ObservedResource {
        guard let current = request.current else {
            throw ProviderError(.invalidRequest, "aws: update of \(request.address) names no resource")
        }
        return try await explaining("updating \(request.address)") {
            let id = current.providerID
            switch request.kind {
            case .node:
                return try await updateInstance(request, id: id)
            case .volume:
                return try await updateVolume(request, id: id, current: current)
            case .firewall:
                try await applyRules(request, groupID: id)
                return observed(request, id: id)
            case .sshKey:
                // A key pair cannot be renamed; the name is kryoform's own and only the fingerprint replaces it.
                var resource = observed(request, id: id)
                if id != request.attributes["name"] { resource.details = ["shared": "true", "registered_as": id] }
                return resource
            case .network, .swarm, .stack:
                throw ProviderError(.invalidRequest, "aws: \(request.address) cannot change in place; it is replaced")
            }
        }
    }

    /// A bigger root disk grows in place (ModifyVolume); another size stops the instance,
    /// changes its type and starts it again.
    private func updateInstance(_ request: ResourceRequest, id: String) async throws -> ObservedResource {
        guard let live = try await instance(id) else {
            throw ProviderError(.notFound, "aws: instance \(id) of \(request.address) is gone", fix: "run kryoform plan to see what exists now")
        }
        var resource = observed(request, id: id)
        resource.details = EC2Observation.details(of: live)
        if let wanted = request.attributes["disk_gib"].flatMap(Int.init), let rootID = live.rootVolumeID, let root = try await describeVolume(rootID),
           let size = root.size, wanted > size {
            var query = EC2Query("ModifyVolume", idempotent: true)
            query["VolumeId"] = rootID
            query["Size"] = String(wanted)
            try await client.sendIgnoringAnswer(query)
        }
        if let size = request.attributes["size"], size != live.instanceType {
            if live.state != "stopped" {
                var stop = EC2Query("StopInstances", idempotent: true)
                stop.list("InstanceId", [id])
                try await client.sendIgnoringAnswer(stop)
                try await waitForInstance(id, state: "stopped", address: request.address)
            }
            do {
                var modify = EC2Query("ModifyInstanceAttribute", idempotent: true)
                modify["InstanceId"] = id
                modify["InstanceType.Value"] = size
                try await client.sendIgnoringAnswer(modify)
            } catch {
                // Whatever went wrong, the instance must not be left stopped.
                try? await start(id)
                throw error
            }
            try await start(id)
            resource.status = .pending
        }
        return resource
    }

    private func start(_ id: String) async throws {
        var query = EC2Query("StartInstances", idempotent: true)
        query.list("InstanceId", [id])
        try await client.sendIgnoringAnswer(query)
    }

    func waitForInstance(_ id: String, state: String, address: ResourceAddress) async throws {
        let deadline = clock.now().addingTimeInterval(settings.readyTimeout)
        var pauses = pauses()
        while true {
            let live = try await instance(id)
            if live?.state == state { return }
            guard clock.now() < deadline else {
                throw ProviderError(.unavailable, "aws: instance \(id) (\(address)) is \(live?.state ?? "missing"), not \(state), after \(Int(settings.readyTimeout)) s",
                                    fix: "look at it in the EC2 console; run apply again to go on")
            }
            try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
        }
    }

    private func updateVolume(_ request: ResourceRequest, id: String, current: ObservedResource) async throws -> ObservedResource {
        guard let volume = try await describeVolume(id) else {
            throw ProviderError(.notFound, "aws: volume \(id) of \(request.address) is gone", fix: "run kryoform plan to see what exists now")
        }
        if let wanted = request.attributes["size_gib"].flatMap(Int.init), wanted > (volume.size ?? 0) {
            var query = EC2Query("ModifyVolume", idempotent: true)
            query["VolumeId"] = id
            query["Size"] = String(wanted)
            try await client.sendIgnoringAnswer(query)
        }
        var resource = observed(request, id: id)
        let node = request.attributes["node"] ?? ""
        let wantedInstance = node.isEmpty ? nil : request.dependencies[ResourceAddress(node)]
        let attached = volume.attachments.first { $0.status != "detached" }?.instanceId
        if attached != wantedInstance {
            if let attached {
                try await detach(id, from: attached)
            }
            if let wantedInstance {
                guard let host = try await instance(wantedInstance) else {
                    throw ProviderError(.notFound, "aws: \(request.address) attaches to \(node), whose instance \(wantedInstance) is gone")
                }
                try await attach(id, to: host)
                resource.details["instance_id"] = wantedInstance
            }
        } else if let attached {
            resource.details["instance_id"] = attached
        }
        return resource
    }

    private func detach(_ volumeID: String, from instanceID: String) async throws {
        var query = EC2Query("DetachVolume", idempotent: true)
        query["VolumeId"] = volumeID
        query["InstanceId"] = instanceID
        do {
            try await client.sendIgnoringAnswer(query)
        } catch let failure as HTTPFailure where failure.isNotFound || failure.ec2Code == "IncorrectState" {
            // Already detached, or its instance is gone.
        }
        try await waitForVolume(volumeID, status: "available")
    }

    // MARK: Delete

    public func delete(_ resource: ObservedResource) async throws {
        try await explaining("deleting \(resource.address)") {
            let id = resource.providerID
            switch resource.kind {
            case .node:
                var query = EC2Query("TerminateInstances", idempotent: true)
                query.list("InstanceId", [id])
                try await ignoringAbsence(query)
            case .volume:
                guard let volume = try await describeVolume(id) else { return }
                for attachment in volume.attachments where attachment.status != "detached" {
                    if let instanceID = attachment.instanceId { try await detach(id, from: instanceID) }
                }
                var query = EC2Query("DeleteVolume", idempotent: true)
                query["VolumeId"] = id
                try await ignoringAbsence(query)
            case .firewall:
                var query = EC2Query("DeleteSecurityGroup", idempotent: true)
                query["GroupId"] = id
                // Instances being terminated still hold the group for a while.
                try await whileDependedOn { try await ignoringAbsence(query) }
            case .network:
                try await deleteNetwork(id)
            case .sshKey:
                // A key pair that was there before kryoform (under another name) is left there.
                if let name = resource.attributes["name"], name != id { return }
                if resource.details["shared"] == "true" { return }
                var query = EC2Query("DeleteKeyPair", idempotent: true)
                query["KeyName"] = id
                try await ignoringAbsence(query)
            case .swarm, .stack:
                throw ProviderError(.invalidRequest, "aws: \(resource.kind.rawValue) is node configuration, not a cloud resource")
            }
        }
    }

    /// Subnets, then the internet gateway (detached first), then the VPC: each tried again
    /// while terminating instances still hold them (`DependencyViolation`).
    private func deleteNetwork(_ vpcID: String) async throws {
        for subnet in try await subnets(of: vpcID) {
            var query = EC2Query("DeleteSubnet", idempotent: true)
            query["SubnetId"] = subnet.subnetId
            try await whileDependedOn { try await ignoringAbsence(query) }
        }
        var gateways = EC2Query("DescribeInternetGateways", idempotent: true)
        gateways.filter("attachment.vpc-id", [vpcID])
        for gateway in try await client.send(EC2.DescribeInternetGatewaysResponse.self, gateways).internetGatewaySet?.items ?? [] {
            var detach = EC2Query("DetachInternetGateway", idempotent: true)
            detach["InternetGatewayId"] = gateway.internetGatewayId
            detach["VpcId"] = vpcID
            do {
                try await whileDependedOn { try await ignoringAbsence(detach) }
            } catch let failure as HTTPFailure where failure.ec2Code == "Gateway.NotAttached" {
                // Detached already.
            }
            var delete = EC2Query("DeleteInternetGateway", idempotent: true)
            delete["InternetGatewayId"] = gateway.internetGatewayId
            try await whileDependedOn { try await ignoringAbsence(delete) }
        }
        var query = EC2Query("DeleteVpc", idempotent: true)
        query["VpcId"] = vpcID
        try await whileDependedOn { try await ignoringAbsence(query) }
    }

    private func ignoringAbsence(_ query: EC2Query) async throws {
        do {
            try await client.sendIgnoringAnswer(query)
        } catch let failure as HTTPFailure where failure.isNotFound {
            // Already gone: what a delete wants.
        }
    }

    /// Runs `body` again while EC2 answers `DependencyViolation`, up to `dependencyTimeout`.
    private func whileDependedOn(_ body: () async throws -> Void) async throws {
        let deadline = clock.now().addingTimeInterval(settings.dependencyTimeout)
        var pauses = pauses()
        while true {
            do {
                try await body()
                return
            } catch let failure as HTTPFailure where failure.ec2Code == "DependencyViolation" && clock.now() < deadline {
                try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
            }
        }
    }
}
