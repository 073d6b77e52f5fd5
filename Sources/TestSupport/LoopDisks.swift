import Foundation
import Synchronization

/// Block volumes for test hosts made with `disks`: each disk is a loop device over a sparse
/// file, and attaching it to a host links it into that host's own /dev/disk/by-id under the
/// name the provider gives the volume there, as udev does on a cloud node. The file keeps the
/// data while the disk is detached, so a disk attached again to another host brings its data.
/// The disks are small (`sizeMiB`) whatever size the volume has at the provider: what the
/// tests check is that the volume is found, formatted once, mounted, kept and grown.
public final class LoopDisks: Sendable {
    private struct Disk {
        var file: URL
        var loop: String
        var linkedAt: [String]
    }

    public let directory: URL
    public let sizeMiB: Int
    /// The filesystem each new disk already holds (`xfs`), as a disk formatted before kryoform
    /// saw it; nil for blank disks.
    public let format: String?
    private let disks = Mutex<[String: Disk]>([:])

    public init(sizeMiB: Int = 64, format: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-loop-disks-\(UUID().uuidString)")
        self.sizeMiB = sizeMiB
        self.format = format
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Attaches disk `id` (made on first use) to the host whose /dev/disk/by-id is `hostDirectory`, as `linkName`.
    public func attach(_ id: String, as linkName: String, to hostDirectory: String) throws {
        let disk = try disks.withLock { disks -> Disk in
            if let disk = disks[id] { return disk }
            let file = directory.appendingPathComponent("\(disks.count + 1).img")
            try LocalTool.run("/usr/bin/truncate", ["-s", "\(sizeMiB)M", file.path])
            let loop = try LocalTool.run("/usr/sbin/losetup", ["--find", "--show", file.path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if let format { try LocalTool.run("/usr/sbin/mkfs.\(format)", ["-q", loop]) }
            let disk = Disk(file: file, loop: loop, linkedAt: [])
            disks[id] = disk
            return disk
        }
        let link = URL(fileURLWithPath: hostDirectory).appendingPathComponent(linkName).path
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: disk.loop)
        disks.withLock { $0[id]?.linkedAt.append(link) }
    }

    /// Detaches disk `id` from every host it is linked on; its data stays.
    public func detach(_ id: String) {
        let links = disks.withLock { disks -> [String] in
            let links = disks[id]?.linkedAt ?? []
            disks[id]?.linkedAt = []
            return links
        }
        for link in links { try? FileManager.default.removeItem(atPath: link) }
    }

    /// Grows disk `id` by `sizeMiB` and tells the kernel, as a provider's resize does.
    public func grow(_ id: String) throws {
        guard let disk = disks.withLock({ $0[id] }) else { return }
        try LocalTool.run("/usr/bin/truncate", ["-s", "+\(sizeMiB)M", disk.file.path])
        try LocalTool.run("/usr/sbin/losetup", ["--set-capacity", disk.loop])
    }

    /// The loop device of disk `id`.
    public func device(_ id: String) -> String? { disks.withLock { $0[id]?.loop } }

    /// Detaches every loop device and removes the files; call once the hosts are down (a
    /// mounted disk cannot be detached).
    public func remove() {
        let all = disks.withLock { disks -> [Disk] in
            let all = Array(disks.values)
            disks = [:]
            return all
        }
        for disk in all {
            for link in disk.linkedAt { try? FileManager.default.removeItem(atPath: link) }
            _ = try? LocalTool.run("/usr/sbin/losetup", ["--detach", disk.loop], check: false)
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
