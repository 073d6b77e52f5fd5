import Foundation
import ProviderFakes
import struct Spec.SpecLoader
import struct Spec.LocalFileSystem
import enum Spec.SecretReference
import Testing
import TestSupport

/// The shipped project's `dev` and `prod` on DigitalOcean, configured over SSH on real test
/// hosts: the shipped stacks' shape (every stack each environment selects, its role, replicas
/// or global mode, ports, volumes, secrets, dependencies) with busybox stand-ins for the images
/// (`StandInStacks`), on a fake DigitalOcean whose droplets are the test hosts and whose
/// volumes are loop devices attached to them (`LoopDisks`): postgres writes to the `pgdata`
/// volume mounted on the data node that holds it.
@Suite("Shipped dev and prod on DigitalOcean nodes, over SSH", .serialized)
struct ShippedCloudEndToEndTests {
    @Test func devThenProd() async throws {
        let hosts = try TestHosts.up(count: 8, docker: true, prefix: "kfk", subnet: "10.231.90", loginUser: "kfkuser", disks: true)
        let disks = try LoopDisks()
        defer { hosts.down(); disks.remove() }
        let fake = try await FakeDigitalOcean.start(contract: try ProviderDescriptions.digitalOcean())
        await fake.handOut(hosts.hosts.map { FakeNodeHost(address: $0.address, hostKeyPath: $0.hostKeyPath, sshdPIDFile: $0.sshdPIDFile) })
        await fake.whenReleased { host in hosts.wipe(address: host.address) }
        await fake.whenDisksChange { disks.follow($0, on: hosts) }
        let root = try shippedProjectCopy(prefix: "kryoform-shipped-cloud", configureNodes: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try ShippedCloud.point(root, at: await fake.baseURL, hosts: hosts)
        #expect(try StandInStacks.write(under: root) > 40)
        var variables = try ShippedCloud.secretValues(root, environments: ["dev", "prod"])
        variables["DIGITALOCEAN_TOKEN"] = await fake.token
        variables["KRYOFORM_TEST_KEY"] = hosts.key

        for (name, nodes, dataNodes) in [("dev", 1, 1), ("prod", 8, 3)] {
            let run = { (arguments: [String]) in await CommandRun.runDetached(arguments + ["--no-color"], in: root, environment: variables) }
            let applied = await run(["apply", "-e", name, "--auto-approve"])
            #expect(applied.status == 0, "\(name): \(applied.stdout)\n\(applied.stderr)")
            let services = try ShippedCloud.services(hosts)
            let wanted = try ShippedCloud.services(root, environment: name)
            #expect(await fake.dropletSummaries().count == nodes)
            #expect(services.keys.sorted() == wanted.keys.sorted(), "\(name)")
            for (service, replicas) in wanted {
                let running = services[service] ?? ""
                #expect(replicas == nil ? running.split(separator: "/").first == running.split(separator: "/").last : running == "\(replicas ?? 0)/\(replicas ?? 0)",
                        "\(name): \(service) runs \(running), wants \(replicas.map(String.init) ?? "global")")
            }
            // Every data node has its own pgdata disk mounted, by UUID in its fstab; postgres, one
            // task, runs on the one that holds its data and wrote there.
            let pgdata = try hosts.volume("pgdata")
            #expect(pgdata.count == dataNodes && Set(pgdata.map(\.device)).count == dataNodes, "\(name): \(pgdata)")
            #expect(pgdata.filter { !$0.mark.isEmpty }.count == 1, "\(name): postgres wrote to one pgdata volume: \(pgdata)")
            for volume in pgdata {
                #expect(try hosts.kryoformFstab(volume.host).map { $0.split(separator: " ").prefix(3).dropFirst().joined(separator: " ") } == ["/mnt/kryoform/pgdata ext4"])
                #expect(try hosts.kryoformFstab(volume.host).allSatisfy { $0.hasPrefix("UUID=") })
            }
            let again = await run(["plan", "-e", name, "--detailed-exitcode"])
            #expect(again.status == 0 && !again.stdout.contains("note:"), "\(name): \(again.stdout)\n\(again.stderr)")
            let destroyed = await run(["destroy", "-e", name, "--auto-approve", "--allow-destroy"])
            #expect(destroyed.status == 0, "\(name): \(destroyed.stdout)\n\(destroyed.stderr)")
            #expect(await fake.inventory().values.allSatisfy { $0.isEmpty })
            // Unmounted and out of fstab before the disks were deleted.
            for index in hosts.hosts.indices {
                #expect(try hosts.kryoformMounts(index).isEmpty && hosts.kryoformFstab(index).isEmpty, "\(name): host \(index)")
            }
        }
        await fake.stop()
    }
}

/// The shipped project set up for the test hosts.
enum ShippedCloud {
    /// Points `dev` and `prod` at the fake, logs in as the hosts' user with their key, and
    /// trusts only keys kryoform recorded (strict).
    static func point(_ root: URL, at fake: URL, hosts: TestHosts) throws {
        for name in ["dev", "prod"] {
            try editFile(root.appendingPathComponent("environments/\(name).yaml")) {
                $0 = $0.replacingOccurrences(of: "  token: env:DIGITALOCEAN_TOKEN\n", with: "  token: env:DIGITALOCEAN_TOKEN\n  endpoint: \(fake.absoluteString)\n")
                    .replacingOccurrences(of: "protect: true\n", with: "")
                    // DigitalOcean's API description lists no atl1 among the regions a volume may be
                    // made in (its list predates atl1), and the fake holds to it: tor1 also has GPUs.
                    .replacingOccurrences(of: "  region: atl1 ", with: "  region: tor1 ")
            }
        }
        try editFile(root.appendingPathComponent("kryoform.yaml")) { text in
            let start = text.range(of: "\nssh:")?.lowerBound ?? text.endIndex
            text = String(text[..<start]) + """

            ssh:
              user: \(hosts.hosts[0].user)
              private_key: env:KRYOFORM_TEST_KEY
              public_key: \(hosts.key).pub
              host_key_policy: strict
              connect_timeout: 5s
              boot_timeout: 30s

            """
        }
    }

    /// A random value for every secret the environments' stacks use, by variable.
    static func secretValues(_ root: URL, environments: [String]) throws -> [String: String] {
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
        var values: [String: String] = [:]
        for environment in specs.environments where environments.contains(environment.name) {
            for stack in specs.stacks(in: environment) where stack.deploysSomething {
                for secret in stack.secrets {
                    if case .environment(let variable) = environment.reference(forSecret: secret) { values[variable] = "secret-\(UUID().uuidString)" }
                }
            }
        }
        return values
    }

    /// Each service `<stack>_<stack>` the environment deploys, with its replicas (nil: global).
    static func services(_ root: URL, environment name: String) throws -> [String: Int?] {
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
        let environment = try #require(specs.environments.first { $0.name == name })
        return Dictionary(uniqueKeysWithValues: specs.stacks(in: environment).filter(\.deploysSomething).map { stack in
            ("\(stack.name)_\(stack.name)", stack.mode == .global ? nil : stack.replicas)
        })
    }

    /// `service → running/wanted` on the swarm, read through the first host that manages.
    static func services(_ hosts: TestHosts) throws -> [String: String] {
        for index in hosts.hosts.indices {
            guard let lines = try? hosts.docker(index, ["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]) else { continue }
            return Dictionary(uniqueKeysWithValues: lines.split(separator: "\n").map { line in
                let fields = line.split(separator: " ").map(String.init)
                return (fields[0], fields.count > 1 ? fields[1] : "")
            })
        }
        return [:]
    }
}
