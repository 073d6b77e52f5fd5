import Foundation
import Remote
import Spec
import Testing
import Yams

/// The lab example's stacks, loaded as kryoform loads them.
enum LabSpecs {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func stack(_ name: String, project: String = "examples/lab", environment: String = "lab") throws -> Stack {
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root.appendingPathComponent(project))).load()
        let env = try #require(specs.environment(named: environment))
        return try #require(specs.stacks(in: env).first { $0.name == name })
    }

    static func deployment(_ stack: Stack, secrets: [String: String] = [:]) -> StackDeployment {
        StackDeployment(stack: stack, project: "lab", environment: "lab", network: "kf-lab-lab", domain: "lab.localhost",
                        secretNames: secrets, attributes: ["image": stack.imageReference ?? "", "role": stack.role])
    }
}

@Suite("Compose files kryoform writes for docker stack deploy")
struct ComposeFileTests {
    @Test("a stack's Compose file carries image, replicas, placement by role label, reservations, secrets, network and kryoform's labels")
    func composeCarriesTheStack() throws {
        let stack = try LabSpecs.stack("api")
        let secret = StackDeployment.secretName(stack: "api", secret: "api_token", value: Data("s3cret".utf8))
        let compose = try ComposeFile(LabSpecs.deployment(stack, secrets: ["api_token": secret]))
        let document = try #require(try Yams.load(yaml: compose.text) as? [String: Any])
        #expect(document["version"] as? String == "3.8")
        let service = try #require((document["services"] as? [String: Any])?["api"] as? [String: Any])
        #expect(service["image"] as? String == "kryoform/busybox:1")
        #expect(service["networks"] as? [String] == ["kf-lab-lab"])
        #expect(service["environment"] as? [String] == ["API_MODE=lab"])
        let deploy = try #require(service["deploy"] as? [String: Any])
        #expect(deploy["replicas"] as? Int == 1)
        #expect((deploy["placement"] as? [String: Any])?["constraints"] as? [String] == ["node.labels.kryoform.role.application == true"])
        let reservations = try #require((deploy["resources"] as? [String: Any])?["reservations"] as? [String: Any])
        #expect(reservations["cpus"] as? String == "0.05")
        #expect(reservations["memory"] as? String == "16M")
        let labels = try #require(deploy["labels"] as? [String])
        #expect(labels.contains("kryoform.stack=api"))
        #expect(labels.contains("kryoform.compose-hash=\(compose.hash)"))
        let attributes = try #require(labels.first { $0.hasPrefix("kryoform.attributes=") }?.dropFirst("kryoform.attributes=".count))
        #expect(ComposeFile.decodeAttributes(String(attributes)) == ["image": "kryoform/busybox:1", "role": "application"])
        #expect(service["secrets"] as? [[String: String]] == [["source": secret, "target": "api_token"]])
        #expect((document["secrets"] as? [String: Any])?[secret] as? [String: Bool] == ["external": true])
        #expect(((document["networks"] as? [String: Any])?["kf-lab-lab"] as? [String: Any])?["external"] as? Bool == true)
        #expect(!compose.text.contains("s3cret"), "a secret's value never goes into the file")
    }

    @Test("the same stack gives the same file and hash; a new version gives another hash")
    func hashFollowsContent() throws {
        var stack = try LabSpecs.stack("web")
        let first = try ComposeFile(LabSpecs.deployment(stack))
        #expect(try ComposeFile(LabSpecs.deployment(stack)) == first)
        stack.version = "2"
        let second = try ComposeFile(LabSpecs.deployment(stack))
        #expect(second.hash != first.hash)
        #expect(second.text.contains("kryoform/busybox:2"))
    }

    @Test("routes become Traefik labels, published ports go through the routing mesh, a health check keeps its CMD")
    func routesPortsAndHealth() throws {
        let traefik = try LabSpecs.stack("traefik", project: ".", environment: "local")
        let compose = try ComposeFile(LabSpecs.deployment(traefik))
        let document = try #require(try Yams.load(yaml: compose.text) as? [String: Any])
        let service = try #require((document["services"] as? [String: Any])?["traefik"] as? [String: Any])
        let health = try #require(service["healthcheck"] as? [String: Any])
        #expect(health["test"] as? [String] == ["CMD", "traefik", "healthcheck", "--ping"])
        #expect(health["interval"] as? String == "10s")
        let ports = try #require(service["ports"] as? [[String: Any]])
        #expect(ports.compactMap { $0["published"] as? Int } == [80, 443])
        let labels = try #require((service["deploy"] as? [String: Any])?["labels"] as? [String])
        #expect(labels.contains("traefik.http.routers.traefik-1.rule=Host(`traefik.lab.localhost`)"))
        #expect(labels.contains("traefik.http.services.traefik-1.loadbalancer.server.port=8080"))
    }

    @Test("a dollar sign reaches the service as written: docker stack deploy would substitute $VAR")
    func dollarsAreEscaped() throws {
        var stack = try LabSpecs.stack("web")
        stack.command = ["sh", "-c", "echo $HOME ${X}"]
        stack.environment = ["PASSWORD_HINT": "pa$word"]
        let compose = try ComposeFile(LabSpecs.deployment(stack))
        let document = try #require(try Yams.load(yaml: compose.text) as? [String: Any])
        let service = try #require((document["services"] as? [String: Any])?["web"] as? [String: Any])
        #expect(service["command"] as? [String] == ["sh", "-c", "echo $$HOME $${X}"])
        #expect(service["environment"] as? [String] == ["PASSWORD_HINT=pa$$word"])
    }

    @Test("gpu: N reserves N NVIDIA-GPU generic resources, the discrete kind the nodes advertise; no GPU, no generic resources")
    func gpuReservation() throws {
        var stack = try LabSpecs.stack("api")
        stack.resources.gpu = 2
        let document = try #require(try Yams.load(yaml: try ComposeFile(LabSpecs.deployment(stack)).text) as? [String: Any])
        let deploy = try #require(((document["services"] as? [String: Any])?["api"] as? [String: Any])?["deploy"] as? [String: Any])
        let reservations = try #require((deploy["resources"] as? [String: Any])?["reservations"] as? [String: Any])
        let generic = try #require(reservations["generic_resources"] as? [[String: Any]])
        #expect(generic.count == 1)
        let spec = try #require(generic.first?["discrete_resource_spec"] as? [String: Any])
        #expect(spec["kind"] as? String == "NVIDIA-GPU" && spec["kind"] as? String == EngineConfiguration.gpuKind)
        #expect(spec["value"] as? Int == 2)
        #expect(reservations["cpus"] as? String == "0.05", "the CPU and memory reservations stay")

        stack.resources.gpu = 0
        let plain = try ComposeFile(LabSpecs.deployment(stack))
        #expect(!plain.text.contains("generic_resources"))
    }

    @Test("a global stack has no replica count; a secret's Docker name changes with its value")
    func globalModeAndSecretNames() throws {
        let agent = try LabSpecs.stack("agent")
        let document = try #require(try Yams.load(yaml: try ComposeFile(LabSpecs.deployment(agent)).text) as? [String: Any])
        let deploy = try #require(((document["services"] as? [String: Any])?["agent"] as? [String: Any])?["deploy"] as? [String: Any])
        #expect(deploy["mode"] as? String == "global")
        #expect(deploy["replicas"] == nil)
        let one = StackDeployment.secretName(stack: "api", secret: "api_token", value: Data("a".utf8))
        #expect(one == StackDeployment.secretName(stack: "api", secret: "api_token", value: Data("a".utf8)))
        #expect(one != StackDeployment.secretName(stack: "api", secret: "api_token", value: Data("b".utf8)))
        #expect(one.hasPrefix("api_api_token_") && one.count == "api_api_token_".count + 12)
    }
}

@Suite("Node facts, read in one round trip")
struct NodeFactsTests {
    static let managerOutput = """
    @@os
    debian 12
    @@uid
    1001
    @@hostname
    kfth1
    @@docker
    20.10.24+dfsg1
    @@swarm
    {"NodeID":"n1","NodeAddr":"10.231.0.2","LocalNodeState":"active","ControlAvailable":true,"Error":"","RemoteManagers":null,"Nodes":2,"Managers":1,"Cluster":{"ID":"c1","Version":{"Index":10}}}
    @@nodes
    {"ID":"n1","Spec":{"Labels":{"kryoform.node":"node.kfth1","kryoform.role":"management","kryoform.role.management":"true"},"Role":"manager","Availability":"active"},"Description":{"Hostname":"kfth1"},"Status":{"State":"ready","Addr":"10.231.0.2"}}
    {"ID":"n2","Spec":{"Labels":{},"Role":"worker","Availability":"active"},"Description":{"Hostname":"kfth2"},"Status":{"State":"ready","Addr":"10.231.0.3"}}
    @@services
    {"ID":"s1","Spec":{"Name":"web_web","Labels":{"kryoform.stack":"web","kryoform.compose-hash":"abc","kryoform.attributes":"\(ComposeFile.encodeAttributes(["image": "kryoform/busybox:1", "replicas": "2", "mode": "replicated"]))"},"TaskTemplate":{"ContainerSpec":{"Image":"kryoform/busybox:1@sha256:0123","Secrets":[{"File":{"Name":"token"},"SecretID":"x","SecretName":"web_token_0123456789ab"}]}},"Mode":{"Replicated":{"Replicas":3}}},"UpdateStatus":{"State":"rollback_completed","Message":"update rolled back due to failure"}}
    @@replicas
    web_web 1/3
    @@end
    """

    @Test("a manager's facts: OS, Docker, membership, nodes with labels, kryoform's services")
    func managerFacts() throws {
        let facts = try NodeFactsScript.parse(Self.managerOutput)
        #expect(facts.os == "debian 12")
        #expect(facts.userID == 1001 && !facts.isRoot)
        #expect(facts.docker == .running(version: "20.10.24+dfsg1"))
        #expect(facts.swarm == SwarmMembership(state: "active", nodeID: "n1", clusterID: "c1", isManager: true, nodeAddress: "10.231.0.2"))
        let cluster = try #require(facts.cluster)
        #expect(cluster.nodes.map(\.id) == ["n1", "n2"])
        #expect(cluster.nodes[0].labels["kryoform.role"] == "management")
        let web = try #require(cluster.stacks["web"]?.first)
        #expect(web.image == "kryoform/busybox:1" && web.replicas == 3 && web.running == 1)
        #expect(web.secretNames == ["web_token_0123456789ab"])
        #expect(web.updateState == "rollback_completed" && web.updateMessage == "update rolled back due to failure")
        // Docker's own replica count wins over the recorded one: scaling by hand shows as drift.
        let stack = DeployedStack.from(name: "web", services: [web])
        #expect(stack.attributes["replicas"] == "3")
        #expect(stack.tasks == "1/3")
        #expect(stack.composeHash == "abc")
    }

    @Test("the swarm seen from facts: addresses from node labels, or from the host that reported the node id")
    func swarmFromFacts() throws {
        let manager = try NodeFactsScript.parse(Self.managerOutput)
        var worker = NodeFacts(os: "debian 12", userID: 0, hostname: "kfth2", docker: .running(version: "20.10"))
        worker.swarm = SwarmMembership(state: "active", nodeID: "n2", clusterID: nil, isManager: false)
        let swarm = try #require(SwarmOperations.observe(["node.kfth1": manager, "node.kfth2": worker]))
        #expect(swarm.clusterID == "c1")
        #expect(swarm.managers == ["node.kfth1"])
        #expect(swarm.workers == ["node.kfth2"])
        #expect(swarm.roles == ["node.kfth1": ["management"]], "an unlabelled node has no roles yet")
    }

    @Test("a host without Docker, one whose engine refuses the user, and output cut short")
    func missingUnreachableAndTruncated() throws {
        let missing = try NodeFactsScript.parse("@@os\nalpine 3.20\n@@uid\n0\n@@hostname\nh\n@@docker-missing\n")
        #expect(missing.docker == .missing && missing.isRoot)
        let refused = try NodeFactsScript.parse("@@os\ndebian 12\n@@uid\n1000\n@@hostname\nh\n@@docker\npermission denied while trying to connect to the Docker daemon socket\n@@swarm\n@@end\n")
        #expect(refused.docker == .unreachable("permission denied while trying to connect to the Docker daemon socket"))
        #expect(throws: (any Error).self) { try NodeFactsScript.parse("@@os\ndebian 12\n@@uid\n") }
    }

    @Test("Docker is installed from the distribution's packages, with sudo -n when not root; unknown systems get no guess")
    func dockerInstallCommands() {
        #expect(DockerInstall.command(os: "debian 12", asRoot: true)?.contains("apt-get install -y -qq docker.io") == true)
        #expect(DockerInstall.command(os: "debian 12", asRoot: true)?.contains("sudo") == false)
        #expect(DockerInstall.command(os: "ubuntu 24.04", asRoot: false)?.contains("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get") == true)
        #expect(DockerInstall.command(os: "rocky 9", asRoot: true)?.contains("dnf install -y -q docker") == true)
        #expect(DockerInstall.command(os: "alpine 3.20", asRoot: true) == nil)
        #expect(DockerInstall.command(os: nil, asRoot: true) == nil)
        #expect(DockerInstall.command(os: "debian 12", asRoot: true)?.contains("curl") == false)
    }

    @Test("shell quoting leaves plain words alone and quotes the rest safely")
    func quoting() {
        #expect(shellQuote("kf-lab-lab") == "kf-lab-lab")
        #expect(shellQuote("a b") == "'a b'")
        #expect(shellQuote("it's") == #"'it'\''s'"#)
        #expect(shellQuote("") == "''")
    }
}
