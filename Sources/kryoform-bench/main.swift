import Foundation
import Spec

// kryoform-bench: measures what docs/benchmarks.md reports.
//
//   swift run -c release kryoform-bench [PROJECT_DIR] [ITERATIONS]
//   swift run -c release kryoform-bench digitalocean [LATENCY_MS]   (see DigitalOceanBench.swift)
//   swift run -c release kryoform-bench aws [LATENCY_MS]   (see EC2Bench.swift)
//   swift run -c release kryoform-bench ssh --hosts HOSTS_JSON --files FOLDER   (see SSHBench.swift)
//   swift run -c release kryoform-bench cloud [NODES]   (see CloudBench.swift; root, test hosts)
//
// Loads and validates the whole project from disk ITERATIONS times (default 50; PROJECT_DIR
// defaults to the current folder) and prints the minimum, median and maximum wall time of one
// full load: reading every file, parsing YAML, decoding, cross-file rules and capacity.

if CommandLine.arguments.dropFirst().first == "cloud" {
    // From an empty account to a converged Swarm on real test hosts: see CloudBench.swift (issue 15).
    await CloudBench.run(nodes: CommandLine.arguments.dropFirst(2).first.flatMap(Int.init) ?? 10)
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "ssh" {
    await SSHBench.run(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "vultr" {
    // Vultr adapter against the fake Vultr: see VultrBench.swift (issue 6).
    await VultrBench.run(latency: (CommandLine.arguments.dropFirst(2).first.flatMap(Double.init) ?? 50) / 1000)
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "digitalocean" {
    await DigitalOceanBench.run(latency: (CommandLine.arguments.dropFirst(2).first.flatMap(Double.init) ?? 50) / 1000)
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "aws" {
    await EC2Bench.run(latency: (CommandLine.arguments.dropFirst(2).first.flatMap(Double.init) ?? 50) / 1000)
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst()
let root = URL(fileURLWithPath: arguments.first ?? FileManager.default.currentDirectoryPath)
let iterations = arguments.dropFirst().first.flatMap(Int.init) ?? 50

guard FileManager.default.fileExists(atPath: root.appendingPathComponent(SpecLoader.projectFile).path) else {
    FileHandle.standardError.write(Data("kryoform-bench: no \(SpecLoader.projectFile) in \(root.path)\n".utf8))
    exit(1)
}

let clock = ContinuousClock()
var durations: [Duration] = []
var last: Specs?
for _ in 0..<max(1, iterations) {
    let started = clock.now
    last = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
    durations.append(clock.now - started)
}
durations.sort()

func milliseconds(_ duration: Duration) -> String {
    String(format: "%.2f ms", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000)
}

let specs = last
print("load + validate \(root.lastPathComponent): \(specs?.fileCount ?? 0) files, \(specs?.stacks.count ?? 0) stacks, \(specs?.environments.count ?? 0) environments, \(specs?.diagnostics.count ?? 0) diagnostics")
print("iterations: \(durations.count)")
print("min    \(milliseconds(durations[0]))")
print("median \(milliseconds(durations[durations.count / 2]))")
print("max    \(milliseconds(durations[durations.count - 1]))")
