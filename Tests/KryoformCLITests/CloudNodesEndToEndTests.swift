import Foundation
import Planner
import ProviderFakes
import Testing
import TestSupport

/// A fake cloud whose new nodes are real test hosts (sshd and a Docker engine each): what a
/// cloud end-to-end test needs from the DigitalOcean, Vultr and EC2 fakes alike.
protocol HostingCloud: Sendable {
    /// The environment's `provider:` block, pointing at the fake.
    func providerBlock() async -> String
    /// The credentials the provider block names.
    func variables() async -> [String: String]
    /// Every object the account holds, by kind.
    func objects() async throws -> [String: [String]]
    /// The first-boot records of the nodes made so far.
    func boots() async -> [FirstBootRecord]
    /// The next boot of the node named `name` leaves the host's own key in place.
    func skipHostKey(forNodeNamed name: String) async
    /// Runs `body` on each block volume the fake attaches, detaches or grows.
    func followDisks(_ body: @escaping @Sendable (DiskEvent) -> Void) async
    func stop() async
}

/// examples/lab's stacks on a cloud: environment `cloud`, one cluster of three nodes that each
/// manage and run every role and hold a `cachedata` volume (the `cache` stack's, held to
/// node.main.1, each start of its task adding a line to the volume's `starts`), on a fake cloud
/// that hands out the test hosts as its nodes and their volumes as loop devices. The
/// project's host key policy is `strict`, so a node is only ever reached with a key kryoform
/// recorded before it connected.
struct CloudLab {
    let lab: LabProject
    let cloud: HostingCloud
    /// The provider's name for node `index` (1-based), as the fake reports it.
    let nodeName: @Sendable (Int) -> String

    static func make(hosts: TestHosts, disks: LoopDisks, cloud: HostingCloud, nodeName: @escaping @Sendable (Int) -> String) async throws -> CloudLab {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-cloudlab-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: CommandRun.packageRoot.appendingPathComponent("examples/lab"), to: root)
        await cloud.followDisks { disks.follow($0, on: hosts) }
        try editFile(root.appendingPathComponent("stacks/cache.yaml")) {
            $0 = $0.replacingOccurrences(of: "echo ready > /data/state", with: "hostname >> /data/starts")
        }
        try FileManager.default.removeItem(at: root.appendingPathComponent("environments/lab.yaml"))
        try """
        project: lab
        ssh:
          user: \(hosts.hosts[0].user)
          private_key: env:KRYOFORM_LAB_KEY
          public_key: \(hosts.key).pub
          known_hosts: .kryoform/known_hosts
          host_key_policy: strict
          connect_timeout: 5s
          boot_timeout: 20s

        """.write(to: root.appendingPathComponent("kryoform.yaml"), atomically: true, encoding: .utf8)
        try """
        environment: cloud
        provider:
        \(await cloud.providerBlock())
        network:
          cidr: 10.30.0.0/16
          firewall:
            - { ports: [22], from: [10.231.0.0/16], description: SSH from the test bridge }
        clusters:
          main:
            roles: [management, application, data]
            nodes: 3
            size: { cpu: 2, memory: 4GiB }
            volumes: [ { name: cachedata, size: 10GiB } ]
        domain: lab.localhost
        stacks: all
        secrets:
          api_token: env:LAB_API_TOKEN

        """.write(to: root.appendingPathComponent("environments/cloud.yaml"), atomically: true, encoding: .utf8)
        var variables = await cloud.variables()
        variables["KRYOFORM_LAB_KEY"] = hosts.key
        variables["LAB_API_TOKEN"] = "token-\(UUID().uuidString)"
        return CloudLab(lab: LabProject(root: root, hosts: hosts, variables: variables), cloud: cloud, nodeName: nodeName)
    }

    var root: URL { lab.root }

    func run(_ arguments: [String]) async -> CommandRun { await lab.run(arguments) }

    /// Whether each test host's engine is in a swarm, by host address.
    func swarmStates() throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try lab.hosts.hosts.indices.map { index in
            (lab.hosts.hosts[index].address, try lab.hosts.docker(index, ["info", "--format", "{{.Swarm.LocalNodeState}}"]).trimmingCharacters(in: .whitespacesAndNewlines))
        })
    }

    /// The swarm's nodes as host 0's engine lists them: `hostname role state availability`.
    func swarmNodes() throws -> [String] {
        try lab.hosts.docker(0, ["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}} {{.Status}} {{.Availability}}"])
            .split(separator: "\n").map(String.init).sorted()
    }

    /// known_hosts as kryoform left it: key blob by address.
    func knownHosts() throws -> [String: Set<String>] {
        let text = (try? String(contentsOf: root.appendingPathComponent(".kryoform/known_hosts"), encoding: .utf8)) ?? ""
        var keys: [String: Set<String>] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 3 { keys[String(fields[0]), default: []].insert(String(fields[2])) }
        }
        return keys
    }

    func destroy() async -> CommandRun { await run(["destroy", "-e", "cloud", "--auto-approve"]) }

    func stop() async {
        await cloud.stop()
        try? FileManager.default.removeItem(at: root)
    }

    /// Where `cachedata` is mounted: each host holding one, with its device and filesystem size,
    /// and the lines of `starts` on the host whose cache task wrote there.
    func cacheVolumes() throws -> (devices: [Int: String], sizes: [Int: Int], starts: [Int: [String]]) {
        var devices: [Int: String] = [:], sizes: [Int: Int] = [:], starts: [Int: [String]] = [:]
        let hosts = lab.hosts
        for index in hosts.hosts.indices {
            guard let device = try hosts.kryoformMounts(index)["/mnt/kryoform/cachedata"] else { continue }
            devices[index] = device
            sizes[index] = Int(try hosts.onHost(index, ["/bin/df", "-B1", "--output=size", "/mnt/kryoform/cachedata"]).stdout
                .split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) ?? "")
            let lines = try hosts.onHost(index, ["/bin/cat", "/mnt/kryoform/cachedata/data/starts"], check: false).stdout.split(separator: "\n").map(String.init)
            if !lines.isEmpty { starts[index] = lines }
        }
        return (devices, sizes, starts)
    }
}

extension TestHosts {
    /// Makes the host at `address` look like a new machine, as a deleted node's replacement
    /// would be: its engine leaves whatever swarm it was in (without a goodbye, like a machine
    /// that vanished) and keeps no container.
    func wipe(address: String) {
        guard let index = hosts.firstIndex(where: { $0.address == address }) else { return }
        _ = try? docker(index, ["swarm", "leave", "--force"])
        let containers = ((try? docker(index, ["ps", "-aq"])) ?? "").split(separator: "\n").map(String.init)
        if !containers.isEmpty { _ = try? docker(index, ["rm", "-f"] + containers) }
        // A new machine has none of the old one's mounts.
        if hosts[index].diskDirectory != nil {
            _ = try? onHost(index, ["/bin/sh", "-c", "for m in /mnt/kryoform/*; do umount -l \"$m\" 2>/dev/null; done; "
                + "t=$(mktemp /etc/.fstab.wiped.XXXXXX); grep -v ' /mnt/kryoform/' /etc/fstab > \"$t\"; cat \"$t\" > /etc/fstab; rm -f \"$t\""], check: false)
        }
    }
}

extension FirstBootRecord {
    /// The key blob of the host key this boot installed.
    var installedBlob: String? { installedHostKey.map { String($0.split(separator: " ")[1]) } }
}

/// Cloud nodes configured over SSH, end to end: a fake cloud's nodes are real test hosts, and
/// one apply takes an empty account to a Swarm running the stacks.
@Suite("Cloud nodes: an empty account to a running Swarm, over SSH", .serialized)
struct CloudNodesEndToEndTests {
    @Test func digitalOcean() async throws {
        let hosts = try TestHosts.up(count: 3, docker: true, prefix: "kfc", subnet: "10.231.50", loginUser: "kfcuser", disks: true)
        // Disks that hold an xfs filesystem already: kept, not formatted, and grown online
        // (ext4's online grow needs CAP_SYS_RESOURCE, which this machine's root lacks).
        let disks = try LoopDisks(sizeMiB: 320, format: "xfs")
        defer { hosts.down(); disks.remove() }
        let fake = try await FakeDigitalOcean.start(contract: try ProviderDescriptions.digitalOcean())
        await fake.handOut(hosts.hosts.map { FakeNodeHost(address: $0.address, hostKeyPath: $0.hostKeyPath, sshdPIDFile: $0.sshdPIDFile) })
        await fake.whenReleased { host in hosts.wipe(address: host.address) }
        let cloud = try await CloudLab.make(hosts: hosts, disks: disks, cloud: DigitalOceanHosting(fake: fake), nodeName: { "lab-cloud-main-\($0)" })
        do { try await exercise(cloud, newImage: ("provider:\n", "provider:\n  image: ubuntu-24-04-x64\n")) } catch {
            await cloud.stop()
            throw error
        }
        await cloud.stop()
    }

    @Test func vultr() async throws {
        let hosts = try TestHosts.up(count: 3, docker: true, prefix: "kfv", subnet: "10.231.60", loginUser: "kfvuser", disks: true)
        // Disks that hold an xfs filesystem already: kept, not formatted, and grown online
        // (ext4's online grow needs CAP_SYS_RESOURCE, which this machine's root lacks).
        let disks = try LoopDisks(sizeMiB: 320, format: "xfs")
        defer { hosts.down(); disks.remove() }
        let fake = try await FakeVultr.start()
        await fake.handOut(hosts.hosts.map { FakeNodeHost(address: $0.address, hostKeyPath: $0.hostKeyPath, sshdPIDFile: $0.sshdPIDFile) })
        await fake.whenReleased { host in hosts.wipe(address: host.address) }
        let cloud = try await CloudLab.make(hosts: hosts, disks: disks, cloud: VultrHosting(fake: fake), nodeName: { "lab-cloud-main-\($0)" })
        do { try await exercise(cloud, newImage: ("provider:\n", "provider:\n  image: ubuntu-24.04\n")) } catch {
            await cloud.stop()
            throw error
        }
        await cloud.stop()
    }

    @Test func aws() async throws {
        let hosts = try TestHosts.up(count: 3, docker: true, prefix: "kfa", subnet: "10.231.70", loginUser: "kfauser", disks: true)
        // Disks that hold an xfs filesystem already: kept, not formatted, and grown online
        // (ext4's online grow needs CAP_SYS_RESOURCE, which this machine's root lacks).
        let disks = try LoopDisks(sizeMiB: 320, format: "xfs")
        defer { hosts.down(); disks.remove() }
        let moto = try MotoServer.start()
        defer { moto.stop() }
        let proxy = try await HoldingProxy.start(upstream: moto.baseURL, operation: HoldingProxy.ec2Action)
        await proxy.handOut(hosts.hosts.map { FakeNodeHost(address: $0.address, hostKeyPath: $0.hostKeyPath, sshdPIDFile: $0.sshdPIDFile) })
        await proxy.whenReleased { host in hosts.wipe(address: host.address) }
        let cloud = try await CloudLab.make(hosts: hosts, disks: disks, cloud: EC2Hosting(proxy: proxy, moto: moto.baseURL), nodeName: { "lab-cloud-main-\($0)" })
        // Another of moto's built-in images replaces the nodes.
        do { try await exercise(cloud, newImage: ("image: \(AWSProject.image)", "image: ami-1e749f67")) } catch {
            await cloud.stop()
            throw error
        }
        await cloud.stop()
    }

    /// The whole life of the lab on one cloud.
    func exercise(_ cloud: CloudLab, newImage: (from: String, to: String)) async throws {
        let lab = cloud.lab
        var transcript = Transcript()

        // One plan holds the cloud resources, the swarm and every stack, with no note.
        let planned = transcript.add("plan --json", await cloud.run(["plan", "-e", "cloud", "--json"]))
        #expect(planned.status == 0, "\(planned.stdout)\n\(planned.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(planned.stdout.utf8)) as? [String: Any])
        let addresses = Set((plan["changes"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
        for address in ["network", "firewall", "ssh_key", "node.main.1", "node.main.2", "node.main.3", "swarm",
                        "stack.web", "stack.api", "stack.cache", "stack.agent"] {
            #expect(addresses.contains(address), "\(address) missing from \(addresses.sorted())")
        }
        #expect(plan["notes"] == nil, "\(plan["notes"] ?? "")")

        // One apply: nodes made, each booted with the host key kryoform gave it, then one swarm.
        let applied = transcript.add("apply --log-level debug", await cloud.run(["apply", "-e", "cloud", "--auto-approve", "--log-level", "debug"]))
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        let services = try lab.services()
        #expect(services["web_web"] == "2/2 kryoform/busybox:1", "\(services)")
        #expect(services["api_api"] == "1/1 kryoform/busybox:1", "\(services)")
        #expect(services["cache_cache"] == "1/1 kryoform/busybox:1", "\(services)")
        #expect(services["agent_agent"] == "3/3 kryoform/busybox:1", "global on every management node: \(services)")
        #expect(try cloud.swarmStates().values.allSatisfy { $0 == "active" })
        let members = try cloud.swarmNodes()
        #expect(members.count == 3 && members.allSatisfy { $0.contains("Ready") && ($0.contains("Leader") || $0.contains("Reachable")) }, "\(members)")
        // known_hosts holds, for each node's address, exactly the key its boot installed.
        let boots = await cloud.cloud.boots()
        #expect(boots.count == 3)
        let known = try cloud.knownHosts()
        for boot in boots {
            #expect(boot.installedBlob != nil && known[boot.address] == [boot.installedBlob ?? ""], "\(boot.address): \(known)")
            #expect(boot.users.contains(lab.hosts.hosts[0].user), "the user data makes the login user: \(boot.users)")
        }

        // Each node's volume is mounted by UUID; the cache task, held to node.main.1, wrote to its one.
        let volumes = try cloud.cacheVolumes()
        #expect(volumes.devices.count == 3 && Set(volumes.devices.values).count == 3, "\(volumes); \(lab.hosts.diskReport())")
        #expect(volumes.starts.count == 1 && volumes.starts.values.first?.count == 1, "\(volumes.starts)")
        for index in volumes.devices.keys {
            let fstab = try lab.hosts.kryoformFstab(index)
            #expect(fstab.count == 1 && fstab[0].hasPrefix("UUID=") && fstab[0].contains(" /mnt/kryoform/cachedata xfs "), "\(fstab)")
        }
        let firstStart = try #require(volumes.starts.values.first?.first)

        // Converged: a second plan finds nothing to do and says nothing is left out.
        let again = transcript.add("plan --detailed-exitcode", await cloud.run(["plan", "-e", "cloud", "--detailed-exitcode"]))
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(again.stdout.contains("No changes.") && !again.stdout.contains("note:"), "\(again.stdout)")

        // A new image replaces the nodes one at a time; the stacks run throughout and after.
        try lab.edit("environments/cloud.yaml") { text in
            text = text.replacingOccurrences(of: newImage.from, with: newImage.to)
        }
        let replaced = transcript.add("apply (new image)", await cloud.run(["apply", "-e", "cloud", "--auto-approve", "--allow-destroy"]))
        #expect(replaced.status == 0, "\(replaced.stdout)\n\(replaced.stderr)")
        let servicesAfter = try lab.services()
        #expect(servicesAfter == services, "\(servicesAfter)")
        let after = try cloud.swarmNodes()
        #expect(after.count == 3 && after.allSatisfy { $0.contains("Ready") }, "no node of the old ones is left down: \(after)")
        let rebooted = await cloud.cloud.boots()
        #expect(rebooted.count == 6, "three new nodes booted: \(rebooted.map(\.nodeName))")
        let newKnown = try cloud.knownHosts()
        for boot in rebooted.suffix(3) { #expect(newKnown[boot.address] == [boot.installedBlob ?? ""], "\(boot.address): \(newKnown)") }
        let unchanged = await cloud.run(["plan", "-e", "cloud", "--detailed-exitcode"])
        #expect(unchanged.status == 0, "\(unchanged.stdout)\n\(unchanged.stderr)")
        // The volumes went with their nodes to the new machines, and nothing was formatted
        // again: the cache's data is there, and its task started on it once more.
        let moved = try cloud.cacheVolumes()
        #expect(Set(moved.devices.values) == Set(volumes.devices.values), "\(moved.devices) vs \(volumes.devices); \(lab.hosts.diskReport())")
        #expect(moved.starts.count == 1 && moved.starts.values.first?.first == firstStart && (moved.starts.values.first?.count ?? 0) >= 2, "\(moved.starts)")

        // A bigger volume: the provider grows the disk, kryoform the filesystem on it.
        try lab.edit("environments/cloud.yaml") { text in
            text = text.replacingOccurrences(of: "{ name: cachedata, size: 10GiB }", with: "{ name: cachedata, size: 20GiB }")
        }
        let grown = transcript.add("apply (bigger volume)", await cloud.run(["apply", "-e", "cloud", "--auto-approve"]))
        #expect(grown.status == 0, "\(grown.stdout)\n\(grown.stderr)")
        let bigger = try cloud.cacheVolumes()
        for (index, size) in bigger.sizes { #expect(size > moved.sizes[index] ?? .max, "host \(index): \(size) bytes, before \(moved.sizes[index] ?? 0)") }
        #expect(bigger.sizes.count == 3)

        // Destroy: the account is empty and no engine is in a swarm.
        let destroyed = transcript.add("destroy", await cloud.destroy())
        #expect(destroyed.status == 0, "\(destroyed.stdout)\n\(destroyed.stderr)")
        let left = try await cloud.cloud.objects()
        #expect(left.values.allSatisfy { $0.isEmpty }, "\(left)")
        #expect(try cloud.swarmStates().values.allSatisfy { $0 == "inactive" })
        for index in lab.hosts.hosts.indices {
            #expect(try lab.hosts.kryoformMounts(index).isEmpty && lab.hosts.kryoformFstab(index).isEmpty, "unmounted before deleted: host \(index)")
        }

        // A node that does not present the key kryoform gave it is refused, and nothing runs on
        // any node: no engine joins a swarm.
        await cloud.cloud.skipHostKey(forNodeNamed: cloud.nodeName(1))
        let impostor = transcript.add("apply (impostor)", await cloud.run(["apply", "-e", "cloud", "--auto-approve"]))
        #expect(impostor.status == 1, "\(impostor.stdout)\n\(impostor.stderr)")
        let said = impostor.stdout + impostor.stderr
        #expect(said.contains("node.main.1") && said.lowercased().contains("host key"), "\(said)")
        #expect(try cloud.swarmStates().values.allSatisfy { $0 == "inactive" })

        // The private host keys kryoform made went to the nodes and nowhere else.
        let privateKeys = try lab.hosts.hosts.map { try String(contentsOfFile: $0.hostKeyPath, encoding: .utf8) }
        for key in privateKeys {
            let forms = SecretForms(key)
            #expect(transcript.leaks(of: forms).isEmpty)
            let (found, searched) = try leaks(of: forms, inFilesUnder: cloud.root.appendingPathComponent(".kryoform"))
            #expect(found.isEmpty && searched > 0, "\(found)")
        }
        for run in transcript.runs {
            #expect(!run.run.stdout.contains("PRIVATE KEY") && !run.run.stderr.contains("PRIVATE KEY"), "\(run.label)")
        }
    }
}

/// The fake DigitalOcean handing out test hosts.
struct DigitalOceanHosting: HostingCloud {
    let fake: FakeDigitalOcean

    func providerBlock() async -> String {
        "  name: digitalocean\n  region: nyc3\n  token: env:DIGITALOCEAN_TOKEN\n  endpoint: \(await fake.baseURL.absoluteString)"
    }

    func variables() async -> [String: String] { ["DIGITALOCEAN_TOKEN": await fake.token] }

    func objects() async throws -> [String: [String]] { await fake.inventory() }

    func boots() async -> [FirstBootRecord] { await fake.bootRecords() }

    func skipHostKey(forNodeNamed name: String) async { await fake.skipHostKey(forNodeNamed: name) }

    func followDisks(_ body: @escaping @Sendable (DiskEvent) -> Void) async { await fake.whenDisksChange(body) }

    func stop() async { await fake.stop() }
}

/// The fake Vultr handing out test hosts.
struct VultrHosting: HostingCloud {
    let fake: FakeVultr

    func providerBlock() async -> String {
        "  name: vultr\n  region: ewr\n  api_key: env:VULTR_API_KEY\n  endpoint: \(await fake.baseURL.absoluteString)"
    }

    func variables() async -> [String: String] { ["VULTR_API_KEY": await fake.apiKey] }

    func objects() async throws -> [String: [String]] { await fake.inventory() }

    func boots() async -> [FirstBootRecord] { await fake.bootRecords() }

    func skipHostKey(forNodeNamed name: String) async { await fake.skipHostKey(forNodeNamed: name) }

    func followDisks(_ body: @escaping @Sendable (DiskEvent) -> Void) async { await fake.whenDisksChange(body) }

    func stop() async { await fake.stop() }
}

/// moto_server behind the proxy that hands out test hosts as the instances' addresses.
struct EC2Hosting: HostingCloud {
    let proxy: HoldingProxy
    let moto: URL

    func providerBlock() async -> String {
        "  name: aws\n  region: us-east-1\n  endpoint: \(await proxy.baseURL.absoluteString)\n  image: \(AWSProject.image)"
    }

    func variables() async -> [String: String] {
        ["AWS_ACCESS_KEY_ID": AWSProject.accessKeyID, "AWS_SECRET_ACCESS_KEY": AWSProject.secret]
    }

    /// What moto holds, as counts (the default VPC's objects aside).
    func objects() async throws -> [String: [String]] {
        try await EC2Inventory.count(at: moto, accessKeyID: AWSProject.accessKeyID).mapValues { Array(repeating: "object", count: $0) }
    }

    func boots() async -> [FirstBootRecord] { await proxy.bootRecords() }

    func skipHostKey(forNodeNamed name: String) async { await proxy.skipHostKey(forNodeNamed: name) }

    func followDisks(_ body: @escaping @Sendable (DiskEvent) -> Void) async { await proxy.whenDisksChange(body) }

    func stop() async { await proxy.stop() }
}
