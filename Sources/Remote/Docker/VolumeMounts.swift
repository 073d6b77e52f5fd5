import Foundation
import Planner

/// A cluster volume made ready on its node: found among the device paths the provider names,
/// formatted only when blank (never a disk that holds anything), mounted by UUID at
/// `/mnt/kryoform/<name>` with an fstab entry, and its filesystem grown to the disk's size.
public struct VolumeMountReport: Hashable, Sendable {
    public var device: String
    public var uuid: String
    public var filesystem: String
    /// True when this run made the filesystem (the disk was blank).
    public var formatted: Bool
    /// The filesystem's size after growing, in bytes.
    public var sizeBytes: Int64
}

public enum VolumeMounts {
    /// How long a disk just attached may take to appear on the node.
    public static let deviceWait = 120

    /// The script that prepares the volume `name` from the first of `devices` that exists on
    /// the node, run as root. It prints `kf-volume` with what it found and did, or exits 3
    /// after one line on stderr: `kf-refused` with why the disk's contents are not used, or
    /// `kf-failed` with the step that failed and what it said.
    static func prepareScript(name: String, devices: [String], deviceWait: Int = deviceWait) -> String {
        let mount = VolumeMount.mountPoint(name)
        return """
        set -u
        export LC_ALL=C
        kf_mount=\(shellQuote(mount))
        kf_dev=""
        kf_waited=0
        while :; do
          for kf_candidate in \(devices.map(shellQuote).joined(separator: " ")); do
            if [ -b "$kf_candidate" ]; then kf_dev=$(readlink -f "$kf_candidate"); break; fi
          done
          [ -n "$kf_dev" ] && break
          if [ "$kf_waited" -ge \(deviceWait) ]; then echo "kf-failed no disk appeared at \(devices.joined(separator: " or ")) within \(deviceWait)s" >&2; exit 3; fi
          sleep 1; kf_waited=$((kf_waited + 1))
        done
        kf_formatted=no
        kf_probe=$(blkid -p -o export "$kf_dev" 2>/dev/null); kf_rc=$?
        kf_type=$(printf '%s\\n' "$kf_probe" | sed -n 's/^TYPE=//p')
        kf_table=$(printf '%s\\n' "$kf_probe" | sed -n 's/^PTTYPE=//p')
        if [ "$kf_rc" = 2 ]; then
          kf_said=$(mkfs.ext4 -q -m 0 "$kf_dev" 2>&1) || { echo "kf-failed mkfs.ext4 $kf_dev failed: $(printf '%s' "$kf_said" | tail -n 1)" >&2; exit 3; }
          kf_formatted=yes; kf_type=ext4
        elif [ -n "$kf_table" ]; then
          echo "kf-refused $kf_dev holds a $kf_table partition table; kryoform mounts a whole-disk filesystem and formats only blank disks" >&2; exit 3
        elif [ "$kf_type" != ext4 ] && [ "$kf_type" != xfs ]; then
          echo "kf-refused $kf_dev holds ${kf_type:-something blkid cannot name} (exit $kf_rc); kryoform mounts ext4 or xfs and formats only blank disks" >&2; exit 3
        fi
        kf_uuid=$(blkid -p -o value -s UUID "$kf_dev")
        [ -n "$kf_uuid" ] || { echo "kf-failed the filesystem on $kf_dev has no UUID" >&2; exit 3; }
        # Mounted by UUID after a reboot: that UUID must name this disk alone (a disk made from a
        # snapshot of another one on the node carries the same UUID). Probed, not from a cache.
        kf_same=$(blkid -c /dev/null -o device -t "UUID=$kf_uuid" 2>/dev/null | while read -r kf_other; do
          [ "$(readlink -f "$kf_other")" = "$kf_dev" ] || printf '%s ' "$kf_other"; done)
        if [ -n "$kf_same" ]; then
          echo "kf-refused the filesystem on $kf_dev has UUID $kf_uuid, and so does ${kf_same% } (a copy of the same disk?); kryoform mounts by UUID and cannot tell them apart" >&2; exit 3
        fi
        mkdir -p "$kf_mount"
        kf_line="UUID=$kf_uuid $kf_mount $kf_type defaults,nofail,noatime 0 2"
        if ! grep -qxF "$kf_line" /etc/fstab; then
          \(fstabRewrite(addingLine: true) { "echo \"kf-failed \($0)\" >&2; exit 3" })
          grep -qxF "$kf_line" /etc/fstab || { echo "kf-failed /etc/fstab does not hold the volume's line after writing it" >&2; exit 3; }
          command -v systemctl >/dev/null 2>&1 && systemctl daemon-reload >/dev/null 2>&1
        fi
        kf_source=$(findmnt -rn -o SOURCE --mountpoint "$kf_mount" 2>/dev/null | head -n 1)
        if [ -z "$kf_source" ]; then
          # The disk just checked, by its path: the fstab line serves the reboots.
          kf_said=$(mount -t "$kf_type" -o defaults,noatime "$kf_dev" "$kf_mount" 2>&1) \
            || { echo "kf-failed mount $kf_dev at $kf_mount failed: $(printf '%s' "$kf_said" | tail -n 1)" >&2; exit 3; }
        elif [ "$(readlink -f "$kf_source")" != "$kf_dev" ]; then
          echo "kf-refused $kf_source is mounted at $kf_mount, not the volume's disk $kf_dev" >&2; exit 3
        fi
        # Grown to the disk's size (nothing to do unless the provider grew the disk).
        if [ "$kf_type" = ext4 ]; then kf_said=$(resize2fs "$kf_dev" 2>&1); else kf_said=$(xfs_growfs "$kf_mount" 2>&1); fi \
          || { echo "kf-failed growing the $kf_type filesystem on $kf_dev to the disk's size failed: $(printf '%s' "$kf_said" | tail -n 1)" >&2; exit 3; }
        mkdir -p "$kf_mount/data"
        echo "kf-volume device=$kf_dev uuid=$kf_uuid type=$kf_type formatted=$kf_formatted size=$(df -B1 --output=size "$kf_mount" | tail -n 1 | tr -d ' ')"
        """
    }

    /// The script that unmounts the volume `name` and takes its fstab entry out, before the
    /// provider detaches or deletes the disk. Lazily: a task still stopping keeps nothing open.
    static func releaseScript(name: String) -> String {
        let mount = VolumeMount.mountPoint(name)
        return """
        kf_mount=\(shellQuote(mount))
        if findmnt -rn --mountpoint "$kf_mount" >/dev/null 2>&1; then umount -l "$kf_mount" || exit 3; fi
        if grep -q " $kf_mount " /etc/fstab; then
          \(fstabRewrite(addingLine: false) { _ in "exit 3" })
        fi
        rmdir "$kf_mount" 2>/dev/null || true
        echo kf-released
        """
    }

    /// Shell lines that rewrite /etc/fstab without its line for `$kf_mount`, and with `$kf_line`
    /// when `addingLine`: through a temporary file of this run's own (two runs must never share
    /// one), then copied over fstab in place (fstab may be a bind mount, which a rename would not
    /// replace). `failed(step)` is the shell run when a step fails.
    static func fstabRewrite(addingLine: Bool, failed: (String) -> String) -> String {
        let filter = #"awk -v m="$kf_mount" '$2 != m' /etc/fstab"#
        let contents = addingLine ? #"{ \#(filter) && echo "$kf_line"; }"# : filter
        return """
        kf_tmp=$(mktemp /etc/.fstab.kryoform.XXXXXX) || { \(failed("could not make a temporary file in /etc")); }
        \(contents) > "$kf_tmp" && cat "$kf_tmp" > /etc/fstab || { rm -f "$kf_tmp"; \(failed("writing /etc/fstab failed")); }
        rm -f "$kf_tmp"
        """
    }

    /// `script` as `node`'s login user runs it: as is for root, else through `sudo -n`.
    static func asRoot(_ script: String, on node: NodeEndpoint) -> String {
        node.target.user == "root" ? script : "sudo -n sh -c \(shellQuote(script))"
    }

    /// Reads the `kf-volume` line of the prepare script.
    static func report(_ output: String) -> VolumeMountReport? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("kf-volume ") }) else { return nil }
        var fields: [String: String] = [:]
        for pair in line.dropFirst("kf-volume ".count).split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let device = fields["device"], let uuid = fields["uuid"], let type = fields["type"] else { return nil }
        return VolumeMountReport(device: device, uuid: uuid, filesystem: type, formatted: fields["formatted"] == "yes",
                                 sizeBytes: fields["size"].flatMap { Int64($0) } ?? 0)
    }
}

extension SwarmOperations {
    /// Prepares the cluster volume `name` on `node` (see `VolumeMounts`), then labels the node
    /// so the stacks bound to the volume may run there.
    public func mount(volume name: String, devices: [String], on node: NodeEndpoint, among nodes: [NodeEndpoint]) async throws -> VolumeMountReport {
        guard !devices.isEmpty else {
            throw RemoteError(host: node.target.name, message: "volume \(name): the provider names no device for it on the node",
                              fix: "apply again once the provider reports the volume attached")
        }
        let output: String
        do {
            output = try await shell.run(VolumeMounts.asRoot(VolumeMounts.prepareScript(name: name, devices: devices), on: node), on: node,
                                         mutating: true, what: "mounting volume \(name) at \(VolumeMount.mountPoint(name))",
                                         timeout: .seconds(VolumeMounts.deviceWait + 600))
        } catch let error as RemoteError {
            throw Self.volumeError(error, name: name, node: node)
        }
        guard let report = VolumeMounts.report(output) else {
            throw RemoteError(host: node.target.name, message: "volume \(name): the mount script said nothing of what it did",
                              fix: "see mount and /etc/fstab on the node; apply again")
        }
        try await relabel(node, among: nodes)
        try await waitForPinnedServices(on: node, among: nodes)
        return report
    }

    /// Waits (within `drainWait`) until the services held to `node` by their volume run all
    /// their tasks: after a node's replacement its volume is mounted on the new node, and the
    /// stack whose data is there starts again only then. Nothing to wait for before the stacks
    /// are deployed, or where no manager answers.
    func waitForPinnedServices(on node: NodeEndpoint, among nodes: [NodeEndpoint]) async throws {
        let command = "docker service ls --filter label=\(ServiceLabel.project)=\(shellQuote(project)) --filter label=\(ServiceLabel.environment)=\(shellQuote(environment)) "
            + "--filter label=\(ServiceLabel.pinnedNode)=\(shellQuote(node.address)) --format '{{.Name}} {{.Replicas}}'"
        try await waitUntilNoneShort(read: {
            var short: [String] = []
            try await onAManager(among: nodes, preferringOthersThan: node) { leader, _ in
                short = DrainProgress.parse(try await shell.run(command, on: leader, mutating: false, what: "reading the services whose data is on \(node.address)")).short
            }
            return short
        }, failure: { short in
            RemoteError(host: node.target.name, message: "its volumes are mounted, but after \(drainWait) these services still run fewer tasks than they want: \(short.joined(separator: ", "))",
                        fix: "see docker service ps on a manager; apply again once they run")
        })
    }

    /// Unmounts the cluster volume `name` on `node` and takes its fstab entry out, then
    /// relabels the node so no stack bound to the volume is placed there any more.
    public func unmount(volume name: String, on node: NodeEndpoint, among nodes: [NodeEndpoint]) async throws {
        do {
            try await shell.run(VolumeMounts.asRoot(VolumeMounts.releaseScript(name: name), on: node), on: node, mutating: true,
                                what: "unmounting volume \(name) from \(VolumeMount.mountPoint(name))")
        } catch let error as RemoteError {
            throw Self.volumeError(error, name: name, node: node)
        }
        try await relabel(node, among: nodes)
    }

    /// The script's own reason where it gave one (`kf-refused ...`, `kf-failed ...`), and what to do.
    static func volumeError(_ error: RemoteError, name: String, node: NodeEndpoint) -> RemoteError {
        for marker in ["kf-refused ", "kf-failed "] {
            guard let said = error.message.components(separatedBy: marker).dropFirst().first else { continue }
            let reason = said.split(separator: "\n").first.map(String.init) ?? said
            let fix: String
            if marker == "kf-refused " {
                fix = "kryoform never formats a disk that holds data: empty it yourself if it is yours to lose, or attach the right one; then apply again"
            } else if reason.hasPrefix("no disk appeared") {
                fix = "check at the provider that the volume is attached to this node, and on the node that the disk shows under /dev/disk/by-id; then apply again"
            } else {
                fix = "fix what the command said on the node (the volume keeps its data), then apply again"
            }
            return RemoteError(host: node.target.name, message: "volume \(name): \(reason)", fix: fix)
        }
        let fix = node.target.user == "root" ? error.fix : "connect as root or let \(node.target.user) run sudo without a password (cloud images do); then apply again"
        return RemoteError(host: node.target.name, message: "volume \(name): " + error.message, fix: fix)
    }
}
