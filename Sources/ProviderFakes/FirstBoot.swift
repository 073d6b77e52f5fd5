import Foundation
import Synchronization
import Yams
#if canImport(Glibc)
import Glibc
#endif

/// A real test host (scripts/test-hosts) that a fake gives a new node: its address, and the
/// sshd there whose host key a first boot replaces.
public struct FakeNodeHost: Sendable, Hashable {
    /// The node's public and private address.
    public var address: String
    /// sshd's ed25519 host key file; its public half is beside it, `.pub`.
    public var hostKeyPath: String
    /// sshd's pid file: the process that gets SIGHUP to re-read its host key.
    public var sshdPIDFile: String

    public init(address: String, hostKeyPath: String, sshdPIDFile: String) {
        self.address = address
        self.hostKeyPath = hostKeyPath
        self.sshdPIDFile = sshdPIDFile
    }
}

/// What a node's first boot found in its user data and did, for tests.
public struct FirstBootRecord: Sendable, Hashable {
    public var nodeName: String
    public var address: String
    /// The public host key installed (`ssh-ed25519 AAAA… comment`); nil when none was.
    public var installedHostKey: String?
    /// The entries under `users:` as written: a name, or `default`.
    public var users: [String]
    /// Whether the user data had `ssh_keys:`.
    public var hadSSHKeys: Bool
}

/// Why a first boot could not be carried out on a test host, and what to check.
public struct FirstBootError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A node's first boot on a test host, doing what cloud-init would with the parts of its
/// `#cloud-config` user data that tests check: the ed25519 host key of `ssh_keys` goes to the
/// host's key file and sshd is restarted onto it (SIGHUP). `users:` is recorded, not applied:
/// the test hosts' one login user (`scripts/test-hosts --login-user`) stands for it. Not
/// applied either: `ssh_authorized_keys`, `write_files` and the rest.
public final class FirstBoot: Sendable {
    private struct State {
        var records: [FirstBootRecord] = []
        var keepingOwnKey: Set<String> = []
    }

    private let state = Mutex(State())
    /// Seconds sshd may take to listen again after SIGHUP.
    static let restartBound: Double = 5

    public init() {}

    /// What every boot so far did, in order.
    public var records: [FirstBootRecord] { state.withLock { $0.records } }

    /// Boots of the node named `name` leave the host's own key in place, as if the image ignored
    /// `ssh_keys`: the key the host presents then differs from the one in the user data.
    public func skipHostKey(forNodeNamed name: String) {
        _ = state.withLock { $0.keepingOwnKey.insert(name) }
    }

    /// Applies `userData` (nil: none) of the node `name` on `host`, and records it.
    @discardableResult
    public func boot(_ userData: String?, nodeName name: String, on host: FakeNodeHost) throws -> FirstBootRecord {
        let config = try CloudConfig(userData ?? "")
        var record = FirstBootRecord(nodeName: name, address: host.address, installedHostKey: nil, users: config.users, hadSSHKeys: config.hasSSHKeys)
        if let key = config.hostKey, !state.withLock({ $0.keepingOwnKey.contains(name) }) {
            try Self.replace(host.hostKeyPath, with: key.privateKey, mode: 0o600)
            try Self.replace(host.hostKeyPath + ".pub", with: key.publicKey, mode: 0o644)
            try Self.restartSSHD(host)
            record.installedHostKey = key.publicKey.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        state.withLock { $0.records.append(record) }
        return record
    }

    /// Writes `text` to `path` atomically (a temporary file beside it, then rename) with `mode`.
    static func replace(_ path: String, with text: String, mode: mode_t) throws {
        let temporary = path + ".first-boot"
        let bytes = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard descriptor >= 0 else { throw FirstBootError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = fchmod(descriptor, mode) == 0 ? write(descriptor, bytes, bytes.count) : -1
        close(descriptor)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw FirstBootError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Sends sshd SIGHUP (it re-execs and re-reads its host keys) and waits, bounded, until its
    /// new listening socket is up, so the next connection meets the new key.
    static func restartSSHD(_ host: FakeNodeHost) throws {
        let text = (try? String(contentsOfFile: host.sshdPIDFile, encoding: .utf8)) ?? ""
        guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else {
            throw FirstBootError("no sshd pid in \(host.sshdPIDFile): is the test host up?")
        }
        let before = listeningSockets(of: pid)
        guard kill(pid, SIGHUP) == 0 else { throw FirstBootError("cannot signal sshd \(pid) of \(host.address): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(restartBound)
        while true {
            let now = listeningSockets(of: pid)
            if !now.isEmpty, now.isDisjoint(with: before) { return }
            guard Date() < deadline else {
                throw FirstBootError("sshd \(pid) of \(host.address) did not listen again within \(Int(restartBound)) s of SIGHUP (see its sshd.log)")
            }
            usleep(5_000)
        }
    }

    /// The inodes of the TCP sockets `pid` holds in state LISTEN (its descriptors, as listed in
    /// its network namespace's /proc/PID/net/tcp and tcp6).
    static func listeningSockets(of pid: pid_t) -> Set<String> {
        let folder = "/proc/\(pid)/fd"
        let held = Set(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { name -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(name)"), target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst("socket:[".count).dropLast())
        })
        var listening = Set<String>()
        for table in ["tcp", "tcp6"] {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                if fields.count > 9, fields[3] == "0A" { listening.insert(String(fields[9])) }
            }
        }
        return held.intersection(listening)
    }
}

/// The parts of a `#cloud-config` user data a first boot looks at, read with Yams. User data
/// that is not `#cloud-config` (a script, or none) has none of them, as cloud-init would not
/// read it as config either.
struct CloudConfig {
    var hostKey: (privateKey: String, publicKey: String)?
    var users: [String] = []
    var hasSSHKeys = false

    init(_ userData: String) throws {
        guard userData.hasPrefix("#cloud-config") else { return }
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: userData)
        } catch {
            throw FirstBootError("the user data is not valid YAML: \(error)")
        }
        guard let document = loaded as? [String: Any] else { return }
        if let keys = document["ssh_keys"] as? [String: Any] {
            hasSSHKeys = true
            if let privateKey = keys["ed25519_private"] as? String, let publicKey = keys["ed25519_public"] as? String {
                hostKey = (privateKey, publicKey)
            }
        }
        users = (document["users"] as? [Any] ?? []).compactMap { entry in
            (entry as? String) ?? ((entry as? [String: Any])?["name"] as? String)
        }
    }
}
