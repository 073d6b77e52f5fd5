import Crypto
import Foundation
import Spec

/// Everything an environment asks for, as resources with addresses and dependencies.
public struct DesiredState: Hashable, Sendable {
    public var project: String
    public var environment: String
    public var provider: String
    public var region: String
    /// Sorted by address.
    public var resources: [DesiredResource]
    /// Values a create needs that are not compared (a public key's text), by address.
    public var inputs: [ResourceAddress: [String: String]]

    public func resource(_ address: ResourceAddress) -> DesiredResource? {
        resources.first { $0.address == address }
    }
}

/// Derives the desired resources of a validated environment.
public struct DesiredStateBuilder {
    public var project: String
    public var environment: Environment
    /// The environment's deployable stacks, pins and overrides applied.
    public var stacks: [Stack]
    public var catalog: Catalog
    /// The project's public SSH key (`ssh-ed25519 AAAA… comment`), put on every node.
    /// Empty when the key is not made yet (a plan from a command that writes no file).
    public var publicKey: String
    /// Every key cloud nodes trust (each operator's and the pipeline's), `publicKey` among them.
    public var authorizedKeys: [String]

    /// What a plan shows for a key that apply has yet to make.
    public static let keyMadeByApply = "(made by apply)"

    public init(project: String, environment: Environment, stacks: [Stack], catalog: Catalog, publicKey: String,
                authorizedKeys: [String] = []) {
        self.project = project
        self.environment = environment
        self.stacks = stacks
        self.catalog = catalog
        self.publicKey = publicKey
        self.authorizedKeys = authorizedKeys.isEmpty && !publicKey.isEmpty ? [publicKey] : authorizedKeys
    }

    /// The desired state, or the problems (each located in the environment's file) that prevent it.
    public func build() -> Result<DesiredState, DesiredStateError> {
        var problems: [Diagnostic] = []
        let region = environment.provider.region ?? catalog.defaultRegion
        if catalog.region(region) == nil {
            problems.append(.error("\(catalog.provider) has no region '\(region)'",
                                   at: environment.source.location(of: "provider.region"),
                                   fix: Suggestion.didYouMean(region, in: catalog.regions.map(\.slug))
                                       ?? "regions: " + catalog.regions.map(\.slug).joined(separator: ", ")))
        }
        var resources: [DesiredResource] = []
        var volumesByName: [String: [(address: ResourceAddress, roles: [String])]] = [:]
        var members: [(address: ResourceAddress, roles: [String])] = []
        if environment.provider.name == .static {
            // Existing hosts: nothing to create at a provider; kryoform configures them.
            members = environment.provider.hosts.map { (ResourceAddress.node(host: $0.name), $0.roles) }
        } else {
            resources = cloudResources(region: region, problems: &problems, members: &members, volumesByName: &volumesByName)
        }
        if !members.isEmpty {
            resources.append(Self.swarm(members: members, dependsOn: environment.provider.name == .static ? [] : members.map(\.address)))
        }
        let deployed = Set(stacks.filter(\.deploysSomething).map(\.name))
        for stack in stacks where stack.deploysSomething {
            let volumes = stack.volumes.flatMap { volume in
                (volumesByName[volume.name] ?? []).filter { $0.roles.contains(stack.role) }.map(\.address)
            }
            let dependencies = [ResourceAddress.swarm] + stack.dependsOn.filter(deployed.contains).sorted().map(ResourceAddress.stack) + volumes
            resources.append(DesiredResource(address: .stack(stack.name), kind: .stack, attributes: stackAttributes(stack), dependsOn: dependencies))
        }
        guard problems.isEmpty else { return .failure(DesiredStateError(diagnostics: problems)) }
        return .success(DesiredState(
            project: project, environment: environment.name, provider: catalog.provider, region: region,
            resources: resources.sorted { $0.address < $1.address }, inputs: inputs(resources)))
    }

    /// What creates need beyond the compared attributes: the key's text, and the keys each
    /// cloud node is to trust.
    private func inputs(_ resources: [DesiredResource]) -> [ResourceAddress: [String: String]] {
        var inputs: [ResourceAddress: [String: String]] = [.sshKey: ["public_key": publicKey]]
        guard !authorizedKeys.isEmpty else { return inputs }
        for resource in resources where resource.kind == .node {
            inputs[resource.address] = [ResourceRequest.authorizedKeysInput: authorizedKeys.joined(separator: "\n")]
        }
        return inputs
    }

    /// The network, firewall, key, nodes and volumes a cloud provider makes.
    private func cloudResources(region: String, problems: inout [Diagnostic], members: inout [(address: ResourceAddress, roles: [String])],
                                volumesByName: inout [String: [(address: ResourceAddress, roles: [String])]]) -> [DesiredResource] {
        let image = environment.provider.image ?? catalog.defaultImage
        let cidr = environment.network.cidr?.description ?? "auto"
        var resources: [DesiredResource] = [
            DesiredResource(address: .network, kind: .network, attributes: ["region": region, "cidr": cidr]),
            DesiredResource(address: .firewall, kind: .firewall, attributes: firewallAttributes(cidr: cidr), dependsOn: [.network]),
            DesiredResource(address: .sshKey, kind: .sshKey, attributes: [
                "name": "\(project)-\(environment.name)", "public_key": publicKey.isEmpty ? Self.keyMadeByApply : Self.fingerprint(ofPublicKey: publicKey),
            ]),
        ]
        for cluster in environment.clusters {
            let sizePath = ModelPath("clusters").key(cluster.name).key("size")
            let choice: SizeResolver.Choice
            switch SizeResolver.resolve(cluster.size, region: region, in: catalog) {
            case .success(let chosen): choice = chosen
            case .failure(let problem):
                problems.append(.error("cluster \(cluster.name): \(problem.message)", at: environment.source.location(of: sizePath), fix: problem.fix))
                continue
            }
            for index in 1...max(cluster.nodes, 1) where cluster.nodes > 0 {
                let address = ResourceAddress.node(cluster: cluster.name, index: index)
                members.append((address, cluster.roles))
                var attributes: Attributes = [
                    "size": choice.offering.slug, "region": region, "image": image, "network": cidr,
                    "roles": cluster.roles.sorted().joined(separator: ","),
                ]
                let diskGiB = catalog.nodeDiskGiB(for: cluster.size.disk)
                if let diskGiB { attributes["disk_gib"] = String(diskGiB) }
                if !cluster.labels.isEmpty {
                    attributes["labels"] = cluster.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                }
                resources.append(DesiredResource(
                    address: address, kind: .node, attributes: attributes, dependsOn: [.network, .firewall, .sshKey],
                    notes: ["size": "\(choice.offering.summary), \(Money.format(catalog.nodePrice(choice.offering, diskGiB: diskGiB), currency: catalog.currency))/mo; \(choice.reason)"]))
                for volume in cluster.volumes {
                    let volumeAddress = ResourceAddress.volume(cluster: cluster.name, index: index, name: volume.name)
                    let gibibytes = Int((volume.size.gibibytes).rounded(.up))
                    volumesByName[volume.name, default: []].append((volumeAddress, cluster.roles))
                    var volumeAttributes: Attributes = ["size_gib": String(gibibytes), "region": region, "node": address.rawValue]
                    // On a cloud whose nodes kryoform configures, the volume is mounted on its node too.
                    if environment.configuresNodes && environment.provider.name != .sandbox {
                        volumeAttributes[VolumeMount.attribute] = VolumeMount.mountPoint(volume.name)
                    }
                    resources.append(DesiredResource(
                        address: volumeAddress, kind: .volume,
                        attributes: volumeAttributes,
                        dependsOn: [address],
                        notes: ["size_gib": "\(Money.format(Double(gibibytes) * catalog.volumePricePerGiB, currency: catalog.currency))/mo"]))
                }
            }
        }
        return resources
    }

    /// One swarm of every node: managers are the first three (or the first one, with fewer than
    /// three) of the management nodes, or of all nodes where none manages.
    static func swarm(members: [(address: ResourceAddress, roles: [String])], dependsOn: [ResourceAddress]) -> DesiredResource {
        let pool = members.filter { $0.roles.contains("management") }.map(\.address)
        let candidates = pool.isEmpty ? members.map(\.address) : pool
        let managers = Array(candidates.prefix(candidates.count >= 3 ? 3 : 1))
        let workers = members.map(\.address).filter { !managers.contains($0) }
        let attributes: Attributes = [
            "managers": managers.sorted().map(\.rawValue).joined(separator: ","),
            "workers": workers.sorted().map(\.rawValue).joined(separator: ","),
            "roles": members.sorted { $0.address < $1.address }.map { "\($0.address)=\($0.roles.sorted().joined(separator: ","))" }.joined(separator: " "),
        ]
        return DesiredResource(address: .swarm, kind: .swarm, attributes: attributes, dependsOn: dependsOn)
    }

    private func firewallAttributes(cidr: String) -> Attributes {
        var attributes: Attributes = [:]
        let clauses = environment.network.firewall.map { rule in
            FirewallClause(proto: rule.protocol.rawValue, ports: rule.ports.map(\.description), sources: rule.from.map(\.description))
        }
        attributes["inbound"] = FirewallClause.text(FirewallClause.merged(clauses))
        attributes["internal"] = "all from \(cidr)"
        return attributes
    }

    private func stackAttributes(_ stack: Stack) -> Attributes {
        var attributes: Attributes = [
            "image": stack.imageReference ?? "",
            "mode": stack.mode.rawValue,
            "role": stack.role,
            "reserve": "cpu=\(stack.resources.cpu),memory=\(stack.resources.memory)" + (stack.resources.gpu > 0 ? ",gpu=\(stack.resources.gpu)" : ""),
        ]
        if stack.mode == .replicated { attributes["replicas"] = String(stack.replicas) }
        if let limits = stack.limits { attributes["limit"] = "cpu=\(limits.cpu),memory=\(limits.memory)" }
        if !stack.ports.isEmpty {
            attributes["ports"] = stack.ports.map { port in
                (port.published.map { "\($0):" } ?? "") + "\(port.target)/\(port.protocol.rawValue)"
            }.joined(separator: ",")
        }
        if !stack.routes.isEmpty {
            attributes["routes"] = stack.routes.map { "\($0.hostName(domain: environment.domain))\($0.path)→\($0.port)" }.joined(separator: ",")
        }
        if !stack.secrets.isEmpty { attributes["secrets"] = stack.secrets.sorted().joined(separator: ",") }
        if !stack.volumes.isEmpty { attributes["volumes"] = stack.volumes.map { "\($0.name):\($0.path)" }.joined(separator: ",") }
        if let binding = VolumeBinding.of(stack, in: environment) { attributes["placement"] = binding.summary }
        // Everything else that shapes the deployment, as a digest: a change redeploys.
        var rest = "command=\(stack.command ?? [])\n"
        for (key, value) in stack.environment.sorted(by: { $0.key < $1.key }) { rest += "env \(key)=\(value)\n" }
        if let health = stack.health { rest += "health=\(health.command) \(health.interval) \(health.timeout) \(health.retries)\n" }
        attributes["config"] = String(ContentHash.sha256(rest).prefix(12))
        return attributes
    }

    /// `SHA256:…` of an OpenSSH public key line, as `ssh-keygen -l` prints it.
    public static func fingerprint(ofPublicKey line: String) -> String {
        let fields = line.split(separator: " ")
        guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) else { return "invalid key" }
        let digest = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + digest.replacingOccurrences(of: "=", with: "")
    }
}

/// SHA-256 as lowercase hex.
public enum ContentHash {
    public static func sha256(_ text: String) -> String {
        sha256(Data(text.utf8))
    }

    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
