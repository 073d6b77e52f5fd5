import Foundation
import ProviderFakes
import TestSupport

extension LoopDisks {
    /// Follows what a fake does to its block volumes on the test hosts it hands out: an attached
    /// volume's disk appears in its host's /dev/disk/by-id, a detached one goes, a grown one grows.
    func follow(_ event: DiskEvent, on hosts: TestHosts) {
        switch event {
        case .attached(let disk, let host):
            guard let folder = hosts.hosts.first(where: { $0.address == host.address })?.diskDirectory else { return }
            try? attach(disk.id, as: disk.linkName, to: folder)
        case .detached(let disk):
            detach(disk.id)
        case .grew(let disk):
            try? grow(disk.id)
        }
    }
}

extension TestHosts {
    /// The indices of the hosts where the volume `name` is mounted, with the device and what its
    /// `StandInStacks.standInMark` file holds (empty where no task wrote it).
    func volume(_ name: String) throws -> [(host: Int, device: String, mark: String)] {
        var found: [(host: Int, device: String, mark: String)] = []
        for index in hosts.indices {
            guard let device = try kryoformMounts(index)["/mnt/kryoform/\(name)"] else { continue }
            let mark = try onHost(index, ["/bin/cat", "/mnt/kryoform/\(name)/data/\(StandInStacks.standInMark)"], check: false).stdout
            found.append((index, device, mark))
        }
        return found
    }

    /// The lines of host `index`'s /etc/fstab that mount something under /mnt/kryoform.
    func kryoformFstab(_ index: Int) throws -> [String] {
        try onHost(index, ["/bin/cat", "/etc/fstab"]).stdout.split(separator: "\n").map(String.init).filter { $0.contains(" /mnt/kryoform/") }
    }

    /// For a failure message: each host's disk links (name → device) and its kryoform fstab lines.
    func diskReport() -> String {
        hosts.indices.map { index -> String in
            let folder = hosts[index].diskDirectory ?? ""
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            let links = names.map { "\($0) → \((try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + $0)) ?? "?")" }
            return "host \(index) \(hosts[index].address): links [\(links.joined(separator: ", "))], fstab \((try? kryoformFstab(index)) ?? [])"
        }.joined(separator: "; ")
    }
}
