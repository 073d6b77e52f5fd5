import Foundation
@testable import Remote
import Synchronization
import Testing
import TestSupport

/// The volume scripts, run for real as root on loop devices, each run in a mount namespace of
/// its own with its own /mnt and /etc/fstab (the machine's are never touched): what the script
/// formats, refuses, mounts and writes is read back from the disk and from the fstab file.
@Suite("Volume scripts on real loop devices", .serialized)
struct VolumeMountScriptTests {
    /// A scratch folder with loop devices over sparse files and the fstab the scripts edit.
    /// `@unchecked Sendable`: disks are made before any concurrent use; `run` only reads.
    final class Bench: @unchecked Sendable {
        let folder: URL
        var loops: [String] = []
        var fstab: URL { folder.appendingPathComponent("fstab") }

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-volume-script-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("mnt"), withIntermediateDirectories: true)
            try Data("# the machine's own lines\nproc /proc proc defaults 0 0\n".utf8).write(to: fstab)
        }

        /// A 64 MiB disk, `prepare` run on its file first (to put something on it); its loop device.
        func disk(_ name: String, prepare: (URL) throws -> Void = { _ in }) throws -> String {
            let file = folder.appendingPathComponent("\(name).img")
            try LocalTool.run("/usr/bin/truncate", ["-s", "64M", file.path])
            try prepare(file)
            let loop = try LocalTool.run("/usr/sbin/losetup", ["--find", "--show", file.path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            loops.append(loop)
            return loop
        }

        /// Runs `script` as root with this bench's /mnt and /etc/fstab.
        func run(_ script: String) throws -> ToolResult {
            let inside = "mount --bind \(shellQuote(fstab.path)) /etc/fstab && mount --bind \(shellQuote(folder.appendingPathComponent("mnt").path)) /mnt && exec /bin/sh -c \(shellQuote(script))"
            return try LocalTool.run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", inside], check: false, timeout: 120)
        }

        func fstabLines() throws -> [String] {
            try String(contentsOf: fstab, encoding: .utf8).split(separator: "\n").map(String.init)
        }

        func remove() {
            for loop in loops { _ = try? LocalTool.run("/usr/sbin/losetup", ["--detach", loop], check: false) }
            try? FileManager.default.removeItem(at: folder)
        }
    }

    static func prepare(_ name: String, _ devices: [String]) -> String {
        VolumeMounts.prepareScript(name: name, devices: devices, deviceWait: 2)
    }

    @Test("a blank disk is formatted once, mounted and written to fstab by UUID; the next run keeps it")
    func blankDiskFormattedOnce() throws {
        let bench = try Bench()
        defer { bench.remove() }
        let loop = try bench.disk("blank")
        let first = try bench.run(Self.prepare("pgdata", ["/dev/disk/by-id/not-there", loop]))
        #expect(first.status == 0, "\(first.stderr)")
        let made = try #require(VolumeMounts.report(first.stdout), "\(first.stdout)")
        #expect(made.formatted && made.filesystem == "ext4" && made.device == loop && !made.uuid.isEmpty)
        #expect(made.sizeBytes > 50_000_000, "the whole 64 MiB disk: \(made.sizeBytes)")
        let uuid = try LocalTool.run("/usr/sbin/blkid", ["-p", "-o", "value", "-s", "UUID", loop]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(uuid == made.uuid)
        let lines = try bench.fstabLines()
        #expect(lines == ["# the machine's own lines", "proc /proc proc defaults 0 0",
                          "UUID=\(uuid) /mnt/kryoform/pgdata ext4 defaults,nofail,noatime 0 2"], "\(lines)")

        let again = try bench.run(Self.prepare("pgdata", [loop]))
        #expect(again.status == 0, "\(again.stderr)")
        let kept = try #require(VolumeMounts.report(again.stdout))
        #expect(!kept.formatted && kept.uuid == uuid, "not formatted again: \(again.stdout)")
        #expect(try bench.fstabLines() == lines, "one line, not two")
    }

    @Test("a disk with a partition table, or with a filesystem kryoform does not mount, is refused and left as it was")
    func foreignDisksRefused() throws {
        let bench = try Bench()
        defer { bench.remove() }
        let partitioned = try bench.disk("partitioned") { file in
            // An MBR with one Linux partition from sector 2048, as fdisk writes it.
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            var entry: [UInt8] = [0x00, 0x20, 0x21, 0x00, 0x83, 0x08, 0x28, 0x08]
            entry += [0x00, 0x08, 0x00, 0x00, 0x00, 0xF8, 0x01, 0x00]
            try handle.seek(toOffset: 446)
            handle.write(Data(entry))
            try handle.seek(toOffset: 510)
            handle.write(Data([0x55, 0xAA]))
        }
        let swap = try bench.disk("swap") { file in try LocalTool.run("/usr/sbin/mkswap", ["-q", file.path]) }
        for (loop, said) in [(partitioned, "holds a dos partition table"), (swap, "holds swap")] {
            let before = try LocalTool.run("/usr/sbin/blkid", ["-p", "-o", "export", loop], check: false).stdout
            let refused = try bench.run(Self.prepare("data", [loop]))
            #expect(refused.status == 3)
            #expect(refused.stderr.hasPrefix("kf-refused \(loop) \(said)"), "\(refused.stderr)")
            #expect(try LocalTool.run("/usr/sbin/blkid", ["-p", "-o", "export", loop], check: false).stdout == before, "left as it was")
            #expect(!(try bench.fstabLines()).contains { $0.contains("/mnt/kryoform/") })
        }
    }

    @Test("a disk whose filesystem UUID another disk shares (a copy) is refused: mounting by UUID could take either")
    func duplicateUUIDRefused() throws {
        let bench = try Bench()
        defer { bench.remove() }
        let original = try bench.disk("original") { file in try LocalTool.run("/usr/sbin/mkfs.ext4", ["-q", "-F", file.path]) }
        let copy = try bench.disk("copy") { file in
            try? FileManager.default.removeItem(at: file)
            try FileManager.default.copyItem(at: bench.folder.appendingPathComponent("original.img"), to: file)
        }
        let refused = try bench.run(Self.prepare("data", [original]))
        #expect(refused.status == 3)
        #expect(refused.stderr.hasPrefix("kf-refused the filesystem on \(original) has UUID ") && refused.stderr.contains("and so does \(copy) "),
                "\(refused.stderr)")
        #expect(!(try bench.fstabLines()).contains { $0.contains("/mnt/kryoform/") })
    }

    @Test("hosts preparing volumes at the same time each keep their own fstab lines (no temporary file is shared)")
    func concurrentHostsKeepTheirFstab() throws {
        // Two benches are two hosts: their own /etc/fstab, the machine's /etc otherwise, as the
        // test hosts are. Each prepares four volumes, both at once.
        let benches = [try Bench(), try Bench()]
        defer { benches.forEach { $0.remove() } }
        let loops = try benches.map { bench in try (1...4).map { try bench.disk("v\($0)") } }
        let results = Mutex<[Int: [ToolResult?]]>([:])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            var mine: [ToolResult?] = []
            for (number, loop) in loops[index].enumerated() {
                mine.append(try? benches[index].run(Self.prepare("v\(number + 1)", [loop])))
            }
            results.withLock { $0[index] = mine }
        }
        for index in 0..<2 {
            let runs = results.withLock { $0[index] ?? [] }
            #expect(runs.count == 4 && runs.allSatisfy { $0?.status == 0 }, "\(runs.map { $0?.stderr ?? "did not run" })")
            let lines = try benches[index].fstabLines().filter { $0.contains(" /mnt/kryoform/") }
            #expect(lines.count == 4 && (1...4).allSatisfy { number in lines.contains { $0.contains(" /mnt/kryoform/v\(number) ") } }, "host \(index): \(lines)")
        }
    }

    @Test("no disk at any of the paths within the wait: kf-failed naming them")
    func missingDiskFails() throws {
        let bench = try Bench()
        defer { bench.remove() }
        let failed = try bench.run(Self.prepare("data", ["/dev/disk/by-id/virtio-missing"]))
        #expect(failed.status == 3)
        #expect(failed.stderr.hasPrefix("kf-failed no disk appeared at /dev/disk/by-id/virtio-missing within 2s"), "\(failed.stderr)")
    }

    @Test("release unmounts the volume and takes its fstab line out, keeping the machine's own")
    func releaseUndoesPrepare() throws {
        let bench = try Bench()
        defer { bench.remove() }
        let loop = try bench.disk("released")
        // Prepared and released in one namespace, so the mount is there to release.
        let both = try bench.run(Self.prepare("cache", [loop]) + "\nfindmnt -rn -o SOURCE --mountpoint /mnt/kryoform/cache\n"
                                 + VolumeMounts.releaseScript(name: "cache") + "\nfindmnt -rn --mountpoint /mnt/kryoform/cache || echo kf-not-mounted")
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout.contains("\n\(loop)\n") && both.stdout.contains("kf-released\nkf-not-mounted"), "\(both.stdout)")
        #expect(try bench.fstabLines() == ["# the machine's own lines", "proc /proc proc defaults 0 0"])
    }
}
