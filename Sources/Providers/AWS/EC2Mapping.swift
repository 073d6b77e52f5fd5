import Foundation
import Planner

/// The names and tags kryoform gives EC2 objects, and how they are read back.
enum EC2Naming {
    /// Tag keys of kryoform's own beyond the scope and address tags.
    static let nameKey = "Name"
    static let cidrKey = "kf-cidr"
    static let imageKey = "kf-image"
    static let clusterKey = "kf-cluster"
    static let partKey = "kf-part"

    /// `kf-project` and `kf-env`: the filters that list one environment.
    static func scopeTags(_ scope: ResourceScope) -> [EC2Tag] { scope.tags.map(EC2Tag.init(kryoform:)) }

    /// The request's kryoform tags (project, environment, address) and a `Name`.
    static func tags(_ request: ResourceRequest, name: String, extra: [EC2Tag] = []) -> [EC2Tag] {
        request.tags.map(EC2Tag.init(kryoform:)) + [EC2Tag(key: nameKey, value: name)] + extra
    }

    /// The address a tag set names (`kf-addr`), or nil.
    static func address(_ tags: [EC2Tag]) -> ResourceAddress? {
        ResourceTags.address(in: tags.map(\.kryoform))
    }

    static func value(_ key: String, in tags: [EC2Tag]) -> String? {
        tags.first { $0.key == key }?.value
    }

    /// The VPC's, subnet's, gateway's and security group's name: `kf-<project>-<env>`.
    static func scopeName(_ scope: ResourceScope) -> String { "kf-\(scope.project)-\(scope.environment)" }

    /// An instance's name: `<project>-<env>-<cluster>-<n>`.
    static func instanceName(_ address: ResourceAddress, scope: ResourceScope) -> String {
        Naming.dropletName(address, scope: scope)
    }

    static func volumeName(_ address: ResourceAddress, scope: ResourceScope) -> String {
        Naming.volumeName(address, scope: scope)
    }

    /// A /16 in 10.0.0.0/8 chosen from the project and environment, for `cidr: auto`: the same
    /// every time, so a network made again gets the same range.
    static func automaticCIDR(_ scope: ResourceScope) -> String {
        let digest = ContentHash.sha256("\(scope.project)/\(scope.environment)")
        let second = 16 + (Int(digest.prefix(4), radix: 16) ?? 0) % 224
        return "10.\(second).0.0/16"
    }

    /// `ClientToken` of a create: the plan's idempotency token for this address (32 hex), the
    /// same for every try of one planned create; without one, a digest of what is asked.
    static func clientToken(_ request: ResourceRequest) -> String {
        if let token = request.inputs[ResourceRequest.idempotencyTokenInput], !token.isEmpty {
            return "kf-" + String(token.prefix(60))
        }
        let described = request.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        return "kf-" + String(ContentHash.sha256(request.tags.joined(separator: ",") + "\n" + described).prefix(32))
    }

    /// The device names a data volume may take, in order.
    static let volumeDevices = "fghijklmnop".map { "/dev/sd\($0)" }
}

/// Security group rules to and from the plan's text (`FirewallClause`, `all from 10.20.0.0/16`).
///
/// EC2 groups rules by protocol and ports and keeps no order, so each source range carries a
/// description saying where it came from: `kryoform c<clause>.p<port>.s<source>` for the
/// spec's clauses and `kryoform internal` for the network's own range. Reading back sorts by
/// them, so the text is rebuilt in the spec's order; a rule without such a description (added
/// by hand) is read as a clause of its own after the others, which the plan then removes.
enum EC2Firewall {
    static let internalDescription = "kryoform internal"

    static func permissions(inbound: String, internalRange: String) -> [EC2Permission] {
        var rules: [EC2Permission] = []
        for (clauseIndex, clause) in FirewallClause.parse(inbound).enumerated() {
            let proto = clause.proto == "all" ? "-1" : clause.proto
            let ports = proto == "icmp" || proto == "-1" ? [""] : (clause.ports.isEmpty ? ["0-65535"] : clause.ports)
            for (portIndex, port) in ports.enumerated() {
                let (from, to) = range(port, proto: proto)
                for (sourceIndex, source) in clause.sources.enumerated() {
                    rules.append(EC2Permission(proto: proto, fromPort: from, toPort: to, cidr: source,
                                               description: "kryoform c\(clauseIndex).p\(portIndex).s\(sourceIndex)"))
                }
            }
        }
        if !internalRange.isEmpty && internalRange != "auto" {
            rules.append(EC2Permission(proto: "-1", fromPort: -1, toPort: -1, cidr: internalRange, description: internalDescription))
        }
        return rules
    }

    static func range(_ port: String, proto: String) -> (Int, Int) {
        if proto == "icmp" || proto == "-1" || port.isEmpty { return (-1, -1) }
        let bounds = port.split(separator: "-").compactMap { Int($0) }
        guard let low = bounds.first else { return (0, 65535) }
        return (low, bounds.count > 1 ? bounds[1] : low)
    }

    /// The rules of a security group as EC2 lists them, one per source range.
    static func permissions(of group: EC2.SecurityGroup) -> [EC2Permission] {
        var rules: [EC2Permission] = []
        for permission in group.ipPermissions?.items ?? [] {
            let from = permission.fromPort ?? -1, to = permission.toPort ?? -1
            for range in permission.ipRanges?.items ?? [] {
                rules.append(EC2Permission(proto: permission.ipProtocol, fromPort: from, toPort: to, cidr: range.cidrIp, description: range.description))
            }
            for range in permission.ipv6Ranges?.items ?? [] {
                rules.append(EC2Permission(proto: permission.ipProtocol, fromPort: from, toPort: to, cidr: range.cidrIpv6, description: range.description))
            }
        }
        return rules
    }

    /// The plan's `inbound` and `internal` text for a group's rules.
    static func attributes(_ rules: [EC2Permission], internalText: (String) -> String) -> Attributes {
        struct Placed { var clause: Int; var port: Int; var source: Int; var rule: EC2Permission }
        var placed: [Placed] = []
        var foreign: [EC2Permission] = []
        var internalRange: String?
        for rule in rules {
            if rule.description == internalDescription, rule.proto == "-1" {
                internalRange = rule.cidr
                continue
            }
            if let text = rule.description, text.hasPrefix("kryoform c") {
                let numbers = text.dropFirst("kryoform c".count).split(separator: ".").map { Int($0.drop { !$0.isNumber }) }
                if numbers.count == 3, let clause = numbers[0], let port = numbers[1], let source = numbers[2] {
                    placed.append(Placed(clause: clause, port: port, source: source, rule: rule))
                    continue
                }
            }
            foreign.append(rule)
        }
        var clauses: [FirewallClause] = []
        for clause in Set(placed.map(\.clause)).sorted() {
            let members = placed.filter { $0.clause == clause }
            guard let first = members.first else { continue }
            var ports: [String] = []
            for member in members.sorted(by: { $0.port < $1.port }) {
                let text = portText(member.rule)
                if !ports.contains(text) { ports.append(text) }
            }
            var sources: [String] = []
            for member in members.sorted(by: { $0.source < $1.source }) where !sources.contains(member.rule.cidr) {
                sources.append(member.rule.cidr)
            }
            let proto = first.rule.proto == "-1" ? "all" : first.rule.proto
            var complete = FirewallClause(proto: proto, ports: ports.filter { !$0.isEmpty }, sources: sources)
            // A grid with holes (a rule removed by hand) reads as something the spec never says.
            if members.count != max(ports.count, 1) * sources.count { complete.sources.append("(incomplete)") }
            clauses.append(complete)
        }
        for rule in foreign {
            let proto = rule.proto == "-1" ? "all" : rule.proto
            clauses.append(FirewallClause(proto: proto, ports: [portText(rule)].filter { !$0.isEmpty }, sources: [rule.cidr]))
        }
        return ["inbound": FirewallClause.text(clauses), "internal": internalRange.map(internalText) ?? ""]
    }

    static func portText(_ rule: EC2Permission) -> String {
        if rule.proto == "icmp" || rule.proto == "-1" { return "" }
        if rule.fromPort == 0 && rule.toPort == 65535 { return "" }
        return rule.fromPort == rule.toPort ? String(rule.fromPort) : "\(rule.fromPort)-\(rule.toPort)"
    }

    /// The same rule, ignoring how EC2 spells "every port" for protocol -1.
    static func same(_ a: EC2Permission, _ b: EC2Permission) -> Bool {
        a.proto == b.proto && a.cidr == b.cidr && (a.description ?? "") == (b.description ?? "")
            && (a.proto == "-1" || (a.fromPort == b.fromPort && a.toPort == b.toPort))
    }
}

/// An environment's objects as EC2 lists them, turned into observed resources.
struct EC2Observation {
    var scope: ResourceScope
    var region: String
    var instances: [EC2.Instance]
    var vpcs: [EC2.VPC]
    var subnets: [EC2.Subnet]
    var gateways: [EC2.InternetGateway]
    var routeTables: [EC2.RouteTable]
    var groups: [EC2.SecurityGroup]
    var keys: [EC2.KeyPair]
    var volumes: [EC2.Volume]
    var publicKey: String?

    var resources: [ObservedResource] {
        var resources: [ObservedResource] = []
        let vpc = vpcs.first { EC2Naming.address($0.tags) == .network }
        let requested = vpc.flatMap { EC2Naming.value(EC2Naming.cidrKey, in: $0.tags) }
        let cidr = vpc.map { requested == "auto" ? "auto" : ($0.cidrBlock ?? requested ?? "auto") }
        if let vpc {
            var attributes: Attributes = ["region": region, "cidr": cidr ?? "auto"]
            let missing = missingParts(of: vpc)
            // A network whose subnet, gateway or route did not get made is made again.
            if !missing.isEmpty { attributes["incomplete"] = missing.joined(separator: ", ") }
            resources.append(ObservedResource(address: .network, kind: .network, providerID: vpc.vpcId, attributes: attributes))
        }
        if let group = groups.first(where: { EC2Naming.address($0.tags) == .firewall }) {
            let attributes = EC2Firewall.attributes(EC2Firewall.permissions(of: group)) { range in
                "all from " + (range == vpc?.cidrBlock && cidr == "auto" ? "auto" : range)
            }
            resources.append(ObservedResource(address: .firewall, kind: .firewall, providerID: group.groupId, attributes: attributes))
        }
        let keyName = "\(scope.project)-\(scope.environment)"
        if let key = keys.first(where: { $0.keyName == keyName }) {
            var attributes: Attributes = ["name": key.keyName]
            if let material = key.publicKey { attributes["public_key"] = DesiredStateBuilder.fingerprint(ofPublicKey: material) }
            resources.append(ObservedResource(address: .sshKey, kind: .sshKey, providerID: key.keyName, attributes: attributes))
        } else if let publicKey, let key = keys.first(where: { $0.publicKey.map { Naming.sameKey($0, publicKey) } ?? false }) {
            // The project's key, imported by hand under another name: used as it is, never renamed or deleted.
            resources.append(ObservedResource(address: .sshKey, kind: .sshKey, providerID: key.keyName,
                                              attributes: ["name": keyName, "public_key": DesiredStateBuilder.fingerprint(ofPublicKey: publicKey)],
                                              details: ["shared": "true", "registered_as": key.keyName]))
        }
        let volumesByID = Dictionary(volumes.map { ($0.volumeId, $0) }, uniquingKeysWith: { first, _ in first })
        var instanceAddresses: [String: ResourceAddress] = [:]
        for instance in instances where !["terminated", "shutting-down"].contains(instance.state) {
            guard let address = EC2Naming.address(instance.tags), address.kind == .node else { continue }
            instanceAddresses[instance.instanceId] = address
            var attributes: Attributes = ["size": instance.instanceType ?? "", "region": region]
            attributes["image"] = EC2Naming.value(EC2Naming.imageKey, in: instance.tags) ?? instance.imageId ?? ""
            attributes["network"] = instance.vpcId != nil && instance.vpcId == vpc?.vpcId ? cidr ?? "auto" : "vpc " + (instance.vpcId ?? "none")
            if let root = instance.rootVolumeID.flatMap({ volumesByID[$0] }), let size = root.size { attributes["disk_gib"] = String(size) }
            resources.append(ObservedResource(address: address, kind: .node, providerID: instance.instanceId,
                                              status: instance.state == "running" ? .ready : .pending, attributes: attributes,
                                              details: Self.details(of: instance)))
        }
        for volume in volumes {
            guard let address = EC2Naming.address(volume.tags), address.kind == .volume else { continue }
            let attachment = volume.attachments.first { $0.status != "detached" }
            let attached = attachment?.instanceId
            var resource = ObservedResource(address: address, kind: .volume, providerID: volume.volumeId, attributes: [
                "size_gib": String(volume.size ?? 0), "region": region,
                "node": attached.flatMap { instanceAddresses[$0]?.rawValue } ?? (attached.map { "instance \($0)" } ?? ""),
            ])
            if let attached { resource.details["instance_id"] = attached }
            if let zone = volume.availabilityZone { resource.details["availability_zone"] = zone }
            // On Nitro instances an EBS volume is an NVMe disk whose serial is the volume id
            // without its dash; on Xen ones it keeps the attachment's device name (sdf → xvdf).
            var devices = ["/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_" + volume.volumeId.replacingOccurrences(of: "-", with: "")]
            if let device = attachment?.device { devices += [device, device.replacingOccurrences(of: "/dev/sd", with: "/dev/xvd")] }
            resource.details[VolumeMount.deviceDetail] = devices.joined(separator: " ")
            resources.append(resource)
        }
        return resources
    }

    /// The parts of a network that are not there: its subnet, its gateway, its default route.
    func missingParts(of vpc: EC2.VPC) -> [String] {
        var missing: [String] = []
        if !subnets.contains(where: { $0.vpcId == vpc.vpcId }) { missing.append("subnet") }
        let gateway = gateways.first { ($0.attachmentSet?.items ?? []).contains { $0.vpcId == vpc.vpcId } }
        if gateway == nil { missing.append("internet gateway") }
        let routed = routeTables.contains { table in
            table.vpcId == vpc.vpcId && (table.routeSet?.items ?? []).contains {
                $0.destinationCidrBlock == "0.0.0.0/0" && $0.gatewayId != nil && $0.gatewayId == gateway?.internetGatewayId
            }
        }
        if gateway != nil && !routed { missing.append("default route") }
        return missing
    }

    static func details(of instance: EC2.Instance) -> [String: String] {
        var details: [String: String] = [:]
        if let address = instance.ipAddress { details["public_ipv4"] = address }
        if let address = instance.privateIpAddress { details["private_ipv4"] = address }
        if let zone = instance.placement?.availabilityZone { details["availability_zone"] = zone }
        details["state"] = instance.state
        return details
    }
}
