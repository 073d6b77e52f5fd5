import Foundation
import Planner

/// What one host says about itself in one round trip: OS, Docker, its swarm membership and, on a
/// manager, the swarm's nodes and the services kryoform deployed.
public struct NodeFacts: Hashable, Sendable {
    public enum Docker: Hashable, Sendable {
        case missing
        /// Installed, but the engine does not answer this user (not running, or no permission).
        case unreachable(String)
        case running(version: String)
    }

    public var os: String?
    public var userID: Int?
    public var hostname: String?
    public var docker: Docker
    public var swarm: SwarmMembership?
    /// Present when the host is a manager.
    public var cluster: ClusterFacts?
    /// The cluster volumes mounted on the host (the names under `/mnt/kryoform`).
    public var mounts: [String] = []

    public var isRoot: Bool { userID == 0 }

    public init(os: String?, userID: Int?, hostname: String?, docker: Docker, swarm: SwarmMembership? = nil, cluster: ClusterFacts? = nil) {
        self.os = os
        self.userID = userID
        self.hostname = hostname
        self.docker = docker
        self.swarm = swarm
        self.cluster = cluster
    }
}

/// The host engine's place in a swarm (`docker info` `.Swarm`).
public struct SwarmMembership: Hashable, Sendable, Decodable {
    /// `inactive`, `pending`, `active`, `error` or `locked`.
    public var state: String
    public var nodeID: String
    public var clusterID: String?
    public var isManager: Bool
    public var nodeAddress: String?
    public var error: String?

    public var isActive: Bool { state == "active" }

    enum CodingKeys: String, CodingKey {
        case state = "LocalNodeState", nodeID = "NodeID", cluster = "Cluster", isManager = "ControlAvailable", nodeAddress = "NodeAddr", error = "Error"
    }

    struct Cluster: Decodable {
        var ID: String?
    }

    public init(state: String, nodeID: String, clusterID: String?, isManager: Bool, nodeAddress: String? = nil, error: String? = nil) {
        self.state = state
        self.nodeID = nodeID
        self.clusterID = clusterID
        self.isManager = isManager
        self.nodeAddress = nodeAddress
        self.error = error
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        state = try container.decodeIfPresent(String.self, forKey: .state) ?? "inactive"
        nodeID = try container.decodeIfPresent(String.self, forKey: .nodeID) ?? ""
        clusterID = try container.decodeIfPresent(Cluster.self, forKey: .cluster)?.ID.flatMap { $0.isEmpty ? nil : $0 }
        isManager = try container.decodeIfPresent(Bool.self, forKey: .isManager) ?? false
        nodeAddress = try container.decodeIfPresent(String.self, forKey: .nodeAddress)
        error = try container.decodeIfPresent(String.self, forKey: .error).flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// What a manager knows of the whole swarm.
public struct ClusterFacts: Hashable, Sendable {
    public var nodes: [SwarmNode]
    public var services: [DeployedService]

    /// The services of each stack kryoform deployed, by stack name.
    public var stacks: [String: [DeployedService]] {
        Dictionary(grouping: services.filter { $0.stack != nil }, by: { $0.stack ?? "" })
    }
}

/// One node as `docker node inspect` shows it.
public struct SwarmNode: Hashable, Sendable, Decodable {
    public var id: String
    public var hostname: String
    /// `manager` or `worker`.
    public var role: String
    /// `ready`, `down`, `unknown`, `disconnected`.
    public var state: String
    public var labels: [String: String]
    public var address: String?

    enum CodingKeys: String, CodingKey { case ID, Spec, Description, Status }
    struct Spec: Decodable {
        var Labels: [String: String]?
        var Role: String?
    }
    struct Description: Decodable { var Hostname: String? }
    struct Status: Decodable {
        var State: String?
        var Addr: String?
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .ID)
        let spec = try container.decodeIfPresent(Spec.self, forKey: .Spec)
        labels = spec?.Labels ?? [:]
        role = spec?.Role ?? "worker"
        hostname = try container.decodeIfPresent(Description.self, forKey: .Description)?.Hostname ?? ""
        let status = try container.decodeIfPresent(Status.self, forKey: .Status)
        state = status?.State ?? "unknown"
        address = status?.Addr
    }
}

/// One service kryoform deployed, as a manager reports it.
public struct DeployedService: Hashable, Sendable {
    public var name: String
    public var labels: [String: String]
    /// The image without the digest Docker pins (`kryoform/busybox:1`).
    public var image: String
    /// nil for a global service.
    public var replicas: Int?
    /// Tasks running now, from `docker service ls` (`2/3` → 2).
    public var running: Int?

    /// The Docker secrets its tasks get.
    public var secretNames: [String] = []
    /// The last rolling update's state (`updating`, `completed`, `rollback_completed`, ...) and
    /// message; nil for a service never updated.
    public var updateState: String?
    public var updateMessage: String?

    public var stack: String? { labels[ServiceLabel.stack] }

    public init(name: String, labels: [String: String], image: String, replicas: Int?, running: Int?) {
        self.name = name
        self.labels = labels
        self.image = image
        self.replicas = replicas
        self.running = running
    }

    /// `docker service inspect` of one service.
    struct Inspection: Decodable {
        var Spec: Spec
        var UpdateStatus: UpdateStatus?
        struct UpdateStatus: Decodable {
            var State: String?
            var Message: String?
        }
    }

    struct Spec: Decodable {
        var Name: String
        var Labels: [String: String]?
        var TaskTemplate: TaskTemplate?
        var Mode: Mode?
        struct TaskTemplate: Decodable { var ContainerSpec: ContainerSpec? }
        struct ContainerSpec: Decodable {
            var Image: String?
            var Secrets: [SecretReference]?
        }
        struct SecretReference: Decodable { var SecretName: String? }
        struct Mode: Decodable { var Replicated: Replicated? }
        struct Replicated: Decodable { var Replicas: Int? }
    }
}

/// The facts script and the reader of its output.
public enum NodeFactsScript {
    /// A POSIX shell script printing sections `@@name` then their lines. Every command is a read.
    public static func script(project: String, environment: String) -> String {
        let filter = "--filter label=\(ServiceLabel.project)=\(shellQuote(project)) --filter label=\(ServiceLabel.environment)=\(shellQuote(environment))"
        return """
        export LC_ALL=C
        echo "@@os"; ( . /etc/os-release 2>/dev/null && echo "$ID $VERSION_ID" )
        echo "@@uid"; id -u
        echo "@@hostname"; hostname
        echo "@@mounts"; cut -d ' ' -f 2 /proc/mounts 2>/dev/null | grep '^/mnt/kryoform/[^/]*$' || true
        if ! command -v docker >/dev/null 2>&1; then echo "@@docker-missing"; exit 0; fi
        echo "@@docker"; docker version --format '{{.Server.Version}}' 2>&1 | head -n 3
        echo "@@swarm"; docker info --format '{{json .Swarm}}' 2>/dev/null
        if [ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = "true" ]; then
          echo "@@nodes"; docker node ls -q | xargs -r docker node inspect --format '{{json .}}'
          echo "@@services"; docker service ls -q \(filter) | xargs -r docker service inspect --format '{{json .}}'
          echo "@@replicas"; docker service ls \(filter) --format '{{.Name}} {{.Replicas}}'
        fi
        echo "@@end"
        """
    }

    /// Reads the script's output. Throws when the output was cut short.
    public static func parse(_ output: String) throws -> NodeFacts {
        var sections: [String: [String]] = [:]
        var current: String?
        for line in output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("@@") {
                current = String(line.dropFirst(2))
                sections[current ?? "", default: []] = []
            } else if let current {
                sections[current, default: []].append(line)
            }
        }
        guard sections["end"] != nil || sections["docker-missing"] != nil else {
            throw FactsError(message: "the facts script's output ended early")
        }
        func text(_ name: String) -> String? {
            let value = (sections[name] ?? []).joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            return value.isEmpty ? nil : value
        }
        var facts = NodeFacts(os: text("os"), userID: text("uid").flatMap { Int($0) }, hostname: text("hostname"), docker: .missing)
        let mountRoot = VolumeMount.mountPoint("")
        facts.mounts = (sections["mounts"] ?? []).filter { $0.hasPrefix(mountRoot) }.map { String($0.dropFirst(mountRoot.count)) }.sorted()
        guard sections["docker-missing"] == nil else { return facts }
        let version = text("docker") ?? ""
        let decoder = JSONDecoder()
        if version.range(of: #"^[0-9]+\.[0-9]+"#, options: .regularExpression) != nil {
            facts.docker = .running(version: version)
        } else {
            facts.docker = .unreachable(version.isEmpty ? "the Docker engine did not answer" : version)
            return facts
        }
        if let swarm = text("swarm") {
            facts.swarm = try? decoder.decode(SwarmMembership.self, from: Data(swarm.utf8))
        }
        guard sections["nodes"] != nil else { return facts }
        let nodes = (sections["nodes"] ?? []).filter { !$0.isEmpty }.compactMap { try? decoder.decode(SwarmNode.self, from: Data($0.utf8)) }
        var running: [String: Int] = [:]
        for line in sections["replicas"] ?? [] {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let count = fields[1].split(separator: "/").first.flatMap({ Int($0) }) else { continue }
            running[String(fields[0])] = count
        }
        let services = (sections["services"] ?? []).filter { !$0.isEmpty }.compactMap { line -> DeployedService? in
            guard let inspection = try? decoder.decode(DeployedService.Inspection.self, from: Data(line.utf8)) else { return nil }
            let spec = inspection.Spec
            let container = spec.TaskTemplate?.ContainerSpec
            var service = DeployedService(name: spec.Name, labels: spec.Labels ?? [:], image: String((container?.Image ?? "").split(separator: "@").first ?? ""),
                                          replicas: spec.Mode?.Replicated?.Replicas, running: running[spec.Name])
            service.secretNames = (container?.Secrets ?? []).compactMap(\.SecretName).sorted()
            service.updateState = inspection.UpdateStatus?.State
            service.updateMessage = inspection.UpdateStatus?.Message
            return service
        }
        facts.cluster = ClusterFacts(nodes: nodes, services: services)
        return facts
    }
}

struct FactsError: Error {
    var message: String
}

/// `text` quoted for a POSIX shell.
public func shellQuote(_ text: String) -> String {
    if !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@".contains($0) }), text.allSatisfy(\.isASCII) {
        return text
    }
    return "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
}
