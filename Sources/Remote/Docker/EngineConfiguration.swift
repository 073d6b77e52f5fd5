import Foundation

/// The Docker engine's configuration file on a node with GPUs: the GPUs advertised to the
/// swarm as generic resources, and the NVIDIA runtime made the default where the node has it.
public enum EngineConfiguration {
    /// The generic resource kind of a GPU, on the nodes (`NVIDIA-GPU=2`) and in Compose files
    /// (`discrete_resource_spec: {kind: NVIDIA-GPU, value: 2}`). Discrete, not named
    /// (`NVIDIA-GPU=GPU-45cbf7b3`): kryoform knows a node's GPU count from its size, while the
    /// devices' UUIDs only `nvidia-smi` on the node could tell; and a Compose file can only ask
    /// for a discrete count, which Swarm has been reported not to match against named resources
    /// (docker/cli#1805). One form on both sides is what the scheduler is sure to match. The
    /// name is the kind NVIDIA's container toolkit documents for Swarm.
    public static let gpuKind = "NVIDIA-GPU"

    /// Where the engine reads its configuration.
    public static let path = "/etc/docker/daemon.json"

    /// The configuration text for a node with `gpus` GPUs, and whether it differs from
    /// `current` (the file's text; nil or empty where there is none): every other key of the
    /// user's file kept, other kinds of `node-generic-resources` kept, the GPU entry set (or
    /// removed for no GPU), and `default-runtime: nvidia`, with the `nvidia` runtime entry
    /// the container toolkit writes where it is missing, only when the node has
    /// `nvidia-container-runtime`. Throws when `current` is not a JSON object: kryoform does
    /// not rewrite a file it cannot read.
    public static func merged(current: String?, gpus: Int, nvidiaRuntime: Bool) throws -> (text: String, changed: Bool) {
        let existing = current?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        var configuration: [String: Any] = [:]
        if !existing.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(existing.utf8)) as? [String: Any] else {
                throw EngineConfigurationError(message: "\(path) is not a JSON object; kryoform does not rewrite a file it cannot read")
            }
            configuration = object
        }
        let before = try canonical(configuration)
        let others = (configuration["node-generic-resources"] as? [String] ?? []).filter { !$0.hasPrefix("\(gpuKind)=") }
        let resources = others + (gpus > 0 ? ["\(gpuKind)=\(gpus)"] : [])
        configuration["node-generic-resources"] = resources.isEmpty ? nil : resources
        if nvidiaRuntime {
            var runtimes = configuration["runtimes"] as? [String: Any] ?? [:]
            if runtimes["nvidia"] == nil {
                runtimes["nvidia"] = ["path": "nvidia-container-runtime", "runtimeArgs": [String]()] as [String: Any]
            }
            configuration["runtimes"] = runtimes
            configuration["default-runtime"] = "nvidia"
        }
        let after = try canonical(configuration)
        return (after, after != before)
    }

    /// The one read a node's GPU step makes: the file's text (nothing where there is none),
    /// a marker, then where `nvidia-container-runtime` is (nothing where it is not installed).
    static let readScript = "cat \(path) 2>/dev/null; printf '\\n%s\\n' '\(readMarker)'; command -v nvidia-container-runtime || true"
    static let readMarker = "@@kf-nvidia-runtime"

    /// `readScript`'s output as the file's text and whether the node has the NVIDIA runtime;
    /// nil when the output was cut short.
    static func parseRead(_ output: String) -> (current: String, nvidiaRuntime: Bool)? {
        guard let split = output.range(of: "\n\(readMarker)\n") else { return nil }
        return (String(output[..<split.lowerBound]), !output[split.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    /// Writes the new text (from stdin) through a temporary name, so the engine never reads half
    /// a file; `sudo -n` where the user is not root.
    static func writeCommand(asRoot: Bool) -> String {
        let sudo = asRoot ? "" : "sudo -n "
        return "\(sudo)mkdir -p /etc/docker && \(sudo)tee \(path).kryoform >/dev/null && \(sudo)mv \(path).kryoform \(path)"
    }

    /// Restarts the engine so it reads its configuration again.
    static func restartCommand(asRoot: Bool) -> String {
        let sudo = asRoot ? "" : "sudo -n "
        return "\(sudo)systemctl restart docker 2>/dev/null || \(sudo)service docker restart"
    }

    /// The configuration as kryoform writes it: sorted keys, indented, one trailing newline,
    /// so the same settings always give the same text.
    static func canonical(_ configuration: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: configuration, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// A node's engine configuration that kryoform cannot merge into.
struct EngineConfigurationError: Error {
    var message: String
}

extension SwarmOperations {
    /// Advertises `node`'s GPUs to the swarm: merges the engine configuration
    /// (`EngineConfiguration.merged`), and only where its text changed writes it (with `sudo -n`
    /// where the user is not root), restarts the engine and waits until it answers again.
    /// A node without GPUs runs nothing here: its engine configuration stays the user's.
    public func configureGPUs(on node: NodeEndpoint, facts: NodeFacts, waitLimit: Duration = .seconds(90)) async throws {
        guard node.gpus > 0 else { return }
        let file = EngineConfiguration.path
        let read = try await shell.run(EngineConfiguration.readScript, on: node, mutating: false, what: "reading the engine's configuration (\(file))")
        guard let found = EngineConfiguration.parseRead(read) else {
            throw RemoteError(host: node.target.name, message: "reading \(file) ended early")
        }
        let merged: (text: String, changed: Bool)
        do { merged = try EngineConfiguration.merged(current: found.current, gpus: node.gpus, nvidiaRuntime: found.nvidiaRuntime) } catch let error as EngineConfigurationError {
            throw RemoteError(host: node.target.name, message: error.message, fix: "make \(EngineConfiguration.path) valid JSON (or remove it), then apply again")
        }
        guard merged.changed else { return }
        try await shell.run(EngineConfiguration.writeCommand(asRoot: facts.isRoot), on: node, stdin: Data(merged.text.utf8), mutating: true,
                            what: "writing \(file) (\(node.gpus) GPU)")
        try await shell.run(EngineConfiguration.restartCommand(asRoot: facts.isRoot), on: node, mutating: true,
                            what: "restarting the Docker engine for its new configuration")
        let clock = ContinuousClock()
        let deadline = clock.now + waitLimit
        while try await shell.output("docker info --format '{{.ServerVersion}}'", on: node, mutating: false).exitStatus != 0 {
            guard clock.now < deadline else {
                throw RemoteError(host: node.target.name, message: "the Docker engine did not answer within \(waitLimit) of its restart for \(file)",
                                  fix: "see journalctl -u docker on the host; dockerd refuses a configuration it cannot read")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
