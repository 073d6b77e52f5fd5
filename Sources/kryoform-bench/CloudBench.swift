import Foundation
import ProviderFakes
import Spec
import TestSupport

/// From an empty account to a converged Swarm: the shipped `prod` (its stacks' shape, busybox
/// stand-ins, `StandInStacks`) on `nodes` droplets of the fake DigitalOcean that are real test
/// hosts (scripts/test-hosts, with Docker), through the built `kryoform` binary; then a
/// no-change apply. The apply's time is split by what it waited on, from the progress lines
/// as they arrive: the provider (until the swarm's turn), SSH and Docker making the swarm
/// (Docker installed where missing, init, joins, labels), and Docker deploying the stacks.
///
///   kryoform-bench cloud [NODES]      (default 10; needs root; prefix kfz, subnet 10.232.10)
enum CloudBench {
    static func run(nodes: Int) async {
        do { try await measure(nodes: nodes) } catch {
            FileHandle.standardError.write(Data("kryoform-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func measure(nodes: Int) async throws {
        let clock = ContinuousClock()
        let hostsStarted = clock.now
        let hosts = try TestHosts.up(count: nodes, docker: true, prefix: "kfz", subnet: "10.232.10", loginUser: "kfzuser")
        defer { hosts.down() }
        let hostsTime = clock.now - hostsStarted
        let fake = try await FakeDigitalOcean.start(contract: nil)
        await fake.handOut(hosts.hosts.map { FakeNodeHost(address: $0.address, hostKeyPath: $0.hostKeyPath, sshdPIDFile: $0.sshdPIDFile) })
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-bench-cloud-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let package = TestHosts.packageRoot
        for item in ["kryoform.yaml", "stacks", "environments"] {
            try FileManager.default.copyItem(at: package.appendingPathComponent(item), to: root.appendingPathComponent(item))
        }
        // prod's clusters (1 management, 3 application, 3 data, 1 ai) with application grown to make `nodes`.
        let application = max(1, nodes - 5)
        let url = await fake.baseURL.absoluteString
        try edit(root.appendingPathComponent("environments/prod.yaml")) {
            $0 = $0.replacingOccurrences(of: "  token: env:DIGITALOCEAN_TOKEN\n", with: "  token: env:DIGITALOCEAN_TOKEN\n  endpoint: \(url)\n")
                .replacingOccurrences(of: "  region: atl1 ", with: "  region: tor1 ")
                .replacingOccurrences(of: "protect: true\n", with: "")
                .replacingOccurrences(of: "  application:\n    role: application\n    nodes: 3\n", with: "  application:\n    role: application\n    nodes: \(application)\n")
        }
        try edit(root.appendingPathComponent("kryoform.yaml")) { text in
            let start = text.range(of: "\nssh:")?.lowerBound ?? text.endIndex
            text = String(text[..<start]) + "\nssh:\n  user: kfzuser\n  private_key: env:KRYOFORM_BENCH_KEY\n  public_key: \(hosts.key).pub\n  host_key_policy: strict\n"
        }
        let stacks = try StandInStacks.write(under: root)
        var variables = ["DIGITALOCEAN_TOKEN": await fake.token, "KRYOFORM_BENCH_KEY": hosts.key]
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
        if let prod = specs.environments.first(where: { $0.name == "prod" }) {
            for stack in specs.stacks(in: prod) where stack.deploysSomething {
                for secret in stack.secrets {
                    if case .environment(let name) = prod.reference(forSecret: secret) { variables[name] = "bench-\(UUID().uuidString)" }
                }
            }
        }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kryoform")
        print("## From an empty account to a converged Swarm of \(nodes) nodes (shipped prod's shape, \(stacks) stand-in stacks)")
        print("")
        print("The fake DigitalOcean answers at once and hands out test hosts (\(nodes) made in \(seconds(hostsTime)), not counted).")
        print("")
        print("| command | wall | provider | SSH + Docker: swarm | Docker: stacks | result |")
        print("|---|---|---|---|---|---|")
        for (label, arguments) in [("apply (empty account)", ["apply", "-e", "prod", "--auto-approve"]), ("apply (no change)", ["apply", "-e", "prod", "--auto-approve"])] {
            let run = try await timedLines(binary, arguments + ["-C", root.path, "--no-color"], variables: variables)
            let swarmStart = run.lines.first { $0.text.hasPrefix("swarm: creating") || $0.text.hasPrefix("swarm: updating") }?.at
            let swarmEnd = run.lines.first { $0.text.hasPrefix("swarm: created") || $0.text.hasPrefix("swarm: updated") }?.at
            let provider = swarmStart ?? run.total, swarm = (swarmEnd ?? swarmStart ?? run.total) - (swarmStart ?? run.total)
            let summary = run.lines.last { $0.text.contains("Apply complete") || $0.text.hasPrefix("No changes") || $0.text.hasPrefix("error") }?.text ?? ""
            func share(_ part: Duration) -> String { run.total > .zero ? "\(seconds(part)) (\(Int((part / run.total * 100).rounded()))%)" : "-" }
            let stacksTime = run.total - provider - swarm
            // With nothing to change there are no phases: observation reads the provider and every
            // node's facts at once.
            let parts = swarmStart == nil ? ["-", "-", "-"] : [share(provider), share(swarm), share(stacksTime)]
            print("| `kryoform \(label)` | \(seconds(run.total)) | \(parts.joined(separator: " | ")) | \(run.status == 0 ? "" : "exit \(run.status): ")\(summary) |")
        }
        print("")
        _ = try await timedLines(binary, ["destroy", "-e", "prod", "--auto-approve", "-C", root.path, "--no-color"], variables: variables)
        await fake.stop()
    }

    /// Runs `binary`, noting when each line of its output arrived.
    static func timedLines(_ binary: URL, _ arguments: [String], variables: [String: String]) async throws
        -> (status: Int32, total: Duration, lines: [(at: Duration, text: String)]) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let clock = ContinuousClock()
                let started = clock.now
                let process = Process()
                process.executableURL = binary
                process.arguments = arguments
                process.environment = ProcessInfo.processInfo.environment.merging(variables) { $1 }
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                do { try process.run() } catch { return continuation.resume(throwing: error) }
                var lines: [(at: Duration, text: String)] = []
                var pending = Data()
                while true {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    pending += chunk
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        lines.append((clock.now - started, String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)))
                        pending = Data(pending[pending.index(after: newline)...])
                    }
                }
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, clock.now - started, lines))
            }
        }
    }

    static func edit(_ url: URL, _ change: (inout String) -> Void) throws {
        var text = try String(contentsOf: url, encoding: .utf8)
        change(&text)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
