import Foundation
import Planner

/// The names, labels and tags kryoform gives Vultr objects, and how they are read back.
enum VultrNaming {
    static func scope(of request: ResourceRequest) -> ResourceScope { Naming.scope(of: request) }

    /// The VPC's and the firewall group's description start with this; Vultr gives them no name.
    static func scopeName(_ scope: ResourceScope) -> String { "kf-\(scope.project)-\(scope.environment)" }

    /// The one tag that lists an environment's instances.
    static func scopeTag(_ scope: ResourceScope) -> String { "kf-scope:\(scope.project):\(scope.environment)" }

    /// Whether a description is the scope's (`kf-acme-dev` or `kf-acme-dev cidr=...`), not another
    /// environment's whose name starts the same way (`kf-acme-dev2`).
    static func describesScope(_ description: String?, _ scope: ResourceScope) -> Bool {
        guard let description else { return false }
        let name = scopeName(scope)
        return description == name || description.hasPrefix(name + " ")
    }

    static func vpcDescription(_ scope: ResourceScope, cidr: String) -> String { "\(scopeName(scope)) cidr=\(cidr)" }

    /// The CIDR the spec asked for, as the VPC's description records it.
    static func requestedCIDR(_ vpc: Vultr.VPC) -> String? {
        guard let description = vpc.description, let range = description.range(of: "cidr=") else { return nil }
        return String(description[range.upperBound...].prefix { !$0.isWhitespace })
    }

    /// Instances carry the project, environment and address tags, the scope tag and the cluster.
    static func instanceTags(_ request: ResourceRequest, scope: ResourceScope) -> [String] {
        request.tags + [scopeTag(scope), "kf-cluster:\(Naming.cluster(of: request.address))"]
    }

    /// `<project>-<env>-<cluster>-<n>`: the instance's label and hostname.
    static func instanceLabel(_ address: ResourceAddress, scope: ResourceScope) -> String { Naming.dropletName(address, scope: scope) }

    /// The node an instance stands for: its address tag, else its label.
    static func address(of instance: Vultr.Instance, scope: ResourceScope) -> ResourceAddress? {
        if let address = ResourceTags.address(in: instance.tags ?? []), address.segments.first == "node" { return address }
        return instance.label.flatMap { Naming.address(ofDroplet: $0, scope: scope) }
    }

    /// Block storage has no tags: its label carries the scope and the address,
    /// `kf:<project>:<env>:volume.<cluster>.<n>.<name>`.
    static func blockLabel(_ address: ResourceAddress, scope: ResourceScope) -> String {
        "\(blockPrefix(scope))\(address.rawValue)"
    }

    static func blockPrefix(_ scope: ResourceScope) -> String { "kf:\(scope.project):\(scope.environment):" }

    static func address(ofBlock label: String?, scope: ResourceScope) -> ResourceAddress? {
        let prefix = blockPrefix(scope)
        guard let label, label.hasPrefix(prefix) else { return nil }
        let rest = String(label.dropFirst(prefix.count))
        guard rest.hasPrefix("volume.") else { return nil }
        return ResourceAddress(rest)
    }

    /// Vultr takes user data in base64.
    static func userData(_ scope: ResourceScope, cluster: String, inputs: [String: String] = [:]) -> String {
        Data(Naming.userData(scope, cluster: cluster, inputs: inputs).utf8).base64EncodedString()
    }

    /// `debian-12` for `Debian 12 x64 (bookworm)` of family `debian`: the family and the first
    /// word that is a version number. Nil for entries with neither (`Custom`, `Snapshot`).
    static func imageName(_ os: Vultr.OS) -> String? {
        guard let family = os.family?.lowercased(), !family.isEmpty else { return nil }
        guard let version = os.name.split(separator: " ").first(where: { $0.first?.isNumber ?? false }) else { return nil }
        return "\(family)-\(version.lowercased())"
    }
}

/// The operating systems Vultr installs, by kryoform image name (`debian-12`) and back.
struct VultrImages: Sendable {
    /// x64 systems only, the first of a name winning.
    var idByName: [String: Int]
    var nameByID: [Int: String]

    init(_ systems: [Vultr.OS]) {
        var idByName: [String: Int] = [:]
        var nameByID: [Int: String] = [:]
        for os in systems where (os.arch ?? "x64") == "x64" {
            guard let name = VultrNaming.imageName(os) else { continue }
            if idByName[name] == nil { idByName[name] = os.id }
            nameByID[os.id] = name
        }
        self.idByName = idByName
        self.nameByID = nameByID
    }

    /// The os id of an image name, or of a bare number (`2136`).
    func id(of image: String) -> Int? { idByName[image.lowercased()] ?? Int(image) }

    /// The image name of an os id, or the bare number when Vultr lists no such system.
    func name(of id: Int) -> String { nameByID[id] ?? String(id) }

    var names: [String] { idByName.keys.sorted() }
}

/// Firewall rules to and from the plan's text (`FirewallClause`, and `all from 10.20.0.0/16`).
/// Vultr keeps one inbound rule per protocol, port (or range) and source; the rules are sent
/// in the spec's order, so the text is rebuilt exactly from the listing.
enum VultrFirewallRules {
    /// Every port, as Vultr writes a range.
    static let allPorts = "1:65535"

    static func inbound(_ text: String, internalRange: String) -> [Vultr.CreateRule] {
        var rules: [Vultr.CreateRule] = []
        for clause in FirewallClause.parse(text) {
            let ports: [String?] = clause.proto == "icmp" ? [nil] : (clause.ports.isEmpty ? [allPorts] : clause.ports.map { $0.replacingOccurrences(of: "-", with: ":") })
            for port in ports {
                for source in clause.sources { rules.append(rule(clause.proto, port: port, source: source)) }
            }
        }
        if !internalRange.isEmpty && internalRange != "auto" {
            rules.append(rule("tcp", port: allPorts, source: internalRange))
            rules.append(rule("udp", port: allPorts, source: internalRange))
            rules.append(rule("icmp", port: nil, source: internalRange))
        }
        return rules
    }

    static func rule(_ proto: String, port: String?, source: String) -> Vultr.CreateRule {
        let parts = source.split(separator: "/", maxSplits: 1)
        let subnet = parts.first.map(String.init) ?? source
        let v6 = subnet.contains(":")
        let size = parts.count > 1 ? Int(parts[1]) ?? (v6 ? 128 : 32) : (v6 ? 128 : 32)
        return Vultr.CreateRule(ip_type: v6 ? "v6" : "v4", protocol: proto.lowercased(), subnet: subnet, subnet_size: size, port: port)
    }

    /// A listed rule as the body that would make it, to compare the two.
    static func body(of rule: Vultr.FirewallRule) -> Vultr.CreateRule {
        let proto = rule.protocol.lowercased()
        let port = proto == "icmp" ? nil : (rule.port.flatMap { $0.isEmpty ? nil : $0 } ?? allPorts)
        return Vultr.CreateRule(ip_type: rule.ip_type, protocol: proto, subnet: rule.subnet, subnet_size: rule.subnet_size, port: port)
    }

    /// The plan's `inbound` and `internal` text for rules as Vultr lists them.
    static func attributes(_ rules: [Vultr.CreateRule], internalText: (String) -> String) -> Attributes {
        func source(_ rule: Vultr.CreateRule) -> String { "\(rule.subnet)/\(rule.subnet_size)" }
        var internalRange: String?
        let wide = rules.filter { $0.protocol == "icmp" || $0.port == allPorts }
        for candidate in wide where candidate.protocol == "icmp" {
            let range = source(candidate)
            if ["tcp", "udp"].allSatisfy({ proto in wide.contains { $0.protocol == proto && source($0) == range } }) {
                internalRange = range
                break
            }
        }
        var clauses: [FirewallClause] = []
        for rule in rules {
            if let internalRange, source(rule) == internalRange, rule.protocol == "icmp" || rule.port == allPorts { continue }
            let ports = rule.port.map { $0 == allPorts ? [] : [$0.replacingOccurrences(of: ":", with: "-")] } ?? []
            // Rules of one protocol and port with sources one after another make one clause.
            if let last = clauses.last, last.proto == rule.protocol, last.ports == ports, rule.protocol != "icmp" || last.ports.isEmpty {
                clauses[clauses.count - 1].sources.append(source(rule))
            } else {
                clauses.append(FirewallClause(proto: rule.protocol, ports: ports, sources: [source(rule)]))
            }
        }
        var attributes: Attributes = [:]
        attributes["inbound"] = FirewallClause.text(FirewallClause.merged(clauses))
        attributes["internal"] = internalRange.map(internalText) ?? ""
        return attributes
    }

    /// What to delete and what to add so the group holds `wanted`, in that order. Rules not
    /// wanted are deleted and missing ones added; when the rules kept would then stand in
    /// another order than the spec's, the rules from the first difference on are made again
    /// (Vultr lists rules in the order they were made, and the plan compares the text).
    static func changes(current: [Vultr.FirewallRule], wanted: [Vultr.CreateRule]) -> (delete: [Int], add: [Vultr.CreateRule]) {
        var remaining = wanted
        var kept: [Vultr.FirewallRule] = []
        var delete: [Int] = []
        for rule in current {
            if let index = remaining.firstIndex(of: body(of: rule)) {
                remaining.remove(at: index)
                kept.append(rule)
            } else {
                delete.append(rule.id)
            }
        }
        if kept.map(body(of:)) + remaining == wanted { return (delete, remaining) }
        let keptBodies = kept.map(body(of:))
        var prefix = 0
        while prefix < keptBodies.count, prefix < wanted.count, keptBodies[prefix] == wanted[prefix] { prefix += 1 }
        return (delete + kept.dropFirst(prefix).map(\.id), Array(wanted.dropFirst(prefix)))
    }
}
