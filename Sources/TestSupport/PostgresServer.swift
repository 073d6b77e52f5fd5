import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server from Debian's packages, made by the tests in a temporary folder
/// (`initdb`) and listening on 127.0.0.1 and a free port (`pg_ctl start`), with password
/// (SCRAM) authentication; `stop()` stops it and removes the folder. Run as root, the server
/// runs as the `postgres` account Debian's package makes (PostgreSQL refuses to run as root).
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let user = "kryoform"
    public let password: String
    public let folder: URL
    private let binaries: String
    private var stopped = false

    /// `postgres://kryoform:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable`.
    public var url: String { "postgres://\(user):\(password)@127.0.0.1:\(port)/postgres?sslmode=disable" }

    /// The newest `/usr/lib/postgresql/N/bin` with a server in it.
    public static func binaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: "\($0)/postgres") }
    }

    public static func start() throws -> PostgresServer {
        guard let binaries = binaries() else {
            throw FixtureError("PostgreSQL is not installed: run scripts/install-deps --tests (it installs Debian's postgresql)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kf-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let password = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        try Data(password.utf8).write(to: folder.appendingPathComponent("password"))
        let server = PostgresServer(port: try LoopbackNetwork.freePort(), password: password, folder: folder, binaries: binaries)
        do {
            if getuid() == 0 {
                try LocalTool.run("/bin/chown", ["-R", "postgres:postgres", folder.path])
            }
            try server.asServerUser("\(binaries)/initdb", ["-D", server.data, "-U", server.user, "--auth=scram-sha-256",
                                                           "--pwfile=\(folder.appendingPathComponent("password").path)", "-E", "UTF8", "--no-sync"])
            let options = "-c listen_addresses=127.0.0.1 -p \(server.port) -k \(folder.path) -c fsync=off -c max_connections=40"
            try server.asServerUser("\(binaries)/pg_ctl", ["-D", server.data, "-l", server.log, "-o", options, "-w", "-t", "60", "start"])
        } catch {
            server.stop()
            throw FixtureError("the PostgreSQL server did not start: \(error)\n\(server.logText())")
        }
        return server
    }

    private init(port: Int, password: String, folder: URL, binaries: String) {
        self.port = port
        self.password = password
        self.folder = folder
        self.binaries = binaries
    }

    deinit { stop() }

    private var data: String { folder.appendingPathComponent("data").path }
    private var log: String { folder.appendingPathComponent("server.log").path }

    public func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Runs `psql -c SQL` against the server as its superuser; the rows, one per line, fields split by `|`.
    @discardableResult
    public func sql(_ statement: String) throws -> String {
        let result = try LocalTool.run("\(binaries)/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", "postgres",
                                                             "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement],
                                       environment: ["PGPASSWORD": password, "PATH": "/usr/bin:/bin"], timeout: 60)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server at once and removes its folder.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        if FileManager.default.fileExists(atPath: "\(data)/postmaster.pid") {
            _ = try? asServerUser("\(binaries)/pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"])
        }
        try? FileManager.default.removeItem(at: folder)
    }

    @discardableResult
    private func asServerUser(_ executable: String, _ arguments: [String]) throws -> ToolResult {
        if getuid() == 0 {
            return try LocalTool.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments, timeout: 120)
        }
        return try LocalTool.run(executable, arguments, timeout: 120)
    }
}
