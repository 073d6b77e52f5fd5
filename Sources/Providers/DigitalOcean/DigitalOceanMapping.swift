import Foundation
import Planner

/// The names and tags kryoform gives DigitalOcean objects, and how they are read back.
enum Naming {
    static func scope(of request: ResourceRequest) -> ResourceScope {
        let project = request.tags.first { $0.hasPrefix(ResourceTags.projectPrefix) }.map { String($0.dropFirst(ResourceTags.projectPrefix.count)) }
        let environment = request.tags.first { $0.hasPrefix(ResourceTags.environmentPrefix) }.map { String($0.dropFirst(ResourceTags.environmentPrefix.count)) }
        return ResourceScope(project: project ?? "", environment: environment ?? "")
    }

    /// The VPC's and the firewall's name.
    static func scopeName(_ scope: ResourceScope) -> String { "kf-\(scope.project)-\(scope.environment)" }

    /// The one tag that lists an environment's droplets and that its firewall follows.
    static func scopeTag(_ scope: ResourceScope) -> String { "kf-scope:\(scope.project):\(scope.environment)" }

    static func dropletTags(_ scope: ResourceScope, cluster: String) -> [String] {
        scope.tags + [scopeTag(scope), "kf-cluster:\(cluster)"]
    }

    static func cluster(of address: ResourceAddress) -> String {
        address.segments.count > 1 ? String(address.segments[1]) : ""
    }

    static func dropletName(_ address: ResourceAddress, scope: ResourceScope) -> String {
        let segments = address.segments
        return "\(scope.project)-\(scope.environment)-\(segments.count > 1 ? segments[1] : "")-\(segments.count > 2 ? segments[2] : "")"
    }

    /// `node.<cluster>.<n>` from `<project>-<env>-<cluster>-<n>`, or nil for a name kryoform did not give.
    static func address(ofDroplet name: String, scope: ResourceScope) -> ResourceAddress? {
        let prefix = "\(scope.project)-\(scope.environment)-"
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.lastIndex(of: "-"), let index = Int(rest[rest.index(after: dash)...]), index > 0 else { return nil }
        let cluster = rest[..<dash]
        guard !cluster.isEmpty else { return nil }
        return .node(cluster: String(cluster), index: index)
    }

    /// A volume name unique in the account: lowercase letters, digits and dashes, at most 64.
    static func volumeName(_ address: ResourceAddress, scope: ResourceScope) -> String {
        let raw = "\(scope.project)-\(scope.environment)-" + address.segments.dropFirst().joined(separator: "-")
        let cleaned = String(raw.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
        guard cleaned.count > 64 else { return cleaned }
        return String(cleaned.prefix(51)) + "-" + ContentHash.sha256(raw).prefix(12)
    }

    static func vpcDescription(_ scope: ResourceScope, cidr: String) -> String {
        "kryoform \(scope.project)/\(scope.environment) cidr=\(cidr)"
    }

    /// The CIDR the spec asked for, as the VPC's description records it.
    static func requestedCIDR(_ vpc: DO.VPC) -> String? {
        guard let description = vpc.description, let range = description.range(of: "cidr=") else { return nil }
        return String(description[range.upperBound...].prefix { !$0.isWhitespace })
    }

    /// The node's cloud-init, kept to what must exist before kryoform's first login (the rest is
    /// done over SSH): its kryoform identity; the SSH host key kryoform made for it
    /// (`ResourceRequest.hostKeyInput`), which replaces every key the image would make, so the
    /// first connection is checked against a key kryoform knows; the login user where it is not
    /// root; and every key of the project's `ssh.public_key` file
    /// (`ResourceRequest.authorizedKeysInput`, one a line) as keys that user and the image's
    /// default user trust.
    static func userData(_ scope: ResourceScope, cluster: String, inputs: [String: String] = [:]) -> String {
        let keys = (inputs[ResourceRequest.authorizedKeysInput] ?? "").split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        func list(_ items: [String], indent: String) -> String { items.map { "\(indent)- \($0)\n" }.joined() }
        var text = "#cloud-config\n# Made by kryoform for \(scope.project)/\(scope.environment), cluster \(cluster).\n"
        if let privateKey = inputs[ResourceRequest.hostKeyInput], let publicKey = inputs[ResourceRequest.hostPublicKeyInput] {
            let block = privateKey.split(whereSeparator: \.isNewline).map { "    \($0)\n" }.joined()
            text += "ssh_deletekeys: true\nssh_genkeytypes: []\nssh_keys:\n  ed25519_private: |\n\(block)  ed25519_public: \(publicKey)\n"
        }
        switch inputs[ResourceRequest.loginUserInput] {
        case nil: break
        case "root": text += "disable_root: false\n"
        case let user?:
            text += "users:\n  - default\n  - name: \(yamlQuoted(user))\n    shell: /bin/bash\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    lock_passwd: true\n"
            if !keys.isEmpty { text += "    ssh_authorized_keys:\n" + list(keys, indent: "      ") }
        }
        if !keys.isEmpty { text += "ssh_authorized_keys:\n" + list(keys, indent: "  ") }
        return text + """
        write_files:
          - path: /etc/kryoform/node
            permissions: "0644"
            content: |
              project=\(scope.project)
              environment=\(scope.environment)
              cluster=\(cluster)

        """
    }

    /// `text` as a YAML double-quoted scalar.
    static func yamlQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Whether two OpenSSH public key lines carry the same key (type and blob; comments aside).
    static func sameKey(_ left: String, _ right: String) -> Bool {
        let a = left.split(separator: " ").prefix(2), b = right.split(separator: " ").prefix(2)
        return a.count == 2 && Array(a) == Array(b)
    }
}

/// Firewall rules to and from the plan's text (`FirewallClause`, and `all from 10.20.0.0/16`).
/// One DigitalOcean rule per port, in the spec's order, so the text is rebuilt exactly from what
/// DigitalOcean returns.
enum FirewallRules {
    static let everywhere = ["0.0.0.0/0", "::/0"]

    static var outbound: [DO.FirewallRule] {
        ["tcp", "udp", "icmp"].map { DO.FirewallRule(protocol: $0, ports: "0", destinations: .init(addresses: everywhere)) }
    }

    /// `10.20.0.0/16` from `all from 10.20.0.0/16`.
    static func internalRange(_ text: String) -> String {
        text.hasPrefix("all from ") ? String(text.dropFirst("all from ".count)) : text
    }

    static func inbound(_ text: String, internalRange: String) -> [DO.FirewallRule] {
        var rules: [DO.FirewallRule] = []
        for clause in FirewallClause.parse(text) {
            for port in clause.ports.isEmpty ? ["0"] : clause.ports {
                rules.append(DO.FirewallRule(protocol: clause.proto, ports: port, sources: .init(addresses: clause.sources)))
            }
        }
        if !internalRange.isEmpty && internalRange != "auto" {
            for proto in ["tcp", "udp", "icmp"] {
                rules.append(DO.FirewallRule(protocol: proto, ports: "0", sources: .init(addresses: [internalRange])))
            }
        }
        return rules
    }

    /// The plan's `inbound` and `internal` text for rules as DigitalOcean returns them.
    static func attributes(_ rules: [DO.FirewallRule], internalText: (String) -> String) -> Attributes {
        var clauses: [FirewallClause] = []
        var internalRange: String?
        for rule in rules {
            let sources = rule.sources?.addresses ?? []
            let port = rule.ports ?? "0"
            if port == "0" || port == "all", sources.count == 1, rules.filter({ ($0.ports ?? "0") == "0" && $0.sources?.addresses == sources }).count == 3 {
                internalRange = sources[0]
                continue
            }
            clauses.append(FirewallClause(proto: rule.protocol, ports: [port], sources: sources))
        }
        var attributes: Attributes = [:]
        attributes["inbound"] = FirewallClause.text(FirewallClause.merged(clauses))
        attributes["internal"] = internalRange.map(internalText) ?? ""
        return attributes
    }
}

/// An environment's objects as DigitalOcean lists them, turned into observed resources.
struct Observation {
    var scope: ResourceScope
    var droplets: [DO.Droplet]
    var volumes: [DO.Volume]
    var vpcs: [DO.VPC]
    var firewalls: [DO.Firewall]
    var keys: [DO.SSHKey]
    var publicKey: String?

    var resources: [ObservedResource] {
        var resources: [ObservedResource] = []
        let name = Naming.scopeName(scope)
        let vpc = vpcs.first { $0.name == name }
        let cidr = vpc.map { Naming.requestedCIDR($0) ?? $0.ip_range ?? "auto" }
        if let vpc {
            resources.append(ObservedResource(address: .network, kind: .network, providerID: vpc.id,
                                              attributes: ["region": vpc.region ?? "", "cidr": cidr ?? "auto"]))
        }
        if let firewall = firewalls.first(where: { $0.name == name }) {
            let attributes = FirewallRules.attributes(firewall.inbound_rules ?? []) { range in
                // A VPC whose range DigitalOcean chose is `auto` in the spec.
                "all from " + (range == vpc?.ip_range && cidr == "auto" ? "auto" : range)
            }
            resources.append(ObservedResource(address: .firewall, kind: .firewall, providerID: firewall.id, attributes: attributes))
        }
        let keyName = "\(scope.project)-\(scope.environment)"
        if let key = keys.first(where: { $0.name == keyName }) {
            resources.append(ObservedResource(address: .sshKey, kind: .sshKey, providerID: String(key.id),
                                              attributes: ["name": key.name, "public_key": DesiredStateBuilder.fingerprint(ofPublicKey: key.public_key)]))
        } else if let publicKey, let key = keys.first(where: { Naming.sameKey($0.public_key, publicKey) }) {
            // The project's key, registered by hand under another name: used as it is, never renamed or deleted.
            resources.append(ObservedResource(address: .sshKey, kind: .sshKey, providerID: String(key.id),
                                              attributes: ["name": keyName, "public_key": DesiredStateBuilder.fingerprint(ofPublicKey: key.public_key)],
                                              details: ["shared": "true", "registered_as": key.name]))
        }
        var dropletAddresses: [Int: ResourceAddress] = [:]
        for droplet in droplets {
            guard droplet.tags?.contains(Naming.scopeTag(scope)) ?? false, let address = Naming.address(ofDroplet: droplet.name, scope: scope) else { continue }
            dropletAddresses[droplet.id] = address
            var attributes: Attributes = ["size": droplet.size_slug ?? "", "region": droplet.region?.slug ?? ""]
            // A retired image has no slug any more; the state's value stands rather than a replacement.
            if let image = droplet.image?.slug { attributes["image"] = image }
            attributes["network"] = droplet.vpc_uuid == vpc?.id ? cidr ?? "auto" : "vpc " + (droplet.vpc_uuid ?? "none")
            resources.append(ObservedResource(address: address, kind: .node, providerID: String(droplet.id),
                                              status: droplet.status == "active" ? .ready : .pending, attributes: attributes,
                                              details: Self.details(of: droplet)))
        }
        for volume in volumes {
            guard volume.tags?.contains(Naming.scopeTag(scope)) ?? false, let address = ResourceTags.address(in: volume.tags ?? []) else { continue }
            let attached = volume.droplet_ids?.first
            var resource = ObservedResource(address: address, kind: .volume, providerID: volume.id, attributes: [
                "size_gib": String(volume.size_gigabytes), "region": volume.region?.slug ?? "",
                "node": attached.flatMap { dropletAddresses[$0]?.rawValue } ?? (attached.map { "droplet \($0)" } ?? ""),
            ])
            if let attached { resource.details["droplet_id"] = String(attached) }
            // DigitalOcean attaches a volume as a SCSI disk named after the volume.
            resource.details[VolumeMount.deviceDetail] = "/dev/disk/by-id/scsi-0DO_Volume_\(volume.name)"
            resources.append(resource)
        }
        return resources
    }

    static func details(of droplet: DO.Droplet) -> [String: String] {
        var details: [String: String] = [:]
        if let address = droplet.address(type: "public") { details["public_ipv4"] = address }
        if let address = droplet.address(type: "private") { details["private_ipv4"] = address }
        return details
    }
}

/// DigitalOcean's refusals, in words that say what to do.
enum DigitalOceanErrors {
    static func explain(_ failure: HTTPFailure, doing: String?) -> ProviderError {
        let what = "digitalocean: " + (doing.map { "\($0): " } ?? "")
        let said = [failure.errorID, failure.message].compactMap { $0 }.joined(separator: ": ")
        let request = failure.requestID.map { " (request id \($0))" } ?? ""
        let call = "\(failure.method) \(failure.path)"
        switch failure.reason {
        case .timeout:
            return ProviderError(.unavailable, "\(what)\(call) got no answer in time", fix: "check the network and status.digitalocean.com, then run again")
        case .connection(let detail):
            return ProviderError(.unavailable, "\(what)\(call) could not reach the API (\(detail))",
                                 fix: "check the network, and provider.endpoint if the environment sets one")
        case .status(let status):
            let message = "\(what)\(call) answered \(status)\(said.isEmpty ? "" : " \(said)")\(request)"
            let lower = said.lowercased()
            switch status {
            case 401:
                return ProviderError(.unauthorized, message, fix: "DIGITALOCEAN_TOKEN (or the environment's provider.token) holds no valid token: create one with read and write scope at cloud.digitalocean.com/account/api/tokens", nothingWasDone: true)
            case 403:
                return ProviderError(.unauthorized, message, fix: "the token lacks a scope this needs: give it read and write scope", nothingWasDone: true)
            case 404:
                return ProviderError(.notFound, message, fix: "it was deleted outside kryoform: run kryoform plan to see what exists", nothingWasDone: true)
            case 429:
                return ProviderError(.throttled, message, fix: "DigitalOcean allows 250 requests a minute and 5,000 an hour per token; wait for the limit to reset, or lower --parallelism",
                                     retryAfter: failure.retryAfter, nothingWasDone: true)
            case 422 where lower.contains("size") && (lower.contains("region") || lower.contains("not available")):
                return ProviderError(.invalidRequest, message, fix: "choose a size offered in the environment's region (kryoform capacity lists them), or another region", nothingWasDone: true)
            case 422 where lower.contains("limit") || lower.contains("exceed") || lower.contains("quota"):
                return ProviderError(.quota, message, fix: "the account's droplet or volume limit is reached: ask DigitalOcean support to raise it, or plan fewer nodes", nothingWasDone: true)
            case 400..<500:
                return ProviderError(.invalidRequest, message, nothingWasDone: true)
            default:
                return ProviderError(.unavailable, message, fix: "DigitalOcean is failing; run again later (status.digitalocean.com)")
            }
        }
    }
}

extension ProviderError {
    /// The same failure, after a request that may have made something: not to be sent again in
    /// this run (the next run finds what exists by its tags and names).
    var afterSomethingMayHaveHappened: ProviderError {
        var error = self
        error.nothingWasDone = false
        error.retryAfter = nil
        if !error.message.contains("the next run") { error.message += "; the next run adopts whatever was made" }
        return error
    }
}
