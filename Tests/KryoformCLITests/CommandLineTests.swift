import Foundation
import Testing

/// Runs the built `kryoform` binary as a user would, and captures what it prints.
struct CommandRun {
    var status: Int32
    var stdout: String
    var stderr: String

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: URL {
        // scripts/sanitize names the sanitizer build's binary.
        if let named = ProcessInfo.processInfo.environment["KRYOFORM_BINARY"], !named.isEmpty { return URL(fileURLWithPath: named) }
        let beside = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("kryoform")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        // The binary of the configuration these tests were built in: the suite runs on the
        // release build in CI (scripts/test), so the end-to-end tests drive what users install.
        #if DEBUG
        return packageRoot.appendingPathComponent(".build/debug/kryoform")
        #else
        return packageRoot.appendingPathComponent(".build/release/kryoform")
        #endif
    }

    /// Runs kryoform and waits for it, at most `timeout` seconds: past that it is killed and the
    /// run reports status -1 with why in `stderr`, so a hung command fails its test instead of
    /// hanging the suite. Output goes to files, not pipes, so a command that writes much to one
    /// stream never blocks on the other. `input` is its standard input (none by default, as for
    /// a pipeline step: no terminal).
    static func run(_ arguments: [String], in directory: URL = packageRoot, environment: [String: String] = [:],
                    input: String = "", timeout: Double = 600) throws -> CommandRun {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (inPath, outPath, errPath) = (folder.appendingPathComponent("in"), folder.appendingPathComponent("out"), folder.appendingPathComponent("err"))
        try Data(input.utf8).write(to: inPath)
        for path in [outPath, errPath] { FileManager.default.createFile(atPath: path.path, contents: nil) }
        let (stdin, stdout, stderr) = (try FileHandle(forReadingFrom: inPath), try FileHandle(forWritingTo: outPath), try FileHandle(forWritingTo: errPath))
        defer { for handle in [stdin, stdout, stderr] { try? handle.close() } }

        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        let finished = exited.wait(timeout: .now() + timeout) == .success
        if !finished {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
        let printed = String(decoding: (try? Data(contentsOf: outPath)) ?? Data(), as: UTF8.self)
        let complained = String(decoding: (try? Data(contentsOf: errPath)) ?? Data(), as: UTF8.self)
        guard finished else {
            return CommandRun(status: -1, stdout: printed,
                              stderr: complained + "\n[test] kryoform \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s and was killed\n")
        }
        return CommandRun(status: process.terminationStatus, stdout: printed, stderr: complained)
    }
}

/// A throwaway copy of this repository's own project (kryoform.yaml, stacks, environments).
/// Rewrites a file of a project copy in place.
func editFile(_ file: URL, _ edit: (inout String) -> Void) throws {
    var text = try String(contentsOf: file, encoding: .utf8)
    edit(&text)
    try text.write(to: file, atomically: true, encoding: .utf8)
}

extension CommandRun {
    /// Runs kryoform on a thread of its own, so a fake server in this process keeps answering meanwhile.
    static func runDetached(_ arguments: [String], in root: URL, environment: [String: String]) async -> CommandRun {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let run = (try? CommandRun.run(arguments, in: root, environment: environment)) ?? CommandRun(status: -1, stdout: "", stderr: "could not start kryoform")
                continuation.resume(returning: run)
            }
        }
    }
}

/// A copy of the shipped project. Unless `configureNodes`, its cloud environments say
/// `configure_nodes: false`: the suites of the cloud half (fake providers, moto) then plan and
/// apply the cloud resources alone, and no SSH goes to the fakes' made-up node addresses. The
/// cloud suites on real test hosts (CloudNodesEndToEndTests) configure the nodes.
func shippedProjectCopy(prefix: String, configureNodes: Bool = false) throws -> URL {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    for item in ["kryoform.yaml", "stacks", "environments"] {
        try FileManager.default.copyItem(at: CommandRun.packageRoot.appendingPathComponent(item), to: root.appendingPathComponent(item))
    }
    if !configureNodes { try leaveNodesUnconfigured(in: root) }
    return root
}

/// Adds `configure_nodes: false` to every environment of `root` whose provider is a cloud.
func leaveNodesUnconfigured(in root: URL) throws {
    let folder = root.appendingPathComponent("environments")
    for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".yaml") {
        let url = folder.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        guard !text.contains("name: sandbox"), !text.contains("name: static"), !text.contains("configure_nodes:") else { continue }
        try (text + (text.hasSuffix("\n") ? "" : "\n") + "configure_nodes: false\n").write(to: url, atomically: true, encoding: .utf8)
    }
}

/// A throwaway copy of the corpus base project, with `changes` written over it.
func temporaryProject(_ changes: [String: String] = [:]) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-cli-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: CommandRun.packageRoot.appendingPathComponent("Tests/SpecTests/Corpus/base"), to: directory)
    try leaveNodesUnconfigured(in: directory)
    for (path, text) in changes {
        try text.write(to: directory.appendingPathComponent(path), atomically: true, encoding: .utf8)
    }
    return directory
}

@Suite("The kryoform command line")
struct CommandLineTests {
    @Test("validate on the shipped project exits 0 and says every file is valid")
    func validateShippedProject() throws {
        let run = try CommandRun.run(["validate"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("✓ 80 files valid (75 stacks, 4 environments): no problems"))
    }

    @Test("validate finds the project from a subfolder, as git does")
    func findsProjectUpward() throws {
        let run = try CommandRun.run(["validate", "-e", "prod"], in: CommandRun.packageRoot.appendingPathComponent("stacks"))
        #expect(run.status == 0)
        #expect(run.stdout.contains("environment prod valid"))
    }

    @Test("a broken project exits 1 with file:line:col, the quoted line, a caret and the fix; no colour into a pipe")
    func brokenProjectIsLocated() throws {
        let web = try String(contentsOf: CommandRun.packageRoot.appendingPathComponent("Tests/SpecTests/Corpus/base/stacks/web.yaml"), encoding: .utf8)
        let project = try temporaryProject(["stacks/web.yaml": web.replacingOccurrences(of: "replicas: 2", with: "replica: 2")])
        defer { try? FileManager.default.removeItem(at: project) }
        let run = try CommandRun.run(["validate", "-C", project.path])
        #expect(run.status == 1)
        let expected = """
        stacks/web.yaml:7:1: error: unknown key 'replica' in stack
         7 | replica: 2
           | ^~~~~~~
           = fix: did you mean 'replicas'?
        """
        #expect(run.stdout.contains(expected))
        #expect(run.stdout.contains("✗ 6 files (4 stacks, 1 environment): 1 error"))
        #expect(!run.stdout.contains("\u{1B}["))
    }

    @Test("validate --json reports the diagnostics as data")
    func validateJSON() throws {
        let project = try temporaryProject(["stacks/numpy.yaml": "stack: numpy\nkind: library\nlayer: ai\nrole: application\nimage: python\n"])
        defer { try? FileManager.default.removeItem(at: project) }
        let run = try CommandRun.run(["validate", "--json", "-C", project.path])
        #expect(run.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(json["valid"] as? Bool == false)
        #expect(json["errors"] as? Int == 1)
        let diagnostic = try #require((json["diagnostics"] as? [[String: Any]])?.first)
        let location = try #require(diagnostic["location"] as? [String: Any])
        #expect(location["file"] as? String == "stacks/numpy.yaml")
        #expect(location["line"] as? Int == 5)
        #expect(location["column"] as? Int == 1)
        #expect(diagnostic["severity"] as? String == "error")
        #expect(diagnostic["message"] as? String == "a library stack deploys nothing, so 'image' does not apply")
    }

    @Test("--explain-capacity prints the per-role table with reserved and offered amounts")
    func explainCapacity() throws {
        let run = try CommandRun.run(["validate", "-e", "prod", "--explain-capacity", "--no-color"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("Capacity of environment prod (each node keeps 1 vCPU and 1GiB for the system)"))
        let aiRow = try #require(run.stdout.split(separator: "\n").first { $0.contains(" ai ") && $0.contains("ollama") })
        #expect(aiRow.contains("6.75 / 7"))
        #expect(aiRow.contains("27GiB / 31GiB"))
        #expect(aiRow.contains("1 / 1"))
    }

    @Test("inventory lists all 75 stacks by layer")
    func inventory() throws {
        let run = try CommandRun.run(["inventory"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("75 stacks: 49 services, 15 libraries, 11 external"))
        #expect(run.stdout.contains("infrastructure (12)"))
        let json = try CommandRun.run(["inventory", "--json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 75)
        #expect(entries.contains { $0["name"] as? String == "grafana" && ($0["depends_on"] as? [String])?.contains("prometheus") == true })
    }

    @Test("an unknown environment, a missing project and a bad flag each exit 1 with one clear line")
    func usageErrors() throws {
        let unknown = try CommandRun.run(["validate", "-e", "prd"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("error: no environment 'prd'; this project has dev, local, prod, staging"))
        #expect(unknown.stderr.contains("did you mean 'prod'?"))

        let nowhere = try CommandRun.run(["validate"], in: FileManager.default.temporaryDirectory)
        #expect(nowhere.status == 1)
        #expect(nowhere.stderr.contains("error: no kryoform.yaml in this folder or any folder above it"))

        let flag = try CommandRun.run(["validate", "--jsn"])
        #expect(flag.status == 1)
        #expect(flag.stderr.contains("--jsn"))
        #expect(!flag.stderr.contains("Fatal error"))
    }
}
