import Foundation
import Planner

/// Creates, updates and deletes: what an apply does to EC2.
extension EC2Provider {
    // MARK: Create

    public func create(_ requests: [ResourceRequest]) async -> [Result<ObservedResource, ProviderError>] {
        var results: [Result<ObservedResource, ProviderError>] = []
        for request in requests {
            do {
                results.append(.success(try await explaining("creating \(request.address)") { try await createOne(request) }))
            } catch {
                results.append(.failure(Self.providerError(error)))
            }
        }
        return results
    }

    private func createOne(_ request: ResourceRequest) async throws -> ObservedResource {
        let scope = Naming.scope(of: request)
        switch request.kind {
        case .network: return try await createNetwork(request, scope: scope)
        case .firewall: return try await createFirewall(request, scope: scope)
        case .sshKey: return try await createKey(request, scope: scope)
        case .node: return try await createInstance(request, scope: scope)
        case .volume: return try await createVolume(request, scope: scope)
        case .swarm, .stack:
            throw ProviderError(.invalidRequest, "aws: \(request.kind.rawValue) is node configuration, not a cloud resource", nothingWasDone: true)
        }
    }

    /// The VPC, then its subnet, internet gateway and default route. Each part is looked up by
    /// tag before it is made, so a network left half made by an earlier run is completed.
    private func createNetwork(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let requested = request.attributes["cidr"] ?? "auto"
        let cidr = requested == "auto" ? EC2Naming.automaticCIDR(scope) : requested
        let name = EC2Naming.scopeName(scope)
        func findVPC() async throws -> EC2.VPC? {
            try await scoped(EC2.DescribeVpcsResponse.self, "DescribeVpcs", scope).vpcSet?.items.first { EC2Naming.address($0.tags) == .network }
        }
        let vpc: EC2.VPC
        if let existing = try await findVPC() {
            vpc = existing
        } else {
            var query = EC2Query("CreateVpc")
            query["CidrBlock"] = cidr
            query.tagSpecification("vpc", EC2Naming.tags(request, name: name, extra: [EC2Tag(key: EC2Naming.cidrKey, value: requested)]))
            vpc = try await createOrFind(request) { try await client.send(EC2.CreateVpcResponse.self, query).vpc } find: { try await findVPC() }
        }
        do {
            try await completeNetwork(vpc, cidr: vpc.cidrBlock ?? cidr, request: request, scope: scope)
        } catch {
            // The VPC exists: the next run finds it by tag and completes it.
            throw Self.providerError(error, doing: "completing \(request.address) (VPC \(vpc.vpcId))").afterSomethingMayHaveHappened
        }
        return observed(request, id: vpc.vpcId)
    }

    private func completeNetwork(_ vpc: EC2.VPC, cidr: String, request: ResourceRequest, scope: ResourceScope) async throws {
        let name = EC2Naming.scopeName(scope)
        let partTags = { (part: String) in
            EC2Naming.scopeTags(scope) + [EC2Tag(key: EC2Naming.nameKey, value: name), EC2Tag(key: EC2Naming.partKey, value: part)]
        }
        var subnets = try await subnets(of: vpc.vpcId)
        if subnets.isEmpty {
            var query = EC2Query("CreateSubnet")
            query["VpcId"] = vpc.vpcId
            query["CidrBlock"] = cidr
            query.tagSpecification("subnet", partTags("subnet"))
            subnets = [try await createOrFind(request) { try await client.send(EC2.CreateSubnetResponse.self, query).subnet } find: {
                try await self.subnets(of: vpc.vpcId).first
            }]
        }
        for subnet in subnets {
            var query = EC2Query("ModifySubnetAttribute", idempotent: true)
            query["SubnetId"] = subnet.subnetId
            query["MapPublicIpOnLaunch.Value"] = "true"
            try await client.sendIgnoringAnswer(query)
        }
        var gateways = EC2Query("DescribeInternetGateways", idempotent: true)
        gateways.filter("attachment.vpc-id", [vpc.vpcId])
        var gateway = try await client.send(EC2.DescribeInternetGatewaysResponse.self, gateways).internetGatewaySet?.items.first
        if gateway == nil {
            let find = { try await self.scoped(EC2.DescribeInternetGatewaysResponse.self, "DescribeInternetGateways", scope).internetGatewaySet?.items.first {
                ($0.attachmentSet?.items ?? []).isEmpty
            } }
            var made = try await find()
            if made == nil {
                var query = EC2Query("CreateInternetGateway")
                query.tagSpecification("internet-gateway", partTags("internet-gateway"))
                made = try await createOrFind(request) { try await client.send(EC2.CreateInternetGatewayResponse.self, query).internetGateway } find: { try await find() }
            }
            guard let made else { throw ProviderError(.failed, "aws: the internet gateway of \(request.address) could not be made") }
            var attach = EC2Query("AttachInternetGateway", idempotent: true)
            attach["InternetGatewayId"] = made.internetGatewayId
            attach["VpcId"] = vpc.vpcId
            try await client.sendIgnoringAnswer(attach)
            gateway = made
        }
        guard let gatewayID = gateway?.internetGatewayId else { return }
        var tables = EC2Query("DescribeRouteTables", idempotent: true)
        tables.filter("vpc-id", [vpc.vpcId])
        let found = try await client.send(EC2.DescribeRouteTablesResponse.self, tables).routeTableSet?.items ?? []
        guard let main = found.first(where: { ($0.associationSet?.items ?? []).contains { $0.main == true } }) ?? found.first else {
            throw ProviderError(.failed, "aws: VPC \(vpc.vpcId) of \(request.address) has no route table", fix: "delete the VPC in the EC2 console and run apply again")
        }
        let routed = (main.routeSet?.items ?? []).contains { $0.destinationCidrBlock == "0.0.0.0/0" && $0.gatewayId == gatewayID }
        if !routed {
            var route = EC2Query("CreateRoute", idempotent: true)
            route["RouteTableId"] = main.routeTableId
            route["DestinationCidrBlock"] = "0.0.0.0/0"
            route["GatewayId"] = gatewayID
            do {
                try await client.sendIgnoringAnswer(route)
            } catch let failure as HTTPFailure where failure.ec2Code == "RouteAlreadyExists" {
                // Made by the try whose answer was lost.
            }
        }
    }

    func subnets(of vpcID: String) async throws -> [EC2.Subnet] {
        var query = EC2Query("DescribeSubnets", idempotent: true)
        query.filter("vpc-id", [vpcID])
        return try await client.send(EC2.DescribeSubnetsResponse.self, query).subnetSet?.items ?? []
    }

    private func createFirewall(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        guard let vpcID = request.dependencies[.network] else {
            throw ProviderError(.invalidRequest, "aws: \(request.address) needs the network, which has no VPC yet", nothingWasDone: true)
        }
        let name = EC2Naming.scopeName(scope)
        func find() async throws -> String? {
            var query = EC2Query("DescribeSecurityGroups", idempotent: true)
            query.filter("vpc-id", [vpcID])
            query.filter("group-name", [name])
            return try await client.send(EC2.DescribeSecurityGroupsResponse.self, query).securityGroupInfo?.items.first?.groupId
        }
        var query = EC2Query("CreateSecurityGroup")
        query["GroupName"] = name
        query["GroupDescription"] = "kryoform \(scope.project)/\(scope.environment)"
        query["VpcId"] = vpcID
        query.tagSpecification("security-group", EC2Naming.tags(request, name: name))
        let groupID: String
        do {
            groupID = try await createOrFind(request) { try await client.send(EC2.CreateSecurityGroupResponse.self, query).groupId } find: { try await find() }
        } catch let failure as HTTPFailure where failure.ec2Code == "InvalidGroup.Duplicate" {
            guard let found = try await find() else { throw failure }
            groupID = found
        }
        do {
            try await applyRules(request, groupID: groupID)
        } catch {
            throw Self.providerError(error, doing: "setting the rules of \(request.address) (security group \(groupID))").afterSomethingMayHaveHappened
        }
        return observed(request, id: groupID)
    }

    /// Revokes the group's rules the spec does not name, then authorizes those missing.
    func applyRules(_ request: ResourceRequest, groupID: String) async throws {
        var internalRange = FirewallRules.internalRange(request.attributes["internal"] ?? "")
        if internalRange == "auto", let vpcID = request.dependencies[.network] {
            var query = EC2Query("DescribeVpcs", idempotent: true)
            query.list("VpcId", [vpcID])
            internalRange = try await client.send(EC2.DescribeVpcsResponse.self, query).vpcSet?.items.first?.cidrBlock ?? "auto"
        }
        let wanted = EC2Firewall.permissions(inbound: request.attributes["inbound"] ?? "", internalRange: internalRange)
        var describe = EC2Query("DescribeSecurityGroups", idempotent: true)
        describe.list("GroupId", [groupID])
        let group = try await client.send(EC2.DescribeSecurityGroupsResponse.self, describe).securityGroupInfo?.items.first
        let present = group.map(EC2Firewall.permissions(of:)) ?? []
        let extra = present.filter { rule in !wanted.contains { EC2Firewall.same($0, rule) } }
        let missing = wanted.filter { rule in !present.contains { EC2Firewall.same($0, rule) } }
        if !extra.isEmpty {
            var revoke = EC2Query("RevokeSecurityGroupIngress", idempotent: true)
            revoke["GroupId"] = groupID
            revoke.permissions(extra.map { var rule = $0; rule.description = nil; return rule })
            try await client.sendIgnoringAnswer(revoke)
        }
        if !missing.isEmpty {
            var authorize = EC2Query("AuthorizeSecurityGroupIngress", idempotent: true)
            authorize["GroupId"] = groupID
            authorize.permissions(missing)
            do {
                try await client.sendIgnoringAnswer(authorize)
            } catch let failure as HTTPFailure where failure.ec2Code == "InvalidPermission.Duplicate" {
                // The try whose answer was lost added them.
            }
        }
    }

    private func createKey(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let material = request.inputs["public_key"] ?? ""
        let name = request.attributes["name"] ?? "\(scope.project)-\(scope.environment)"
        let keys = try await keyPairs()
        if let mine = keys.first(where: { $0.keyName == name }) { return observed(request, id: mine.keyName) }
        if let shared = keys.first(where: { $0.publicKey.map { Naming.sameKey($0, material) } ?? false }) {
            // The project's key is in the region already under another name: used, never deleted.
            var resource = observed(request, id: shared.keyName)
            resource.details = ["shared": "true", "registered_as": shared.keyName]
            return resource
        }
        var query = EC2Query("ImportKeyPair")
        query["KeyName"] = name
        query["PublicKeyMaterial"] = Data(material.utf8).base64EncodedString()
        query.tagSpecification("key-pair", EC2Naming.tags(request, name: name))
        do {
            let key = try await createOrFind(request) { try await client.send(EC2.ImportKeyPairResponse.self, query).keyName } find: {
                try await keyPairs().first { $0.keyName == name }?.keyName
            }
            return observed(request, id: key)
        } catch let failure as HTTPFailure where failure.ec2Code == "InvalidKeyPair.Duplicate" {
            return observed(request, id: name)
        }
    }

    /// The AMI of an image: an `ami-…` as it is, a name such as `debian-12` through
    /// DescribeImages (Debian's own account, the newest `debian-12-amd64-*`).
    func resolveImage(_ image: String, for address: ResourceAddress) async throws -> EC2.Image {
        if let cached = images[image] { return cached }
        var query = EC2Query("DescribeImages", idempotent: true)
        if image.hasPrefix("ami-") {
            query.list("ImageId", [image])
        } else if image.hasPrefix("debian-"), let release = Int(image.dropFirst("debian-".count)) {
            query.list("Owner", [Self.debianOwner])
            query.filter("name", ["debian-\(release)-amd64-*"])
            query.filter("state", ["available"])
        } else {
            throw ProviderError(.invalidRequest, "aws: \(address) asks for image '\(image)', which is neither an AMI id (ami-…) nor a Debian release (debian-12)",
                                fix: "set provider.image to an AMI id of the region, or to debian-12", nothingWasDone: true)
        }
        let found = try await client.send(EC2.DescribeImagesResponse.self, query).imagesSet?.items ?? []
        guard let newest = found.max(by: { ($0.creationDate ?? "") < ($1.creationDate ?? "") }) else {
            throw ProviderError(.invalidRequest, "aws: \(address): no image '\(image)' in \(region)",
                                fix: "set provider.image to an AMI id that exists in \(region)", nothingWasDone: true)
        }
        images[image] = newest
        return newest
    }

    private func createInstance(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let attributes = request.attributes
        guard let vpcID = request.dependencies[.network], let groupID = request.dependencies[.firewall] else {
            throw ProviderError(.invalidRequest, "aws: \(request.address) needs the network and the firewall, which are not made yet", nothingWasDone: true)
        }
        let imageText = attributes["image"] ?? Self.defaultImage
        let image = try await resolveImage(imageText, for: request.address)
        guard let subnet = try await subnets(of: vpcID).first else {
            throw ProviderError(.failed, "aws: the network of \(request.address) (VPC \(vpcID)) has no subnet", fix: "run kryoform apply again: the network is completed first",
                                nothingWasDone: true)
        }
        let name = EC2Naming.instanceName(request.address, scope: scope)
        let cluster = Naming.cluster(of: request.address)
        let tags = EC2Naming.tags(request, name: name, extra: [EC2Tag(key: EC2Naming.imageKey, value: imageText), EC2Tag(key: EC2Naming.clusterKey, value: cluster)])
        var query = EC2Query("RunInstances", idempotent: true)
        query["ImageId"] = image.imageId
        query["InstanceType"] = attributes["size"] ?? ""
        query["MinCount"] = "1"
        query["MaxCount"] = "1"
        query["ClientToken"] = EC2Naming.clientToken(request)
        if let key = request.dependencies[.sshKey] { query["KeyName"] = key }
        query["SubnetId"] = subnet.subnetId
        query["SecurityGroupId.1"] = groupID
        query["UserData"] = Data(Naming.userData(scope, cluster: cluster, inputs: request.inputs).utf8).base64EncodedString()
        if let disk = attributes["disk_gib"] {
            query["BlockDeviceMapping.1.DeviceName"] = image.rootDeviceName ?? "/dev/xvda"
            query["BlockDeviceMapping.1.Ebs.VolumeSize"] = disk
            query["BlockDeviceMapping.1.Ebs.VolumeType"] = "gp3"
            query["BlockDeviceMapping.1.Ebs.DeleteOnTermination"] = "true"
        }
        query.tagSpecification("instance", tags)
        query.tagSpecification("volume", tags)
        let instance: EC2.Instance
        do {
            // The client token makes the retries of this request safe: EC2 answers a repeat
            // with the instance the first one made.
            guard let made = try await client.send(EC2.RunInstancesResponse.self, query).instancesSet?.items.first else {
                throw ProviderError(.failed, "aws: RunInstances for \(request.address) answered with no instance; the next run adopts it if it exists")
            }
            instance = made
        } catch let failure as HTTPFailure where Self.outcomeUnknown(failure) {
            let error = Self.providerError(failure, doing: "creating \(request.address)").afterSomethingMayHaveHappened
            guard let found = try? await instances(in: scope).first(where: {
                EC2Naming.address($0.tags) == request.address && !["terminated", "shutting-down"].contains($0.state)
            }) else { throw error }
            instance = found
        }
        var resource = observed(request, id: instance.instanceId)
        resource.status = instance.state == "running" ? .ready : .pending
        resource.details = EC2Observation.details(of: instance)
        return resource
    }

    private func createVolume(_ request: ResourceRequest, scope: ResourceScope) async throws -> ObservedResource {
        let node = request.attributes["node"] ?? ""
        let instanceID = node.isEmpty ? nil : request.dependencies[ResourceAddress(node)]
        var zone = "\(region)a"
        var host: EC2.Instance?
        if let instanceID {
            host = try await instance(instanceID)
            if let placed = host?.placement?.availabilityZone { zone = placed }
        }
        var query = EC2Query("CreateVolume", idempotent: true)
        query["AvailabilityZone"] = zone
        query["Size"] = request.attributes["size_gib"] ?? "1"
        query["VolumeType"] = "gp3"
        query["ClientToken"] = EC2Naming.clientToken(request)
        query.tagSpecification("volume", EC2Naming.tags(request, name: EC2Naming.volumeName(request.address, scope: scope)))
        let volume = try await client.send(EC2.Volume.self, query)
        var resource = observed(request, id: volume.volumeId)
        guard let instanceID, let host else { return resource }
        do {
            try await waitForVolume(volume.volumeId, status: "available")
            try await attach(volume.volumeId, to: host)
        } catch {
            // The volume exists: the next run adopts it by tag and attaches it.
            throw Self.providerError(error, doing: "attaching \(request.address) to \(node)").afterSomethingMayHaveHappened
        }
        resource.details["instance_id"] = instanceID
        return resource
    }

    func attach(_ volumeID: String, to host: EC2.Instance) async throws {
        let used = Set((host.blockDeviceMapping?.items ?? []).compactMap(\.deviceName))
        guard let device = EC2Naming.volumeDevices.first(where: { !used.contains($0) }) else {
            throw ProviderError(.quota, "aws: instance \(host.instanceId) has no free device for volume \(volumeID)", fix: "attach fewer volumes to one node")
        }
        var query = EC2Query("AttachVolume", idempotent: true)
        query["VolumeId"] = volumeID
        query["InstanceId"] = host.instanceId
        query["Device"] = device
        do {
            try await client.sendIgnoringAnswer(query)
        } catch let failure as HTTPFailure where failure.ec2Code == "VolumeInUse" {
            // Attached by the try whose answer was lost.
        }
    }

    func describeVolume(_ id: String) async throws -> EC2.Volume? {
        var query = EC2Query("DescribeVolumes", idempotent: true)
        query.list("VolumeId", [id])
        do {
            return try await client.send(EC2.DescribeVolumesResponse.self, query).volumeSet?.items.first
        } catch let failure as HTTPFailure where failure.isNotFound {
            return nil
        }
    }

    func waitForVolume(_ id: String, status: String) async throws {
        let deadline = clock.now().addingTimeInterval(settings.readyTimeout)
        var pauses = pauses()
        while true {
            let volume = try await describeVolume(id)
            if volume?.status == status { return }
            guard clock.now() < deadline else {
                throw ProviderError(.unavailable, "aws: volume \(id) is \(volume?.status ?? "missing"), not \(status), after \(Int(settings.readyTimeout)) s")
            }
            try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
        }
    }
}
