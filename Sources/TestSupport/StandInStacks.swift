import Foundation
import Yams

/// The shipped stacks with their shape kept (names, roles, replicas or global mode, ports,
/// volumes, secrets, dependencies) and what this machine cannot run replaced: every service
/// runs the test hosts' imported busybox image sleeping (having written its name into each of
/// its volumes, `standInMark`), reserves almost nothing (the test
/// hosts share two cores), and has no limits, health check or GPU.
public enum StandInStacks {
    public static let image = "kryoform/busybox"
    /// The file each task of a stack with volumes appends its host name to, in each volume.
    public static let standInMark = "kryoform-stand-in"

    /// Rewrites every service stack under `root/stacks` in place, and drops the resources the
    /// environments' `overrides` give stacks (their replicas stay) and the GPUs their clusters
    /// ask for (no GPU here, and the GPU step would write the engine's configuration, which the
    /// test hosts share with this machine); returns how many stacks.
    @discardableResult
    public static func write(under root: URL) throws -> Int {
        let folder = root.appendingPathComponent("stacks")
        var count = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where file.hasSuffix(".yaml") {
            let url = folder.appendingPathComponent(file)
            guard var stack = try Yams.load(yaml: String(contentsOf: url, encoding: .utf8)) as? [String: Any],
                  stack["kind"] as? String == "service" else { continue }
            stack["image"] = image
            stack["version"] = "1"
            // Each task leaves its name in every volume it mounts, once a start, then sleeps.
            let paths = (stack["volumes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            stack["command"] = paths.isEmpty ? ["sleep", "2147483647"]
                : ["sh", "-c", "for d in \(paths.joined(separator: " ")); do hostname >> \"$d/\(standInMark)\" || exit 1; done; exec sleep 2147483647"]
            stack["resources"] = ["cpu": 0.01, "memory": "4MiB"]
            for key in ["limits", "health"] { stack[key] = nil }
            try Yams.dump(object: stack, sortKeys: true).write(to: url, atomically: true, encoding: .utf8)
            count += 1
        }
        let environments = root.appendingPathComponent("environments")
        for file in try FileManager.default.contentsOfDirectory(atPath: environments.path).sorted() where file.hasSuffix(".yaml") {
            let url = environments.appendingPathComponent(file)
            guard var environment = try Yams.load(yaml: String(contentsOf: url, encoding: .utf8)) as? [String: Any] else { continue }
            if let overrides = environment["overrides"] as? [String: Any] {
                environment["overrides"] = overrides.mapValues { override -> Any in
                    guard var fields = override as? [String: Any] else { return override }
                    fields["resources"] = nil
                    return fields
                }
            }
            if let clusters = environment["clusters"] as? [String: Any] {
                environment["clusters"] = clusters.mapValues { cluster -> Any in
                    guard var fields = cluster as? [String: Any], var size = fields["size"] as? [String: Any] else { return cluster }
                    size["gpu"] = nil
                    fields["size"] = size
                    return fields
                }
            }
            try Yams.dump(object: environment, sortKeys: true).write(to: url, atomically: true, encoding: .utf8)
        }
        return count
    }
}
