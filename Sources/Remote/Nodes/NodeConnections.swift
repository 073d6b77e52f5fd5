import Foundation

/// A host kryoform configures: how to reach it over SSH, its roles, and the address it gives
/// the swarm.
public struct NodeEndpoint: Hashable, Sendable {
    /// The node's resource address (`node.app.1`, or `node.<host>` for a static host).
    public var address: String
    public var target: SSHTarget
    public var roles: [String]
    /// The address other swarm members reach it on (a private address where there is one).
    public var advertiseAddress: String
    /// For a cloud node: that its first boot is waited for before anything runs on it.
    public var firstBoot: FirstBoot?
    /// How many GPUs the node has, advertised to the swarm as `NVIDIA-GPU` generic resources.
    public var gpus: Int
    /// The names of the cluster volumes it holds: each is labelled on the node once mounted.
    public var volumes: [String]

    public init(address: String, target: SSHTarget, roles: [String], advertiseAddress: String? = nil, firstBoot: FirstBoot? = nil,
                gpus: Int = 0, volumes: [String] = []) {
        self.address = address
        self.volumes = volumes
        self.target = target
        self.roles = roles
        self.advertiseAddress = advertiseAddress ?? target.host
        self.gpus = gpus
        self.firstBoot = firstBoot
    }
}

/// How a cloud node's first boot is waited for: SSH may not answer yet when the provider
/// reports the machine running, and cloud-init may still be at work when it does.
public struct FirstBoot: Hashable, Sendable {
    /// How long to keep trying to connect (zero for a node made in an earlier run: it answers
    /// now or it is down).
    public var sshPatience: Duration

    public init(sshPatience: Duration) {
        self.sshPatience = sshPatience
    }
}

/// A failure on one host, in words a user can act on: which host, what was run, what it said.
public struct RemoteError: Error, Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var message: String
    public var fix: String?
    /// The host's key did not match known_hosts (or is unknown under `strict`): never worked
    /// around, never left out of a plan quietly.
    public var isHostKeyRefusal: Bool

    public init(host: String, message: String, fix: String? = nil, isHostKeyRefusal: Bool = false) {
        self.host = host
        self.message = message
        self.fix = fix
        self.isHostKeyRefusal = isHostKeyRefusal
    }

    public var description: String { (host.isEmpty ? "" : "\(host): ") + message + (fix.map { " (\($0))" } ?? "") }

    /// An SSH failure on `node`, with what kryoform was doing when it happened.
    init(node: NodeEndpoint, _ error: SSHError, doing: String? = nil) {
        self.init(host: node.target.name, message: (doing.map { "\($0): " } ?? "") + error.message,
                  isHostKeyRefusal: [.hostKeyChanged, .hostKeyUnknown, .hostKeyRevoked].contains(error.kind))
    }
}

/// One command as kryoform logs it: where, what, and whether it changes anything.
public struct CommandRecord: Sendable {
    public var host: String
    /// The command's first line, without secrets (values go over stdin).
    public var command: String
    public var mutating: Bool
}

/// SSH sessions to the hosts of one run: opened on first use, a few per host so independent
/// work on one host (stack deploys on a manager) runs side by side, each session used by one
/// task at a time, all closed at the end. A host that could not be reached is not tried again
/// in the same run.
public actor NodeConnections {
    public let settings: SSHSettings
    public let sessionsPerHost: Int
    private let log: @Sendable (CommandRecord) -> Void
    private var idle: [SSHTarget: [SSHSession]] = [:]
    private var open: [SSHTarget: Int] = [:]
    private var waiters: [SSHTarget: [CheckedContinuation<Void, Never>]] = [:]
    private var unreachable: [SSHTarget: Error] = [:]
    /// Hosts connected to in this run: their keys passed the check.
    private var reached: Set<SSHTarget> = []
    /// Cloud nodes whose first boot was seen finished in this run.
    private var booted: Set<SSHTarget> = []
    private var all: [SSHSession] = []

    public init(settings: SSHSettings, sessionsPerHost: Int = 4, log: @escaping @Sendable (CommandRecord) -> Void = { _ in }) {
        self.settings = settings
        self.sessionsPerHost = max(1, sessionsPerHost)
        self.log = log
    }

    /// Runs `body` with a session to `target` that no other task uses meanwhile.
    public func withSession<T: Sendable>(_ target: SSHTarget, _ body: @Sendable (SSHSession) async throws -> T) async throws -> T {
        let session = try await checkOut(target)
        do {
            let result = try await body(session)
            checkIn(session, target: target)
            return result
        } catch {
            // A session that failed mid-command may be unusable: close it rather than reuse it.
            discard(session, target: target)
            throw error
        }
    }

    /// Connects to `target` (its host key checked, logged in) without running anything, unless
    /// a connection to it succeeded earlier in this run; the session waits for the first command.
    public func reach(_ target: SSHTarget) async throws {
        if let error = unreachable[target] { throw error }
        guard !reached.contains(target) else { return }
        let session = try await checkOut(target)
        checkIn(session, target: target)
    }

    /// Like `reach`, for a node that may still be booting: connection failures (refused,
    /// unreachable, timed out, the key not yet authorized) are tried again every two seconds
    /// for `patience`; a refused host key never is. The last failure is reported with what to check.
    public func reach(_ target: SSHTarget, patience: Duration) async throws {
        guard patience > .zero, unreachable[target] == nil, !reached.contains(target), open[target, default: 0] == 0 else {
            return try await reach(target)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        open[target, default: 0] += 1
        while true {
            do {
                let session = try await SSHSession.connect(to: target, settings: settings)
                reached.insert(target)
                all.append(session)
                checkIn(session, target: target)
                return
            } catch let error as SSHError where Self.mayAnswerLater(error) && clock.now + .seconds(2) < deadline {
                try? await Task.sleep(for: .seconds(2))
            } catch let error as SSHError {
                open[target, default: 0] -= 1
                let failure = Self.mayAnswerLater(error) ? SSHError(error.kind, target: error.target, message:
                    "did not answer SSH on port \(target.port) within \(Self.words(patience)) of the provider reporting it running (last: \(error.message)); "
                    + "check that the firewall's SSH rule admits this machine on port \(target.port), that the node trusts the project's key "
                    + "(ssh.public_key) for user \(target.user), and that the image runs sshd") : error
                throw giveUp(target, failure)
            } catch {
                open[target, default: 0] -= 1
                throw giveUp(target, error)
            }
        }
    }

    /// Records `target` as unreachable for the rest of the run and wakes everyone waiting for
    /// it, who get the same answer now; returns `error` to throw.
    private func giveUp(_ target: SSHTarget, _ error: Error) -> Error {
        unreachable[target] = error
        for waiter in waiters.removeValue(forKey: target) ?? [] { waiter.resume() }
        return error
    }

    /// Failures a booting node gives before sshd and its keys are in place.
    static func mayAnswerLater(_ error: SSHError) -> Bool {
        [.refused, .unreachable, .timeout, .handshake, .authentication, .disconnected].contains(error.kind)
    }

    static func words(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        return seconds % 60 == 0 && seconds >= 60 ? "\(seconds / 60) min" : "\(seconds) s"
    }

    /// Whether `target`'s first boot was seen finished in this run.
    func firstBootSeen(_ target: SSHTarget) -> Bool { booted.contains(target) }

    func recordFirstBoot(_ target: SSHTarget) { booted.insert(target) }

    private func checkOut(_ target: SSHTarget) async throws -> SSHSession {
        while true {
            if let error = unreachable[target] { throw error }
            if let session = idle[target]?.popLast() { return session }
            if open[target, default: 0] < sessionsPerHost {
                open[target, default: 0] += 1
                do {
                    let session = try await SSHSession.connect(to: target, settings: settings)
                    reached.insert(target)
                    all.append(session)
                    return session
                } catch {
                    open[target, default: 0] -= 1
                    throw giveUp(target, error)
                }
            }
            await withCheckedContinuation { waiters[target, default: []].append($0) }
        }
    }

    private func checkIn(_ session: SSHSession, target: SSHTarget) {
        idle[target, default: []].append(session)
        wakeOne(target)
    }

    private func discard(_ session: SSHSession, target: SSHTarget) {
        open[target, default: 0] -= 1
        all.removeAll { $0 === session }
        Task { await session.close() }
        wakeOne(target)
    }

    private func wakeOne(_ target: SSHTarget) {
        if var queue = waiters[target], !queue.isEmpty {
            queue.removeFirst().resume()
            waiters[target] = queue
        }
    }

    /// Closes the sessions to `host`:`port` and forgets what this run learnt of it (reached,
    /// unreachable, booted): the machine at that address was deleted, and the next one there
    /// is a new machine whose key is checked again.
    public func forget(host: String, port: Int) async {
        let targets = Set(Array(idle.keys) + Array(open.keys) + Array(reached) + Array(unreachable.keys)).filter { $0.host == host && $0.port == port }
        for target in targets {
            for session in idle.removeValue(forKey: target) ?? [] {
                all.removeAll { $0 === session }
                await session.close()
            }
            open[target] = nil
            reached.remove(target)
            unreachable[target] = nil
            booted.remove(target)
        }
    }

    /// Closes every session.
    public func closeAll() async {
        let sessions = all
        all = []
        idle = [:]
        open = [:]
        for session in sessions { await session.close() }
    }

    nonisolated func record(_ record: CommandRecord) { log(record) }
}

/// Runs commands on nodes through `NodeConnections`, turning failures into `RemoteError`s that
/// name the host.
public struct NodeShell: Sendable {
    public let connections: NodeConnections
    public var commandTimeout: Duration

    public init(connections: NodeConnections, commandTimeout: Duration = .seconds(600)) {
        self.connections = connections
        self.commandTimeout = commandTimeout
    }

    /// Runs `command`; a non-zero exit is an error carrying its stderr.
    @discardableResult
    public func run(_ command: String, on node: NodeEndpoint, stdin: Data? = nil, mutating: Bool, what: String? = nil,
                    timeout: Duration? = nil) async throws -> String {
        let output = try await output(command, on: node, stdin: stdin, mutating: mutating, what: what, timeout: timeout)
        guard output.exitStatus == 0, output.exitSignal == nil else {
            let said = Self.excerpt(output.stderrText.isEmpty ? output.stdoutText : output.stderrText)
            let status = output.exitSignal.map { "was killed by signal \($0)" } ?? "exited with status \(output.exitStatus)"
            throw RemoteError(host: node.target.name, message: "\(what ?? Self.firstWords(command)) \(status)" + (said.isEmpty ? "" : ": \(said)"))
        }
        return output.stdoutText
    }

    /// Runs `commands` one after another over one channel (one login shell on the host instead
    /// of one per command) and returns each one's stdout. Stops at the first that fails, which
    /// is an error naming it, its position and the last lines of stderr.
    public func runAll(_ commands: [String], on node: NodeEndpoint, mutating: Bool, what: String? = nil,
                       timeout: Duration? = nil) async throws -> [String] {
        guard !commands.isEmpty else { return [] }
        let marker = "@@kf-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        var script = ""
        for (index, command) in commands.enumerated() {
            script += "printf '%s\\n' '\(marker) out \(index)'\n(\n\(command)\n)\nkf_status=$?\n"
            script += "printf '\\n%s %s\\n' '\(marker) end \(index)' \"$kf_status\"\n[ \"$kf_status\" -eq 0 ] || exit \"$kf_status\"\n"
        }
        let output = try await output(script, on: node, mutating: mutating, what: what ?? "\(commands.count) commands: \(Self.firstLine(commands[0]))…",
                                      timeout: timeout)
        var outputs: [String] = []
        var rest = Substring(output.stdoutText)
        for index in commands.indices {
            let start = "\(marker) out \(index)\n"
            let end = "\n\(marker) end \(index) "
            guard let open = rest.range(of: start), let close = rest.range(of: end, range: open.upperBound..<rest.endIndex) else { break }
            outputs.append(String(rest[open.upperBound..<close.lowerBound]))
            let statusLine = rest[close.upperBound...].prefix { $0 != "\n" }
            if let status = Int32(statusLine), status != 0 {
                let said = Self.excerpt(output.stderrText)
                throw RemoteError(host: node.target.name, message: "command \(index + 1) of \(commands.count) (\(Self.firstWords(commands[index]))) exited with status \(status)"
                                  + (said.isEmpty ? "" : ": \(said)"))
            }
            rest = rest[close.upperBound...]
        }
        guard outputs.count == commands.count, output.exitStatus == 0, output.exitSignal == nil else {
            let said = Self.excerpt(output.stderrText)
            throw RemoteError(host: node.target.name, message: "the shell running \(commands.count) commands stopped after \(outputs.count)"
                              + (output.exitSignal.map { " (signal \($0))" } ?? " (status \(output.exitStatus))") + (said.isEmpty ? "" : ": \(said)"))
        }
        return outputs
    }

    /// Runs `command` and returns what it said, whatever its exit status.
    public func output(_ command: String, on node: NodeEndpoint, stdin: Data? = nil, mutating: Bool, what: String? = nil,
                       timeout: Duration? = nil) async throws -> CommandOutput {
        connections.record(CommandRecord(host: node.target.name, command: what ?? Self.firstLine(command), mutating: mutating))
        let limit = timeout ?? commandTimeout
        do {
            return try await connections.withSession(node.target) { session in
                try await session.run(command, stdin: stdin, timeout: limit)
            }
        } catch let error as SSHError {
            throw RemoteError(node: node, error)
        } catch let error as RemoteError {
            throw error
        } catch {
            throw RemoteError(host: node.target.name, message: String(describing: error))
        }
    }

    /// Writes `data` to `path` on the node (through a temporary name, then renamed), with
    /// `mode`, and owned by `owner` (`user` or `user:group`) when given.
    public func upload(_ data: Data, to path: String, on node: NodeEndpoint, mode: Int32 = 0o644, owner: String? = nil) async throws {
        connections.record(CommandRecord(host: node.target.name, command: "upload \(path) (\(data.count) bytes)", mutating: true))
        do {
            try await connections.withSession(node.target) { session in
                try await session.upload(data, to: path, mode: mode)
            }
        } catch let error as SSHError {
            throw RemoteError(node: node, error, doing: "uploading \(path)")
        } catch {
            throw RemoteError(host: node.target.name, message: "uploading \(path): \(error)")
        }
        if let owner {
            try await run("chown \(shellQuote(owner)) \(shellQuote(path))", on: node, mutating: true, what: "giving \(path) to \(owner)")
        }
    }

    static func firstLine(_ command: String) -> String {
        String(command.split(separator: "\n", maxSplits: 1).first ?? "")
    }

    static func firstWords(_ command: String) -> String {
        let words = firstLine(command).split(separator: " ").prefix(4).joined(separator: " ")
        return "'\(words)'"
    }

    /// The last lines of what a command said, short enough for one error.
    static func excerpt(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return lines.suffix(3).joined(separator: " / ").prefix(600).description
    }
}

/// Runs `body` for each element with at most `limit` at once; results in input order.
public func boundedMap<Element: Sendable, Result: Sendable>(_ elements: [Element], limit: Int,
                                                           _ body: @escaping @Sendable (Element) async -> Result) async -> [Result] {
    await withTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: elements.count)
        var next = 0
        for _ in 0..<min(max(limit, 1), elements.count) {
            let index = next
            group.addTask { (index, await body(elements[index])) }
            next += 1
        }
        for await (index, result) in group {
            results[index] = result
            if next < elements.count {
                let index = next
                group.addTask { (index, await body(elements[index])) }
                next += 1
            }
        }
        return results.compactMap { $0 }
    }
}
