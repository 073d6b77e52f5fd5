import Foundation
@testable import Remote
import Testing

@Suite("The engine configuration (daemon.json) of a node with GPUs")
struct EngineConfigurationTests {
    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("no file yet: the GPUs are advertised as one discrete NVIDIA-GPU resource, nothing else is added without the NVIDIA runtime")
    func freshNode() throws {
        let merged = try EngineConfiguration.merged(current: nil, gpus: 2, nvidiaRuntime: false)
        #expect(merged.changed)
        let configuration = try Self.object(merged.text)
        #expect(configuration["node-generic-resources"] as? [String] == ["NVIDIA-GPU=2"])
        #expect(configuration["default-runtime"] == nil && configuration["runtimes"] == nil)
        #expect(configuration.count == 1)
    }

    @Test("the user's keys and other generic resources stay; an old GPU count is replaced, not added to")
    func keepsTheUsersSettings() throws {
        let current = """
        {"log-driver": "journald", "insecure-registries": ["10.0.0.5:5000"],
         "node-generic-resources": ["fpga=1", "NVIDIA-GPU=1"], "features": {"buildkit": true}}
        """
        let merged = try EngineConfiguration.merged(current: current, gpus: 4, nvidiaRuntime: false)
        #expect(merged.changed)
        let configuration = try Self.object(merged.text)
        #expect(configuration["log-driver"] as? String == "journald")
        #expect(configuration["insecure-registries"] as? [String] == ["10.0.0.5:5000"])
        #expect((configuration["features"] as? [String: Any])?["buildkit"] as? Bool == true)
        #expect(configuration["node-generic-resources"] as? [String] == ["fpga=1", "NVIDIA-GPU=4"])
    }

    @Test("with nvidia-container-runtime on the node: default-runtime nvidia, the runtime entry added where missing and kept where the toolkit wrote it")
    func nvidiaRuntime() throws {
        let added = try Self.object(try EngineConfiguration.merged(current: "{}", gpus: 1, nvidiaRuntime: true).text)
        #expect(added["default-runtime"] as? String == "nvidia")
        let runtime = try #require((added["runtimes"] as? [String: Any])?["nvidia"] as? [String: Any])
        #expect(runtime["path"] as? String == "nvidia-container-runtime")

        let toolkit = #"{"runtimes": {"nvidia": {"args": [], "path": "/usr/bin/nvidia-container-runtime"}, "crun": {"path": "/usr/bin/crun"}}}"#
        let kept = try Self.object(try EngineConfiguration.merged(current: toolkit, gpus: 1, nvidiaRuntime: true).text)
        let runtimes = try #require(kept["runtimes"] as? [String: Any])
        #expect((runtimes["nvidia"] as? [String: Any])?["path"] as? String == "/usr/bin/nvidia-container-runtime")
        #expect(runtimes["crun"] != nil)
        #expect(kept["default-runtime"] as? String == "nvidia")
    }

    @Test("merging again gives the same text and no change, however the user's file was laid out: the engine is not restarted for nothing")
    func unchangedIsUnchanged() throws {
        let first = try EngineConfiguration.merged(current: #"{"log-level":"warn"}"#, gpus: 2, nvidiaRuntime: true)
        let again = try EngineConfiguration.merged(current: first.text, gpus: 2, nvidiaRuntime: true)
        #expect(!again.changed && again.text == first.text)
        let compact = #"{"node-generic-resources":["NVIDIA-GPU=2"]}"#
        #expect(try !EngineConfiguration.merged(current: compact, gpus: 2, nvidiaRuntime: false).changed)
    }

    @Test("the node's one read: the file's text (none when missing), then whether nvidia-container-runtime is there; cut short is nil")
    func readingTheNode() throws {
        let marker = EngineConfiguration.readMarker
        let found = try #require(EngineConfiguration.parseRead("{\"log-level\": \"warn\"}\n\(marker)\n/usr/bin/nvidia-container-runtime\n"))
        #expect(found.current == "{\"log-level\": \"warn\"}" && found.nvidiaRuntime)
        let missing = try #require(EngineConfiguration.parseRead("\n\(marker)\n"))
        #expect(missing.current.isEmpty && !missing.nvidiaRuntime)
        #expect(EngineConfiguration.parseRead("{\"log-level\"") == nil)
        // The script itself, run by a POSIX shell here (reading only): its output parses.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", EngineConfiguration.readScript]
        let pipe = Pipe()
        shell.standardOutput = pipe
        try shell.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
        #expect(EngineConfiguration.parseRead(output) != nil, "\(output)")
    }

    @Test("the file is written through a temporary name and the engine restarted, with sudo -n only where the user is not root")
    func writeAndRestartCommands() {
        let root = EngineConfiguration.writeCommand(asRoot: true)
        #expect(!root.contains("sudo") && root.hasSuffix("mv /etc/docker/daemon.json.kryoform /etc/docker/daemon.json"))
        #expect(EngineConfiguration.writeCommand(asRoot: false).contains("sudo -n tee /etc/docker/daemon.json.kryoform"))
        #expect(EngineConfiguration.restartCommand(asRoot: false) == "sudo -n systemctl restart docker 2>/dev/null || sudo -n service docker restart")
    }

    @Test("a file that is not a JSON object is refused, not overwritten")
    func unreadableFile() {
        #expect(throws: (any Error).self) { try EngineConfiguration.merged(current: "{ not json", gpus: 1, nvidiaRuntime: false) }
        #expect(throws: (any Error).self) { try EngineConfiguration.merged(current: "[1, 2]", gpus: 1, nvidiaRuntime: false) }
    }
}
