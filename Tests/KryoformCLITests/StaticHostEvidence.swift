import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A secret's value in the forms it could leak in: as written, in base64 (standard and URL
/// alphabets, at each of the three alignments it can have inside a longer encoded text) and in
/// hex (lower and upper case).
struct SecretForms {
    var forms: [(name: String, bytes: Data)] = []

    init(_ value: String) {
        let bytes = Array(value.utf8)
        forms.append(("the value", Data(bytes)))
        for shift in 0..<3 {
            // Shifted by `shift` bytes, only the groups of four characters made of the value's
            // bytes alone are the same whatever surrounds it: not the first group (it holds the
            // shift), not a last, incomplete one (it holds what follows).
            let padded = [UInt8](repeating: 0, count: shift) + bytes
            let encoded = Array(Data(padded).base64EncodedString().utf8)
            let first = shift == 0 ? 0 : 1, complete = padded.count / 3
            guard complete > first else { continue }
            let standard = Array(encoded[(first * 4)..<(complete * 4)])
            forms.append(("base64 (shifted \(shift))", Data(standard)))
            let url = standard.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 }
            if url != standard { forms.append(("base64url (shifted \(shift))", Data(url))) }
        }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        forms.append(("hex", Data(hex.utf8)))
        forms.append(("HEX", Data(hex.uppercased().utf8)))
    }

    /// The names of the forms `data` holds.
    func found(in data: Data) -> [String] {
        forms.filter { data.range(of: $0.bytes) != nil }.map(\.name)
    }
}

/// Every run of kryoform a test made, to be searched afterwards.
struct Transcript {
    var runs: [(label: String, run: CommandRun)] = []

    mutating func add(_ label: String, _ run: CommandRun) -> CommandRun {
        runs.append((label, run))
        return run
    }

    /// `where: forms` for each stdout or stderr that holds one of `secret`'s forms.
    func leaks(of secret: SecretForms) -> [String] {
        runs.flatMap { label, run in
            [("stdout", run.stdout), ("stderr", run.stderr)].compactMap { stream, text in
                let found = secret.found(in: Data(text.utf8))
                return found.isEmpty ? nil : "\(stream) of `\(label)`: \(found.joined(separator: ", "))"
            }
        }
    }
}

/// `path: forms` for each file under `folder` that holds one of `secret`'s forms; also how many
/// files were searched, so an empty folder does not pass for a clean one.
func leaks(of secret: SecretForms, inFilesUnder folder: URL) throws -> (leaks: [String], searched: Int) {
    var found: [String] = [], searched = 0
    guard let walk = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return ([], 0) }
    for case let file as URL in walk where (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
        searched += 1
        let forms = secret.found(in: try Data(contentsOf: file))
        if !forms.isEmpty { found.append("\(file.path): \(forms.joined(separator: ", "))") }
    }
    return (found, searched)
}

/// Every file under `folder`, path → bytes.
func fileContents(under folder: URL) throws -> [String: Data] {
    var files: [String: Data] = [:]
    guard let walk = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [:] }
    for case let file as URL in walk where (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
        files[file.path.replacingOccurrences(of: folder.path, with: "")] = try Data(contentsOf: file)
    }
    return files
}

/// What the test hosts themselves say: the swarm's object versions, their sshd logs, their host keys.
extension LabProject {
    /// `kind name → version` of every service, secret and node of the swarm (Docker's
    /// `Version.Index`, which grows on every change of the object) and every swarm-scoped
    /// network (which has no version: its id and creation time, which a re-creation changes).
    func swarmVersions() throws -> [String: String] {
        var versions: [String: String] = [:]
        for (kind, list, name) in [("service", "service", "{{.Spec.Name}}"), ("secret", "secret", "{{.Spec.Name}}"),
                                   ("node", "node", "{{.Description.Hostname}}")] {
            let ids = try hosts.docker(0, [list, "ls", "-q"]).split(separator: "\n").map(String.init)
            guard !ids.isEmpty else { continue }
            for line in try hosts.docker(0, [kind, "inspect", "--format", "\(name) {{.Version.Index}}"] + ids).split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 1).map(String.init)
                versions["\(kind) \(fields[0])"] = fields.count > 1 ? fields[1] : ""
            }
        }
        let networks = try hosts.docker(0, ["network", "ls", "-q", "--filter", "scope=swarm"]).split(separator: "\n").map(String.init)
        if !networks.isEmpty {
            for line in try hosts.docker(0, ["network", "inspect", "--format", "{{.Name}} {{.Id}} {{.Created}}"] + networks).split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 1).map(String.init)
                versions["network \(fields[0])"] = fields.count > 1 ? fields[1] : ""
            }
        }
        return versions
    }

    /// The folder of host `index` made by scripts/test-hosts (its sshd config, log and host key).
    func hostFolder(_ index: Int) -> URL {
        hosts.directory.appendingPathComponent("hosts/\(index + 1)")
    }

    /// The home folder of host `index`'s user.
    func home(_ index: Int) -> URL {
        hosts.directory.appendingPathComponent("home/\(hosts.hosts[index].user)")
    }

    /// How many sessions (a command, a shell, SFTP) host `index`'s sshd has started: it logs
    /// each at LogLevel VERBOSE before running it, so a command that ran is in the count once
    /// kryoform has its answer.
    func sessionsStarted(_ index: Int) throws -> Int {
        // sshd ends its log lines with "\r\n", one Character to Swift: count the phrase, not lines.
        let log = try String(contentsOf: hostFolder(index).appendingPathComponent("sshd.log"), encoding: .utf8)
        return log.components(separatedBy: "Starting session: ").count - 1
    }

    /// The SHA-256 fingerprint (`SHA256:…`) of the host key in `file` (a `.pub`).
    static func fingerprint(_ file: URL) throws -> String {
        let line = try LocalTool.run("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", file.path]).stdout
        return try #require(line.split(separator: " ").first { $0.hasPrefix("SHA256:") }.map(String.init))
    }

    /// Gives host `index`'s sshd a new host key: sshd reads its key file again for every
    /// connection (each is re-executed), so the next connection presents the new key, with no
    /// restart to wait for. Returns the old and new fingerprints and undoes it when `restore`
    /// is called.
    func changeHostKey(_ index: Int) throws -> (old: String, new: String, restore: () throws -> Void) {
        let folder = hostFolder(index)
        let key = folder.appendingPathComponent("ssh_host_ed25519_key"), kept = folder.appendingPathComponent("ssh_host_ed25519_key.kept")
        let fresh = folder.appendingPathComponent("ssh_host_ed25519_key.fresh")
        let old = try Self.fingerprint(key.appendingPathExtension("pub"))
        try LocalTool.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "changed", "-f", fresh.path])
        let new = try Self.fingerprint(fresh.appendingPathExtension("pub"))
        // Renames keep the files' owner and mode 600, which sshd insists on.
        guard rename(key.path, kept.path) == 0, rename(fresh.path, key.path) == 0 else {
            throw FixtureError("cannot swap the host key in \(folder.path): \(String(cString: strerror(errno)))")
        }
        return (old, new, {
            guard rename(kept.path, key.path) == 0 else {
                throw FixtureError("cannot put back the host key in \(folder.path): \(String(cString: strerror(errno)))")
            }
        })
    }
}
