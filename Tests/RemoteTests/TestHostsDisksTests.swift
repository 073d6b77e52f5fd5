import Foundation
import Testing
import TestSupport

/// `scripts/test-hosts --disks` run twice at once, as the suites that attach disks do: taking
/// one harness down leaves the other's hosts their own /dev/disk. (Removing the shared mount
/// point /dev/disk at `down` once detached every other harness's disks mid-test, on a machine
/// with no /dev/disk of its own, as a fresh CI machine: the first harness made it.) Prefixes
/// `kfe` and `kff`, hosts without engines.
@Suite("Test hosts with disks: one harness going down leaves another's disks", .serialized)
struct TestHostsDisksTests {
    @Test func downOfOneHarnessKeepsTheOthersDiskFolders() throws {
        let first = try TestHosts.up(count: 1, docker: false, prefix: "kfe", subnet: "10.231.91", disks: true)
        var firstIsUp = true
        defer { if firstIsUp { first.down() } }
        let second = try TestHosts.up(count: 1, docker: false, prefix: "kff", subnet: "10.231.92", disks: true)
        defer { second.down() }
        let folder = try #require(second.hosts[0].diskDirectory)
        let marker = "scsi-0DO_Volume_marker-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createSymbolicLink(atPath: folder + "/" + marker, withDestinationPath: "/dev/null")
        let before = try second.onHost(0, ["/bin/ls", "/dev/disk/by-id"]).stdout
        #expect(before.contains(marker), "the host sees its own disk folder: \(before)")

        first.down()
        firstIsUp = false
        let after = try second.onHost(0, ["/bin/ls", "/dev/disk/by-id"], check: false)
        #expect(after.status == 0 && after.stdout.contains(marker), "still there after the other harness went down: \(after.stdout) \(after.stderr)")
    }
}
