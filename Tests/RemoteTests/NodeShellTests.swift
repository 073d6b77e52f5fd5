import Foundation
import Remote
import Synchronization
import Testing
import TestSupport

/// Commands as kryoform logs them, collected for a test.
final class CommandLog: Sendable {
    private let records = Mutex<[CommandRecord]>([])

    func add(_ record: CommandRecord) { records.withLock { $0.append(record) } }
    var all: [CommandRecord] { records.withLock { $0 } }
}

@Suite("Commands and files on nodes through pooled sessions", .serialized)
struct NodeShellTests {
    static func shell(_ server: LoopbackSSHServer, log: CommandLog, sessionsPerHost: Int = 4) -> (NodeShell, NodeEndpoint) {
        let connections = NodeConnections(settings: server.settings(), sessionsPerHost: sessionsPerHost, log: log.add)
        return (NodeShell(connections: connections), NodeEndpoint(address: "node.loop", target: server.target, roles: ["data"]))
    }

    @Test("a failing command is an error naming the host, its status and the last lines of its stderr")
    func failingCommandNamesHost() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let log = CommandLog()
        let (shell, node) = Self.shell(server, log: log)
        let error = await #expect(throws: RemoteError.self) {
            try await shell.run("echo first >&2; echo 'no such stack: web' >&2; exit 4", on: node, mutating: true, what: "docker stack deploy web")
        }
        #expect(error?.description == "loopback: docker stack deploy web exited with status 4: first / no such stack: web")
        #expect(log.all.map(\.command) == ["docker stack deploy web"] && log.all.allSatisfy(\.mutating))
        await shell.connections.closeAll()
    }

    @Test("many commands over one channel: each one's output, and the first failure named by position")
    func commandsInOneChannel() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let log = CommandLog()
        let (shell, node) = Self.shell(server, log: log)
        let outputs = try await shell.runAll(["echo a", "printf b", "echo 'c d'; echo e", "true"], on: node, mutating: false)
        #expect(outputs == ["a\n", "b", "c d\ne\n", ""])
        let error = await #expect(throws: RemoteError.self) {
            try await shell.runAll(["echo one", "echo broken >&2; exit 3", "touch \(server.directory.path)/never"], on: node, mutating: true)
        }
        #expect(error?.description == "loopback: command 2 of 3 ('echo broken >&2; exit') exited with status 3: broken")
        #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("never").path), "it stops at the failure")
        #expect(log.all.count == 2, "one channel per batch")
        await shell.connections.closeAll()
    }

    @Test("an upload with an owner and mode arrives intact and owned")
    func uploadWithOwner() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let (shell, node) = Self.shell(server, log: CommandLog())
        let path = server.directory.appendingPathComponent("owned.yml").path
        let text = String(repeating: "services: {}\n", count: 1000)
        try await shell.upload(Data(text.utf8), to: path, on: node, mode: 0o640, owner: "nobody")
        let stat = try LocalTool.run("/usr/bin/stat", ["-c", "%U %a %s", path])
        #expect(stat.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "nobody 640 \(text.utf8.count)")
        await shell.connections.closeAll()
    }

    @Test("twenty commands at once on one host share at most two sessions, all succeed, in input order")
    func boundedSessionsPerHost() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let (shell, node) = Self.shell(server, log: CommandLog(), sessionsPerHost: 2)
        // Each command reports its sshd session's process id: at most two distinct ones.
        let outputs = await boundedMap(Array(0..<20), limit: 20) { index in
            (try? await shell.run("echo \(index) $PPID", on: node, mutating: false)) ?? "failed"
        }
        let indices: [String] = outputs.map { String($0.split(separator: " ").first ?? "") }
        let expected: [String] = (0..<20).map { String($0) }
        #expect(indices == expected)
        let sessions = Set(outputs.compactMap { $0.split(separator: " ").last })
        #expect((1...2).contains(sessions.count), "\(sessions)")
        await shell.connections.closeAll()
    }

    @Test("a host that did not answer is not dialled again in the same run")
    func unreachableHostIsRemembered() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let listener = try LoopbackNetwork.silentListener()
        let shell = NodeShell(connections: NodeConnections(settings: server.settings(connectTimeout: .seconds(1))))
        let node = NodeEndpoint(address: "node.mute", target: SSHTarget(name: "mute", host: "127.0.0.1", port: listener.port, user: "root"), roles: [])
        let first = await #expect(throws: RemoteError.self) { try await shell.run("true", on: node, mutating: false) }
        #expect(first?.description.contains("mute: ") == true && first?.description.contains("no SSH greeting") == true)
        // Nothing listens any more: a new dial would be refused at once. The run gives the first answer.
        close(listener.descriptor)
        let second = await #expect(throws: RemoteError.self) { try await shell.run("true", on: node, mutating: false) }
        #expect(second?.description == first?.description)
    }
}
