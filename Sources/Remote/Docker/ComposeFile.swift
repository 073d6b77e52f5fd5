import Crypto
import Foundation
import Planner
import Spec
import Yams

/// One stack as kryoform deploys it on a swarm: the inventory entry with the environment's
/// pins and overrides applied, and what the environment adds (network, domain, secret names).
public struct StackDeployment: Hashable, Sendable {
    public var stack: Stack
    public var project: String
    public var environment: String
    /// The overlay network every stack of the environment joins.
    public var network: String
    /// The domain route hosts without a dot are prefixed to.
    public var domain: String?
    /// Each secret the stack names → the Docker secret holding its value (`<stack>_<secret>_<hash>`).
    public var secretNames: [String: String]
    /// The attributes kryoform compares for this stack; recorded on the service so observation
    /// reads back exactly what was deployed.
    public var attributes: [String: String]
    /// The stack's volumes that are cluster volumes, bound to their mounts, and where that places it.
    public var binding: VolumeBinding?

    public init(stack: Stack, project: String, environment: String, network: String, domain: String?,
                secretNames: [String: String], attributes: [String: String], binding: VolumeBinding? = nil) {
        self.binding = binding
        self.stack = stack
        self.project = project
        self.environment = environment
        self.network = network
        self.domain = domain
        self.secretNames = secretNames
        self.attributes = attributes
    }

    /// The name of the Docker secret for `secret` holding `value`: a new value is a new secret,
    /// so a changed secret redeploys the stack and a task never sees a half-rotated value.
    public static func secretName(stack: String, secret: String, value: Data) -> String {
        var hash = SHA256()
        hash.update(data: Data("kryoform-secret\u{0}\(stack)\u{0}\(secret)\u{0}".utf8))
        hash.update(data: value)
        let digest = hash.finalize().map { String(format: "%02x", $0) }.joined()
        return "\(stack)_\(secret)_\(digest.prefix(12))"
    }
}

/// Service labels kryoform puts on what it deploys, and reads back as facts.
public enum ServiceLabel {
    public static let project = "kryoform.project"
    public static let environment = "kryoform.environment"
    public static let stack = "kryoform.stack"
    /// The compared attributes as base64 JSON.
    public static let attributes = "kryoform.attributes"
    /// SHA-256 of the Compose file that deployed the service (without this label).
    public static let composeHash = "kryoform.compose-hash"
    /// The node a stack is held to by the cluster volume its data is on. Drains and joins do
    /// not wait for such a stack, which can run nowhere else; mounting its volume on the node
    /// that replaces its own does.
    public static let pinnedNode = "kryoform.volume-node"
}

/// Node labels kryoform puts on swarm nodes.
public enum NodeLabel {
    /// Every role of the node, comma-separated (`data`, or `application,data`).
    public static let roles = "kryoform.role"
    /// `kryoform.role.<role>=true`: what placement constraints test, so a node with several
    /// roles takes the stacks of each.
    public static func role(_ role: String) -> String { "kryoform.role.\(role)" }

    /// `kryoform.volume.<name>=true`: the cluster volume `name` is mounted on the node.
    public static func volume(_ name: String) -> String { "kryoform.volume.\(name)" }

    /// The labels a node with `roles` carries.
    public static func labels(roles: [String]) -> [String: String] {
        var labels = [Self.roles: roles.sorted().joined(separator: ",")]
        for name in roles { labels[role(name)] = "true" }
        return labels
    }
}

/// The Compose file (version 3.8) that `docker stack deploy` takes for one stack.
public struct ComposeFile: Hashable, Sendable {
    /// The YAML text.
    public var text: String
    /// SHA-256 of the file without its own hash label, as the services record it.
    public var hash: String

    public init(_ deployment: StackDeployment) throws {
        var document = Self.escaped(Self.document(deployment, composeHash: nil))
        let unlabelled = try Yams.dump(object: document, width: -1, sortKeys: true)
        let hash = SHA256.hash(data: Data(unlabelled.utf8)).map { String(format: "%02x", $0) }.joined()
        document = Self.escaped(Self.document(deployment, composeHash: hash))
        self.text = "# Written by kryoform for stack \(deployment.stack.name) of \(deployment.project)/\(deployment.environment); "
            + "kryoform apply rewrites it.\n" + (try Yams.dump(object: document, width: -1, sortKeys: true))
        self.hash = hash
    }

    static func document(_ deployment: StackDeployment, composeHash: String?) -> [String: Any] {
        let stack = deployment.stack
        var service: [String: Any] = ["image": stack.imageReference ?? stack.name, "networks": [deployment.network]]
        if let command = stack.command { service["command"] = command }
        if !stack.environment.isEmpty {
            service["environment"] = stack.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        }
        if let health = stack.health {
            var check: [String: Any] = [
                "test": ["CMD", "CMD-SHELL", "NONE"].contains(health.command.first ?? "") ? health.command : ["CMD"] + health.command,
                "interval": duration(health.interval), "timeout": duration(health.timeout),
                "retries": health.retries,
            ]
            if let start = health.startPeriod { check["start_period"] = duration(start) }
            service["healthcheck"] = check
        }
        let published = stack.ports.filter { $0.published != nil }
        if !published.isEmpty {
            service["ports"] = published.map { port -> [String: Any] in
                ["target": port.target, "published": port.published ?? port.target, "protocol": port.protocol.rawValue, "mode": "ingress"]
            }
        }
        let bound = Set(deployment.binding?.volumes ?? [])
        if !stack.volumes.isEmpty {
            service["volumes"] = stack.volumes.map { volume -> Any in
                guard bound.contains(volume.name) else { return "\(volume.name):\(volume.path)" }
                return ["type": "bind", "source": VolumeMount.dataPath(volume.name), "target": volume.path] as [String: Any]
            }
        }
        if !stack.secrets.isEmpty {
            service["secrets"] = stack.secrets.sorted().map { secret -> [String: Any] in
                ["source": deployment.secretNames[secret] ?? secret, "target": secret]
            }
        }
        var constraints = ["node.labels.\(NodeLabel.role(stack.role)) == true"]
        var placement: [String: Any] = [:]
        if let binding = deployment.binding {
            // Only where the volume is mounted; a stack of one task on the one node that holds
            // its data, others one task a node (each on that node's volume).
            constraints += binding.volumes.map { "node.labels.\(NodeLabel.volume($0)) == true" }
            if let pinned = binding.pinnedNode {
                constraints.append("node.labels.\(NodeLabel.address) == \(pinned)")
            } else if stack.mode == .replicated {
                placement["max_replicas_per_node"] = 1
            }
        }
        placement["constraints"] = constraints
        var deploy: [String: Any] = [
            "mode": stack.mode.rawValue,
            "placement": placement,
            "labels": labels(deployment, composeHash: composeHash),
            "restart_policy": ["condition": "any", "delay": "5s"],
            "update_config": ["parallelism": 1, "failure_action": "rollback", "order": "start-first"],
        ]
        if stack.mode == .replicated { deploy["replicas"] = stack.replicas }
        var resources: [String: Any] = [:]
        var reservation = amounts(stack.resources) ?? [:]
        if stack.resources.gpu > 0 { reservation["generic_resources"] = gpuReservation(stack.resources.gpu) }
        if !reservation.isEmpty { resources["reservations"] = reservation }
        if let limits = stack.limits, let limit = amounts(limits) { resources["limits"] = limit }
        if !resources.isEmpty { deploy["resources"] = resources }
        service["deploy"] = deploy

        var document: [String: Any] = [
            "version": "3.8",
            "services": [stack.name: service],
            "networks": [deployment.network: ["external": true, "name": deployment.network]],
        ]
        let named = stack.volumes.filter { !bound.contains($0.name) }
        if !named.isEmpty {
            document["volumes"] = Dictionary(named.map { ($0.name, [String: Any]()) }, uniquingKeysWith: { first, _ in first })
        }
        if !stack.secrets.isEmpty {
            document["secrets"] = Dictionary(uniqueKeysWithValues: stack.secrets.map { secret in
                (deployment.secretNames[secret] ?? secret, ["external": true] as [String: Any])
            })
        }
        return document
    }

    /// The service's labels: kryoform's own, and Traefik's for each route.
    static func labels(_ deployment: StackDeployment, composeHash: String?) -> [String] {
        let stack = deployment.stack
        var labels = [
            "\(ServiceLabel.project)=\(deployment.project)",
            "\(ServiceLabel.environment)=\(deployment.environment)",
            "\(ServiceLabel.stack)=\(stack.name)",
            "\(ServiceLabel.attributes)=\(encodeAttributes(deployment.attributes))",
        ]
        if let composeHash { labels.append("\(ServiceLabel.composeHash)=\(composeHash)") }
        if let pinned = deployment.binding?.pinnedNode { labels.append("\(ServiceLabel.pinnedNode)=\(pinned)") }
        if !stack.routes.isEmpty {
            labels.append("traefik.enable=true")
            labels.append("traefik.docker.network=\(deployment.network)")
            for (index, route) in stack.routes.enumerated() {
                let router = "\(stack.name)-\(index + 1)"
                var rule = "Host(`\(route.hostName(domain: deployment.domain))`)"
                if route.path != "/" && !route.path.isEmpty { rule += " && PathPrefix(`\(route.path)`)" }
                labels.append("traefik.http.routers.\(router).rule=\(rule)")
                labels.append("traefik.http.routers.\(router).service=\(router)")
                labels.append("traefik.http.services.\(router).loadbalancer.server.port=\(route.port)")
            }
        }
        return labels
    }

    /// Every string value with `$` written `$$`: `docker stack deploy` substitutes `$VAR` from the
    /// deploying user's environment, and a command or value must reach the service as written.
    static func escaped(_ value: [String: Any]) -> [String: Any] {
        value.mapValues(escapedValue)
    }

    static func escapedValue(_ value: Any) -> Any {
        switch value {
        case let text as String: return text.replacingOccurrences(of: "$", with: "$$")
        case let list as [Any]: return list.map(escapedValue)
        case let map as [String: Any]: return escaped(map)
        default: return value
        }
    }

    /// `cpus` and `memory` as Compose writes them; nil when nothing is set.
    static func amounts(_ resources: Resources) -> [String: Any]? {
        var amounts: [String: Any] = [:]
        if resources.cpu.millicores > 0 { amounts["cpus"] = resources.cpu.description }
        if resources.memory.bytes > 0 { amounts["memory"] = "\(max(resources.memory.bytes >> 20, 4))M" }
        return amounts.isEmpty ? nil : amounts
    }

    /// `gpu: N` as Swarm's generic resources: N of the discrete kind the nodes advertise
    /// (`EngineConfiguration.gpuKind`), so the scheduler places each task on a node with N free.
    static func gpuReservation(_ count: Int) -> [[String: Any]] {
        [["discrete_resource_spec": ["kind": EngineConfiguration.gpuKind, "value": count] as [String: Any]]]
    }

    static func duration(_ interval: Interval) -> String {
        interval.milliseconds % 1000 == 0 ? "\(interval.milliseconds / 1000)s" : "\(interval.milliseconds)ms"
    }

    /// The compared attributes as one label value: base64 of sorted-key JSON.
    public static func encodeAttributes(_ attributes: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ((try? encoder.encode(attributes)) ?? Data("{}".utf8)).base64EncodedString()
    }

    public static func decodeAttributes(_ label: String) -> [String: String]? {
        guard let data = Data(base64Encoded: label) else { return nil }
        return try? JSONDecoder().decode([String: String].self, from: data)
    }
}
