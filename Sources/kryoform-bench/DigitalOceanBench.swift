import Foundation
import Planner
import ProviderFakes
import Providers

/// The DigitalOcean adapter against the fake DigitalOcean server with `latency` added to every
/// answer: request counts and wall time of observing 1,000 droplets, and of the built
/// `kryoform` binary planning and applying an environment of 30 nodes (then its no-change
/// plan and its destroy). The fake runs in this process; kryoform runs as users run it.
enum DigitalOceanBench {
    static func run(latency: Double) async {
        do {
            try await observation(latency: latency)
            try await cycle(latency: latency)
        } catch {
            FileHandle.standardError.write(Data("kryoform-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func observation(latency: Double) async throws {
        let fake = try await FakeDigitalOcean.start(faults: .init(latency: latency), contract: nil)
        await fake.seedDroplets(count: 1_000, project: "bench", environment: "big", cluster: "app")
        let provider = DigitalOceanProvider.make(token: await fake.token, endpoint: await fake.baseURL)
        let clock = ContinuousClock()
        let started = clock.now
        let observed = try await provider.observe(ResourceScope(project: "bench", environment: "big"))
        let elapsed = clock.now - started
        let lists = await fake.count("GET /v2/droplets")
        let total = await fake.totalRequests
        print("## Observing 1,000 droplets (latency \(Int(latency * 1000)) ms)")
        print("")
        print("| what | requests | droplet-list requests | wall |")
        print("|---|---|---|---|")
        print("| observe (droplets, volumes, VPCs, firewalls, keys) | \(total) | \(lists) | \(seconds(elapsed)) |")
        print("")
        print("observed \(observed.filter { $0.kind == .node }.count) droplets")
        print("")
        await fake.stop()
    }

    static func cycle(latency: Double) async throws {
        let fake = try await FakeDigitalOcean.start(faults: .init(latency: latency, bootTime: 0.5, actionTime: 0.5), contract: nil)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-bench-do-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        try FileManager.default.createDirectory(at: work.appendingPathComponent("environments"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work.appendingPathComponent("stacks"), withIntermediateDirectories: true)
        try """
        project: bench
        ssh: { public_key: .kryoform/ssh/id_ed25519.pub }
        """.write(to: work.appendingPathComponent("kryoform.yaml"), atomically: true, encoding: .utf8)
        try """
        environment: thirty
        provider: { name: digitalocean, region: nyc3, token: env:DIGITALOCEAN_TOKEN, endpoint: "\(await fake.baseURL.absoluteString)" }
        network:
          cidr: 10.40.0.0/16
          firewall:
            - { ports: [22], from: [203.0.113.0/24] }
            - { ports: [80, 443], from: [0.0.0.0/0] }
        clusters:
          app: { role: application, nodes: 30, size: { cpu: 2, memory: 4GiB } }
        stacks: []
        """.write(to: work.appendingPathComponent("environments/thirty.yaml"), atomically: true, encoding: .utf8)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kryoform")
        print("## An environment of 30 nodes, through the kryoform binary (latency \(Int(latency * 1000)) ms, droplets boot in 0.5 s)")
        print("")
        print("| command | wall | requests | droplet creates | droplet lists | result |")
        print("|---|---|---|---|---|---|")
        for arguments in [["plan", "-e", "thirty"], ["apply", "-e", "thirty", "--auto-approve"], ["plan", "-e", "thirty"], ["destroy", "-e", "thirty", "--auto-approve"]] {
            await fake.resetCounts()
            let clock = ContinuousClock()
            let started = clock.now
            let (status, output) = try await runDetached(binary, arguments + ["-C", work.path, "--no-color"], token: await fake.token)
            let elapsed = clock.now - started
            let summary = output.split(separator: "\n").last { $0.hasPrefix("Plan:") || $0.hasPrefix("No changes") || $0.contains("Apply complete") || $0.hasPrefix("error") }
            print("| `kryoform \(arguments.joined(separator: " "))` | \(seconds(elapsed)) | \(await fake.totalRequests) | \(await fake.count("POST /v2/droplets")) | \(await fake.count("GET /v2/droplets")) | \(status == 0 ? "" : "exit \(status): ")\(summary.map(String.init) ?? "") |")
        }
        print("")
        await fake.stop()
    }

    static func runDetached(_ binary: URL, _ arguments: [String], token: String) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = binary
                process.arguments = arguments
                process.environment = ProcessInfo.processInfo.environment.merging(["DIGITALOCEAN_TOKEN": token]) { $1 }
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                do { try process.run() } catch { return continuation.resume(throwing: error) }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
            }
        }
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
