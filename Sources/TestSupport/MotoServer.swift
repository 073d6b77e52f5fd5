import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `moto_server` (PyPI `moto[server]`, an EC2 emulator) on 127.0.0.1 and a free port, started
/// by the tests with `ChildProcess` and stopped by them.
public final class MotoServer: @unchecked Sendable {
    public let port: Int
    private let process: ChildProcess
    public let logPath: String
    /// Where moto's recorder writes the requests it receives once `startRecording()` is called.
    public let recordingPath: String

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)") ?? URL(fileURLWithPath: "/") }

    /// Where `moto_server` is: `MOTO_SERVER` if set, then `PATH`, then the virtual environment
    /// `scripts/install-deps --tests` makes when pip refuses system installs.
    public static func executable() -> String? {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["MOTO_SERVER"], !explicit.isEmpty { candidates.append(explicit) }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(folder)/moto_server")
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? ""
        candidates += ["\(home)/.local/share/kryoform/moto-venv/bin/moto_server", "\(home)/.local/bin/moto_server"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts a server and waits until it answers (up to `timeout` seconds). A port another
    /// server took between being found free and moto binding it is given up for another one.
    public static func start(timeout: Double = 60) throws -> MotoServer {
        var attempt = 1
        while true {
            do { return try startOnce(timeout: timeout) } catch let failure as FixtureError where failure.description.contains("Address already in use") && attempt < 4 {
                attempt += 1
            }
        }
    }

    private static func startOnce(timeout: Double) throws -> MotoServer {
        guard let executable = executable() else {
            throw FixtureError("moto_server is not installed: run scripts/install-deps --tests (it installs moto[server] with pip), or set MOTO_SERVER")
        }
        let port = try LoopbackNetwork.freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kryoform-moto-\(port)-\(UUID().uuidString).log").path
        let recording = log + ".recording"
        // The shims of pyenv and friends are scripts: run through /usr/bin/env so the interpreter is found.
        let process = try ChildProcess.spawn("/usr/bin/env", [executable, "-H", "127.0.0.1", "-p", String(port)],
                                             environment: ["PYTHONUNBUFFERED": "1", "MOTO_RECORDER_FILEPATH": recording],
                                             stdoutPath: log, stderrPath: log)
        let server = MotoServer(port: port, process: process, logPath: log, recordingPath: recording)
        let deadline = Date().addingTimeInterval(timeout)
        while !server.answers() {
            guard process.isRunning else {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw FixtureError("moto_server exited at start: \(text.suffix(2_000))")
            }
            guard Date() < deadline else {
                server.stop()
                throw FixtureError("moto_server did not answer on port \(port) within \(Int(timeout)) s")
            }
            usleep(100_000)
        }
        return server
    }

    private init(port: Int, process: ChildProcess, logPath: String, recordingPath: String) {
        self.port = port
        self.process = process
        self.logPath = logPath
        self.recordingPath = recordingPath
    }

    /// Whether the server answers its own API on the port.
    func answers() -> Bool {
        guard LoopbackNetwork.accepts(port: port) else { return false }
        return (try? Self.post(port: port, path: "/moto-api/reset")) == 200
    }

    /// Forgets every object (`POST /moto-api/reset`).
    public func reset() throws {
        let status = try Self.post(port: port, path: "/moto-api/reset")
        guard status == 200 else { throw FixtureError("moto reset answered \(status)") }
    }

    public func stop() {
        process.terminate()
        try? FileManager.default.removeItem(atPath: logPath)
        try? FileManager.default.removeItem(atPath: recordingPath)
    }

    /// Forgets what was recorded and records every request from now on (moto's recorder).
    public func startRecording() throws {
        for path in ["/moto-api/recorder/reset-recording", "/moto-api/recorder/start-recording"] {
            let status = try Self.post(port: port, path: path)
            guard status == 200 else { throw FixtureError("moto \(path) answered \(status)") }
        }
    }

    /// The `Action` of every Query API request recorded since `startRecording()`, in order.
    public func recordedActions() throws -> [String] {
        let text = (try? String(contentsOfFile: recordingPath, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { line in
            guard let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw FixtureError("moto recorded something that is not JSON: \(line.prefix(80))")
            }
            var body = entry["body"] as? String ?? ""
            if entry["body_encoded"] as? Bool == true { body = String(decoding: Data(base64Encoded: body) ?? Data(), as: UTF8.self) }
            let action = body.split(separator: "&").first { $0.hasPrefix("Action=") }?.dropFirst("Action=".count)
            return action.map(String.init) ?? "\(entry["method"] as? String ?? "?") \(entry["url"] as? String ?? "?")"
        }
    }

    /// Makes an S3 bucket (moto takes it unsigned).
    public func createBucket(_ name: String) throws {
        let status = try Self.post(port: port, path: "/\(name)", method: "PUT")
        guard status == 200 else { throw FixtureError("moto: making bucket \(name) answered \(status)") }
    }

    /// The keys of `bucket` that start with `prefix`, sorted (ListObjectsV2, unsigned; one
    /// page is enough for a test's folder).
    public func listKeys(bucket: String, prefix: String) throws -> [String] {
        let query = prefix.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? prefix
        let (status, body) = try Self.exchange(port: port, path: "/\(bucket)?list-type=2&prefix=\(query)", method: "GET")
        guard status == 200 else { throw FixtureError("moto: listing \(bucket) answered \(status)") }
        var keys: [String] = []
        var rest = Substring(body)
        while let open = rest.range(of: "<Key>"), let close = rest.range(of: "</Key>", range: open.upperBound..<rest.endIndex) {
            keys.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return keys.sorted()
    }

    /// The body of an S3 object (unsigned GET), nil when there is none.
    public func objectText(bucket: String, key: String) throws -> String? {
        // An object is private to the account that wrote it: moto wants an Authorization header
        // (whose signature it does not check) to read it.
        let authorization = "AWS4-HMAC-SHA256 Credential=AKIATEST/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
        let (status, text) = try Self.exchange(port: port, path: "/\(bucket)/\(key)", method: "GET", headers: ["Authorization: \(authorization)"])
        guard status == 200 else { return nil }
        return text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) }
    }

    /// A bare HTTP/1.1 request with no body over a socket; returns the status. (No URLSession:
    /// the tests keep Foundation's networking out of the fixtures.)
    static func post(port: Int, path: String, method: String = "POST") throws -> Int {
        try exchange(port: port, path: path, method: method).status
    }

    /// A bare HTTP/1.1 request with no body over a socket: the status and the whole answer as text.
    static func exchange(port: Int, path: String, method: String, headers: [String] = []) throws -> (status: Int, text: String) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw FixtureError("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw FixtureError("connect failed") }
        let request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n" + headers.map { $0 + "\r\n" }.joined() + "Content-Length: 0\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        guard received.count > 12 else { throw FixtureError("no answer") }
        let line = String(decoding: received, as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw FixtureError("not HTTP: \(line.prefix(40))") }
        return (status, line)
    }
}
