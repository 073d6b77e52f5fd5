import Foundation
@testable import Planner
import Spec
import Testing

@Suite("Desired state from the shipped environments")
struct DesiredStateTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func desired(_ name: String) throws -> DesiredState {
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: Self.root)).load()
        let environment = try #require(specs.environment(named: name))
        return try DesiredStateBuilder(project: "kryonix", environment: environment, stacks: specs.stacks(in: environment),
                                       catalog: testCatalogLarge, publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd5 test").build().get()
    }

    @Test("every key of ssh.public_key goes to each node's create; the first is the provider's key; no key yet plans as made by apply")
    func testDesired_teamKeys() throws {
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: Self.root)).load()
        let environment = try #require(specs.environment(named: "prod"))
        let keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd5 alice", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd6 pipeline"]
        let desired = try DesiredStateBuilder(project: "kryonix", environment: environment, stacks: specs.stacks(in: environment),
                                              catalog: testCatalogLarge, publicKey: keys[0], authorizedKeys: keys).build().get()
        let nodes = desired.resources.filter { $0.kind == .node }
        #expect(!nodes.isEmpty)
        for node in nodes {
            #expect(desired.inputs[node.address]?[ResourceRequest.authorizedKeysInput] == keys.joined(separator: "\n"), "\(node.address)")
        }
        #expect(desired.inputs[.sshKey]?["public_key"] == keys[0])
        #expect(desired.resource("ssh_key")?.attributes["public_key"] == DesiredStateBuilder.fingerprint(ofPublicKey: keys[0]))
        let unmade = try DesiredStateBuilder(project: "kryonix", environment: environment, stacks: specs.stacks(in: environment),
                                             catalog: testCatalogLarge, publicKey: "").build().get()
        #expect(unmade.resource("ssh_key")?.attributes["public_key"] == DesiredStateBuilder.keyMadeByApply)
    }

    @Test("local: stable addresses, the chosen size, volumes on their node, stacks after the swarm and their dependencies")
    func testDesired_local() throws {
        let desired = try desired("local")
        let addresses = desired.resources.map(\.address.rawValue)
        #expect(Array(addresses.prefix(6)) == ["network", "firewall", "ssh_key", "node.main.1", "volume.main.1.pgdata", "swarm"])
        #expect(addresses.filter { $0.hasPrefix("stack.") }.count == 16)
        #expect(desired.resource("node.main.1")?.attributes["size"] == "c-16")
        #expect(desired.resource("volume.main.1.pgdata")?.dependsOn == ["node.main.1"])
        #expect(desired.resource("stack.n8n")?.dependsOn.contains("stack.postgres") == true)
        #expect(desired.resource("stack.postgres")?.dependsOn == ["swarm", "volume.main.1.pgdata"])
        #expect(desired.resource("swarm")?.attributes == ["managers": "node.main.1", "workers": "", "roles": "node.main.1=ai,application,data,management"])
        #expect(desired.resource("ssh_key")?.attributes["public_key"]?.hasPrefix("SHA256:") == true)
        #expect(desired.resource("stack.pytorch") == nil, "a library deploys nothing")
    }

    @Test("prod: three nodes in a cluster get indexes 1 to 3; one manager unless three management nodes")
    func testDesired_prodShape() throws {
        let desired = try desired("prod")
        let nodes = desired.resources.filter { $0.kind == .node }.map(\.address.rawValue)
        #expect(nodes.contains("node.application.3"))
        #expect(!nodes.contains("node.application.4"))
        #expect(desired.resource("swarm")?.attributes["managers"]?.split(separator: ",").count == 1)
    }
}

@Suite("Desired state of existing hosts (the static provider)")
struct StaticDesiredStateTests {
    func desired(hosts: String) throws -> DesiredState {
        let texts = [
            "kryoform.yaml": "project: lab\n",
            "stacks/web.yaml": "stack: web\nkind: service\nlayer: application\nrole: application\nimage: kryoform/busybox\nversion: \"1\"\nreplicas: 2\n",
            "environments/lab.yaml": "environment: lab\nprovider:\n  name: static\n  hosts:\n\(hosts)stacks: all\n",
        ]
        let specs = SpecLoader(fileSystem: InMemoryFileSystem(texts: texts)).load()
        let environment = try #require(specs.environment(named: "lab"))
        let catalog = Catalog(provider: "static", regions: [CatalogRegion(slug: "static", name: "existing hosts")], sizes: [],
                              defaultImage: "", images: [], volumePricePerGiB: 0, defaultRegion: "static")
        return try DesiredStateBuilder(project: "lab", environment: environment, stacks: specs.stacks(in: environment),
                                       catalog: catalog, publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd5 test").build().get()
    }

    @Test("the hosts are the swarm's members by name; nothing is made at a provider")
    func hostsAreMembers() throws {
        let desired = try desired(hosts: """
              - { name: m1, address: 10.0.0.1, roles: [management] }
              - { name: a1, address: 10.0.0.2, roles: [application] }
              - { name: d1, address: 10.0.0.3, roles: [data, application] }

        """)
        #expect(desired.resources.map(\.address.rawValue) == ["swarm", "stack.web"])
        #expect(desired.resource("swarm")?.attributes == [
            "managers": "node.m1", "workers": "node.a1,node.d1", "roles": "node.a1=application node.d1=application,data node.m1=management",
        ])
        #expect(desired.resource("swarm")?.dependsOn == [])
        #expect(desired.resource("stack.web")?.dependsOn == ["swarm"])
    }

    @Test("three management hosts make three managers; none makes the first host the manager")
    func managerCount() throws {
        let three = try desired(hosts: (1...4).map { "    - { name: m\($0), address: 10.0.0.\($0), roles: [management, application] }\n" }.joined())
        #expect(three.resource("swarm")?.attributes["managers"] == "node.m1,node.m2,node.m3")
        #expect(three.resource("swarm")?.attributes["workers"] == "node.m4")
        let none = try desired(hosts: "    - { name: b, address: 10.0.0.2, roles: [application] }\n    - { name: a, address: 10.0.0.1, roles: [application] }\n")
        #expect(none.resource("swarm")?.attributes["managers"] == "node.b")
    }
}

/// The sandbox's sizes, copied here so Planner tests need no provider: enough to resolve the shipped environments.
let testCatalogLarge = Catalog(
    provider: "test", regions: ["nyc3", "nyc2", "tor1", "atl1"].map { CatalogRegion(slug: $0, name: $0) },
    sizes: [
        ("s-4vcpu-8gb", 4, 8, 160, 48.0), ("s-8vcpu-16gb", 8, 16, 320, 96), ("g-8vcpu-32gb", 8, 32, 100, 252),
        ("c-8", 8, 16, 100, 168), ("c-16", 16, 32, 200, 336), ("c-32", 32, 64, 400, 672),
        ("m-4vcpu-32gb", 4, 32, 100, 168), ("so-8vcpu-64gb", 8, 64, 1200, 524), ("so-16vcpu-128gb", 16, 128, 2400, 1048),
    ].map { SizeOffering(slug: $0.0, cpu: $0.1, memory: .gibibytes(Int64($0.2)), disk: .gibibytes(Int64($0.3)), monthlyPrice: $0.4, regions: ["nyc3", "atl1"]) }
    + [SizeOffering(slug: "gpu-l40sx1-48gb", cpu: 8, memory: .gibibytes(64), disk: .gibibytes(500), gpu: 1, monthlyPrice: 1146.1, regions: ["nyc2", "tor1", "atl1"])],
    defaultImage: "debian-12-x64", images: ["debian-12-x64"], volumePricePerGiB: 0.1, defaultRegion: "nyc3")
