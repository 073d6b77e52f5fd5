import Foundation
import Planner
import Remote
import TestSupport

/// The SSH workload of scripts/bench-ssh, through the code `kryoform apply` uses
/// (`NodeConnections`, `NodeShell`, `boundedMap`): on every host of a test-hosts inventory at
/// once, make `~/bench`, read the checksums of the files there in one command, upload the local
/// files that differ (SFTP, temporary name then rename), then run N cheap commands one after
/// another. Prints one JSON line with the wall time and the counts; exits 1 if any host failed.
///
///   kryoform-bench ssh --hosts DIR/hosts.json --files LOCALDIR [--commands 20]
///                      [--known-hosts FILE] [--sessions 1]
enum SSHBench {
    /// A file to place on every host: its remote name, bytes and SHA-256.
    struct LocalFile: Sendable {
        var name: String
        var data: Data
        var sha256: String
    }

    /// What happened on one host, and how long each phase took there.
    struct HostResult: Sendable {
        var error: String?
        var uploaded = 0
        var unchanged = 0
        var commands = 0
        /// Connecting plus the mkdir-and-checksum command.
        var checkSeconds = 0.0
        var uploadSeconds = 0.0
        var commandSeconds = 0.0
    }

    /// The benchmark's options, from the command line.
    struct Options {
        var hostsFile = ""
        var filesFolder = ""
        var commands = 20
        var knownHosts: String?
        var sessions = 1
    }

    /// Runs the benchmark with the arguments after `ssh`; exits 1 on bad arguments or failures.
    static func run(arguments: [String]) async {
        guard let options = parse(arguments) else {
            fail("usage: kryoform-bench ssh --hosts HOSTS_JSON --files FOLDER [--commands N] [--known-hosts FILE] [--sessions N]")
        }
        do {
            let inventory = try TestHosts.read(URL(fileURLWithPath: options.hostsFile))
            let files = try localFiles(in: options.filesFolder)
            let knownHosts = options.knownHosts
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-bench-known-hosts-\(UUID().uuidString)").path
            let settings = SSHSettings(identity: SSHIdentity(privateKeyPath: inventory.key),
                                       knownHosts: KnownHosts.shared(path: knownHosts), policy: .acceptNew,
                                       connectTimeout: .seconds(30))
            let connections = NodeConnections(settings: settings, sessionsPerHost: options.sessions)
            let shell = NodeShell(connections: connections, commandTimeout: .seconds(60))
            let nodes = inventory.hosts.map {
                NodeEndpoint(address: $0.name, target: SSHTarget(name: $0.name, host: $0.address, port: $0.port, user: $0.user), roles: [])
            }
            let clock = ContinuousClock()
            let started = clock.now
            let results = await boundedMap(nodes, limit: nodes.count) { node in
                await configure(node, files: files, commands: options.commands, sessions: options.sessions, shell: shell)
            }
            await connections.closeAll()
            let elapsed = seconds(clock.now - started)
            report(results, nodes: nodes, files: files.count, elapsed: elapsed, options: options)
            if results.contains(where: { $0.error != nil }) { exit(1) }
        } catch {
            fail("kryoform-bench ssh: \(error)")
        }
    }

    /// The workload on one host; failures are recorded, not thrown, so every host gets its turn.
    static func configure(_ node: NodeEndpoint, files: [LocalFile], commands: Int, sessions: Int, shell: NodeShell) async -> HostResult {
        var result = HostResult()
        let clock = ContinuousClock()
        var mark = clock.now
        do {
            let listing = try await shell.run("mkdir -p bench && cd bench && { sha256sum f* 2>/dev/null || true; }", on: node,
                                              mutating: true, what: "read checksums")
            let remote = checksums(listing)
            result.checkSeconds = seconds(clock.now - mark)
            mark = clock.now
            let changed = files.filter { remote[$0.name] != $0.sha256 }
            result.unchanged = files.count - changed.count
            // Uploads are independent: spread them over the host's sessions.
            let failures = await boundedMap(changed, limit: sessions) { file -> String? in
                do {
                    try await shell.upload(file.data, to: "bench/\(file.name)", on: node, mode: 0o644)
                    return nil
                } catch {
                    return String(describing: error)
                }
            }
            if let failure = failures.compactMap({ $0 }).first { throw RemoteError(host: node.target.name, message: failure) }
            result.uploaded = changed.count
            result.uploadSeconds = seconds(clock.now - mark)
            mark = clock.now
            // The commands go over one channel (`runAll`): one shell on the host, not one login per
            // command; each still runs on its own, and the first failure stops the rest.
            let list = (1...max(1, commands)).map { "echo \($0); uname -r >/dev/null; test -d ~/bench" }
            let outputs = try await shell.runAll(list, on: node, mutating: true)
            for (index, output) in outputs.enumerated() where output != "\(index + 1)\n" {
                throw RemoteError(host: node.target.name, message: "command \(index + 1) printed \(output.debugDescription)")
            }
            result.commands = outputs.count
            result.commandSeconds = seconds(clock.now - mark)
        } catch {
            result.error = String(describing: error)
        }
        return result
    }

    /// `sha256sum` output (`<hex>  <name>` per line) as name → hex.
    static func checksums(_ listing: String) -> [String: String] {
        var sums: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "*"))
            sums[name] = String(parts[0])
        }
        return sums
    }

    /// The regular files directly in `folder`, by name.
    static func localFiles(in folder: String) throws -> [LocalFile] {
        let url = URL(fileURLWithPath: folder)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        let files = try names.compactMap { name -> LocalFile? in
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &isFolder),
                  !isFolder.boolValue else { return nil }
            let data = try Data(contentsOf: url.appendingPathComponent(name))
            return LocalFile(name: name, data: data, sha256: ContentHash.sha256(data))
        }
        guard !files.isEmpty else { throw RemoteError(host: "", message: "no files in \(folder)") }
        return files
    }

    /// Prints the JSON summary line, and each failed host on stderr.
    static func report(_ results: [HostResult], nodes: [NodeEndpoint], files: Int, elapsed: Double, options: Options) {
        for (node, result) in zip(nodes, results) {
            if let error = result.error { FileHandle.standardError.write(Data("\(node.target.name): \(error)\n".utf8)) }
        }
        let succeeded = results.filter { $0.error == nil }
        /// The mean of `value` over the hosts that succeeded.
        func average(_ value: (HostResult) -> Double) -> Double {
            succeeded.isEmpty ? 0 : succeeded.map(value).reduce(0, +) / Double(succeeded.count)
        }
        let summary: [String: Any] = [
            "hosts": nodes.count,
            "failed": results.count - succeeded.count,
            "files": files,
            "sessions_per_host": options.sessions,
            "uploaded": results.map(\.uploaded).reduce(0, +),
            "unchanged": results.map(\.unchanged).reduce(0, +),
            "commands": results.map(\.commands).reduce(0, +),
            "seconds": rounded(elapsed),
            "host_average_seconds": [
                "connect_and_checksums": rounded(average(\.checkSeconds)),
                "uploads": rounded(average(\.uploadSeconds)),
                "commands": rounded(average(\.commandSeconds)),
            ],
        ]
        if let data = try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// Reads the options; nil when they are incomplete or malformed.
    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { return nil }
            switch flag {
            case "--hosts": options.hostsFile = value
            case "--files": options.filesFolder = value
            case "--known-hosts": options.knownHosts = value
            case "--commands":
                guard let count = Int(value), count > 0 else { return nil }
                options.commands = count
            case "--sessions":
                guard let count = Int(value), count > 0 else { return nil }
                options.sessions = count
            default: return nil
            }
        }
        return options.hostsFile.isEmpty || options.filesFolder.isEmpty ? nil : options
    }

    /// `duration` in seconds.
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `value` to the millisecond, for printing.
    static func rounded(_ value: Double) -> Double {
        (value * 1000).rounded() / 1000
    }

    /// Prints `message` on stderr and exits 1.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
        exit(1)
    }
}
