import Foundation
@testable import Remote
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Seconds elapsed since `start`.
private func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Starts a loopback sshd, connects, runs `body`, then closes the session and stops the server
/// whether or not `body` failed.
func withLoopbackSession(_ body: (LoopbackSSHServer, SSHSession) async throws -> Void) async throws {
    let server = try LoopbackSSHServer.start()
    defer { server.stop() }
    let session = try await SSHSession.connect(to: server.target, settings: server.settings())
    do {
        try await body(server, session)
    } catch {
        await session.close()
        throw error
    }
    await session.close()
}

@Suite("SSH sessions against a loopback sshd", .serialized)
struct SSHSessionTests {
    // MARK: - Commands

    @Test("run returns stdout, stderr and the exit status")
    func runReportsOutputAndStatus() async throws {
        try await withLoopbackSession { server, session in

            let output = try await session.run("sh -c 'echo out; echo err >&2; exit 3'")
            #expect(output.stdoutText == "out\n")
            #expect(output.stderrText == "err\n")
            #expect(output.exitStatus == 3)
            #expect(output.exitSignal == nil)
            #expect(!output.succeeded)

            let fine = try await session.run("true")
            #expect(fine.succeeded)
        }
    }

    @Test("a command killed by a signal reports the signal")
    func runReportsExitSignal() async throws {
        try await withLoopbackSession { server, session in

            let output = try await session.run("kill -TERM $$")
            #expect(output.exitSignal == "TERM")
            #expect(!output.succeeded)
        }
    }

    @Test("stdin reaches the command, small and large")
    func stdinIsPassed() async throws {
        try await withLoopbackSession { server, session in

            let small = try await session.run("cat", stdin: Data("hello\nworld\n".utf8))
            #expect(small.stdoutText == "hello\nworld\n")

            // Larger than both windows: input and output must flow at the same time.
            let large = Data((0..<(3 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let echoed = try await session.run("cat", stdin: large)
            #expect(echoed.stdout == large)

            // Without stdin the command sees end of input at once instead of hanging.
            let empty = try await session.run("cat", timeout: .seconds(10))
            #expect(empty.stdout.isEmpty)
        }
    }

    @Test("5 MB on stdout and stderr at once do not stall")
    func largeOutputOnBothStreams() async throws {
        try await withLoopbackSession { server, session in

            let size = 5 * 1024 * 1024
            let start = ContinuousClock.now
            let output = try await session.run("head -c \(size) /dev/zero | tr '\\000' e >&2 & head -c \(size) /dev/zero | tr '\\000' o; wait",
                                               timeout: .seconds(60))
            let elapsed = seconds(since: start)
            print("5 MB stdout + 5 MB stderr: \(String(format: "%.3f", elapsed)) s")
            #expect(output.stdout.count == size)
            #expect(output.stderr.count == size)
            #expect(output.stdout.allSatisfy { $0 == UInt8(ascii: "o") })
            #expect(output.stderr.allSatisfy { $0 == UInt8(ascii: "e") })
            #expect(output.succeeded)
        }
    }

    @Test("200 commands one after another over one session")
    func manySequentialCommands() async throws {
        try await withLoopbackSession { server, session in

            let start = ContinuousClock.now
            var failures = 0
            for _ in 0..<200 {
                let output = try await session.run("true")
                if !output.succeeded { failures += 1 }
            }
            let elapsed = seconds(since: start)
            print("200 sequential commands over one session: \(String(format: "%.3f", elapsed)) s "
                  + "(\(String(format: "%.1f", elapsed * 1000 / 200)) ms each)")
            #expect(failures == 0)
        }
    }

    @Test("a command over its timeout fails naming the host and command; sessions stay usable")
    func commandTimeout() async throws {
        try await withLoopbackSession { server, session in

            // Were the timeout not enforced, the command would finish after 30 s and succeed.
            let error = await #expect(throws: SSHError.self) {
                try await session.run("sleep 30", timeout: .seconds(1))
            }
            #expect(error?.kind == .commandTimeout)
            #expect(error?.description.contains("127.0.0.1:\(server.port)") == true)
            #expect(error?.description.contains("sleep 30") == true)

            // The same session still runs commands...
            let again = try await session.run("echo still here")
            #expect(again.stdoutText == "still here\n")
            // ...and so does a fresh one.
            let fresh = try await SSHSession.connect(to: server.target, settings: server.settings(knownHosts: KnownHosts(path: server.knownHostsPath())))
            let output = try await fresh.run("echo fresh")
            await fresh.close()
            #expect(output.stdoutText == "fresh\n")
        }
    }

    @Test("cancelling the task stops a running command")
    func cancellation() async throws {
        try await withLoopbackSession { server, session in

            // The command marks that it runs, then would sleep 30 s and succeed: cancelled once it
            // runs, it must fail as cancelled instead.
            let marker = server.directory.appendingPathComponent("running-\(UUID().uuidString.prefix(8))").path
            let task = Task { try await session.run("touch \(marker); sleep 30", timeout: .seconds(60)) }
            let deadline = ContinuousClock.now + .seconds(20)
            while !FileManager.default.fileExists(atPath: marker) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            try #require(FileManager.default.fileExists(atPath: marker), "the command did not start within 20 s")
            task.cancel()
            let result = await task.result
            guard case .failure(let failure) = result, let error = failure as? SSHError else {
                Issue.record("expected an SSHError, got \(result)")
                return
            }
            #expect(error.kind == .cancelled)
            let after = try await session.run("echo ok")
            #expect(after.stdoutText == "ok\n")
        }
    }

    @Test("keepalives go out during a quiet command and do not disturb it")
    func keepalivesDuringQuietCommand() async throws {
        let server = try LoopbackSSHServer.start(logLevel: "DEBUG")
        defer { server.stop() }
        var settings = server.settings()
        settings.keepaliveInterval = 1
        let session = try await SSHSession.connect(to: server.target, settings: settings)
        // The command prints nothing until sshd has logged two keepalives from this client (at
        // most 15 s), so it stays quiet exactly as long as keepalives take to arrive.
        let waitForKeepalives = "timeout 15 sh -c 'until [ $(grep -c keepalive@libssh2.org \(server.logFile)) -ge 2 ]; do sleep 0.1; done' && echo done"
        let output = try await session.run(waitForKeepalives, timeout: .seconds(30))
        let next = try await session.run("echo next")
        await session.close()
        #expect(output.stdoutText == "done\n", "sshd logged no two keepalives within 15 s: \(server.logText().suffix(2_000))")
        #expect(next.stdoutText == "next\n")
    }

    @Test("a connection that drops mid-command fails as disconnected, and the session stays failed")
    func droppedConnection() async throws {
        try await withLoopbackSession { server, session in
            // $PPID is the sshd process serving this connection. Were the drop not noticed, the
            // command would run into its 30 s timeout and fail as a timeout instead.
            let error = await #expect(throws: SSHError.self) {
                try await session.run("kill -KILL $PPID; sleep 10", timeout: .seconds(30))
            }
            #expect(error?.kind == .disconnected)
            #expect(error?.description.contains("127.0.0.1:\(server.port)") == true)
            let next = await #expect(throws: SSHError.self) { try await session.run("true") }
            #expect(next?.kind == .disconnected)
        }
    }

    @Test("a closed session refuses further work")
    func closedSession() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let session = try await SSHSession.connect(to: server.target, settings: server.settings())
        await session.close()
        await session.close()
        let error = await #expect(throws: SSHError.self) { try await session.run("true") }
        #expect(error?.kind == .closed)
    }

    @Test("8 sessions in parallel, 20 commands each")
    func parallelSessions() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let settings = server.settings(knownHosts: KnownHosts.shared(path: server.knownHostsPath()))

        let start = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for sessionIndex in 0..<8 {
                group.addTask {
                    let session = try await SSHSession.connect(to: server.target, settings: settings)
                    var outputs: [String] = []
                    for commandIndex in 0..<20 {
                        outputs.append(try await session.run("echo \(sessionIndex)-\(commandIndex)").stdoutText)
                    }
                    await session.close()
                    return outputs
                }
            }
            var all: [[String]] = []
            for try await outputs in group { all.append(outputs) }
            return all
        }
        let elapsed = seconds(since: start)
        print("8 parallel sessions x 20 commands (including connects): \(String(format: "%.3f", elapsed)) s")
        #expect(results.count == 8)
        let expected = Set((0..<8).flatMap { session in (0..<20).map { "\(session)-\($0)\n" } })
        #expect(Set(results.flatMap { $0 }) == expected)
        // All eight recorded the key through one shared KnownHosts: one line, not eight.
        let lines = try String(contentsOfFile: server.knownHostsPath(), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
    }

    // MARK: - Uploads

    @Test("upload of 10 MB arrives intact with its mode, replaces existing files, leaves no temp files")
    func upload() async throws {
        try await withLoopbackSession { server, session in

            let folder = server.directory.appendingPathComponent("remote").path
            _ = try await session.run("mkdir -p \(folder)")
            let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
            let payload = try #require(try random.read(upToCount: 10 * 1024 * 1024))
            try random.close()
            try #require(payload.count == 10 * 1024 * 1024)
            let localFile = server.directory.appendingPathComponent("payload.bin")
            try payload.write(to: localFile)
            let localDigest = try LocalTool.run("/usr/bin/sha256sum", [localFile.path]).stdout.split(separator: " ").first.map(String.init)

            let target = folder + "/payload.bin"
            let start = ContinuousClock.now
            try await session.upload(payload, to: target, mode: 0o640)
            let elapsed = seconds(since: start)
            print("10 MB upload: \(String(format: "%.3f", elapsed)) s (speed: kryoform-bench ssh, docs/benchmarks.md)")

            let remoteDigest = try await session.run("sha256sum \(target)").stdoutText.split(separator: " ").first.map(String.init)
            #expect(remoteDigest != nil)
            #expect(remoteDigest == localDigest)
            #expect(try await session.run("stat -c %a \(target)").stdoutText == "640\n")

            // Replacing an existing file, streaming from a local file this time, with another mode.
            let replacement = Data("replaced\n".utf8)
            let replacementFile = server.directory.appendingPathComponent("replacement.txt")
            try replacement.write(to: replacementFile)
            try await session.upload(file: replacementFile, to: target, mode: 0o600)
            #expect(try await session.run("cat \(target)").stdout == replacement)
            #expect(try await session.run("stat -c %a \(target)").stdoutText == "600\n")

            // The streamed 10 MB file too.
            let streamed = folder + "/streamed.bin"
            try await session.upload(file: localFile, to: streamed)
            let streamedDigest = try await session.run("sha256sum \(streamed)").stdoutText.split(separator: " ").first.map(String.init)
            #expect(streamedDigest == localDigest)
            #expect(try await session.run("stat -c %a \(streamed)").stdoutText == "644\n")

            let listing = try await session.run("ls -A \(folder)").stdoutText
            #expect(listing == "payload.bin\nstreamed.bin\n")
        }
    }

    @Test("upload into a missing folder names the folder; a missing local file names the file")
    func uploadErrors() async throws {
        try await withLoopbackSession { server, session in

            let missingFolder = server.directory.appendingPathComponent("no/such/folder").path
            let error = await #expect(throws: SSHError.self) {
                try await session.upload(Data("x".utf8), to: missingFolder + "/file.txt")
            }
            #expect(error?.kind == .sftp)
            #expect(error?.description.contains(missingFolder) == true)
            #expect(error?.description.contains("mkdir -p") == true)

            let localError = await #expect(throws: SSHError.self) {
                try await session.upload(file: URL(fileURLWithPath: "/nonexistent/local.bin"), to: server.directory.path + "/x")
            }
            #expect(localError?.kind == .localFile)
            #expect(localError?.description.contains("/nonexistent/local.bin") == true)

            // The session is still fine afterwards.
            let after = try await session.run("echo ok")
            #expect(after.stdoutText == "ok\n")
        }
    }
}
