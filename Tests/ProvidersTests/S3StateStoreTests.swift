import Foundation
import Planner
import ProviderFakes
import Providers
import Testing
import TestSupport

/// The s3 state backend against moto_server's S3 (which honours If-None-Match and If-Match on
/// PUT and DELETE, as AWS S3 does), started by each test on a loopback port; and its start-up
/// probe against `FakeUnconditionalS3`, a fake that ignores the conditions.
@Suite("The s3 state backend, on moto_server's S3")
final class S3StateStoreTests {
    let moto: MotoServer
    let bucket = "kryoform-state"

    init() throws {
        moto = try MotoServer.start()
        try moto.createBucket(bucket)
    }
    deinit { moto.stop() }

    func store(_ environment: String = "prod", bucket: String? = nil, ttl: TimeInterval = 120, renewEvery: TimeInterval = 30) -> S3StateStore {
        let location = S3Location(bucket: bucket ?? self.bucket, prefix: "teams/ops", project: "kryonix", environment: environment,
                                  region: "us-east-1", endpoint: moto.baseURL)
        let store = S3StateStore(location: location, accessKeyID: "AKIATESTSTATE", secretAccessKey: "s3-test-secret-value", project: "kryonix", environment: environment)
        store.lockTTL = ttl
        store.renewEvery = renewEvery
        return store
    }

    /// The keys under the environment's folder, without it.
    func keys(_ environment: String = "prod") throws -> [String] {
        let folder = "teams/ops/kryonix/\(environment)/"
        return try moto.listKeys(bucket: bucket, prefix: folder).map { String($0.dropFirst(folder.count)) }
    }

    @Test("a state written is read back by another store; steps are journal objects folded into one history object")
    func writesJournalsAndKeepsHistory() throws {
        let writer = store()
        #expect(try writer.read() == nil)
        try writer.lock(LockInfo(operation: "apply", owner: "alice"))
        let base = sampleState(serial: 1, resources: 50)
        try writer.write(base)
        var steps: [StateJournalRecord] = []
        for serial in 2...6 {
            let resource = StateResource(address: ResourceAddress("node.new.\(serial)"), kind: .node, providerID: "new-\(serial)", status: .ready,
                                         attributes: [:], dependsOn: [], updatedAt: Date(timeIntervalSince1970: 1_800_000_000))
            steps.append(StateJournalRecord(lineage: base.lineage, serial: serial, recorded: [resource], removed: serial == 2 ? ["node.main.1"] : []))
            try writer.append(steps[steps.count - 1]) { Issue.record("a journal step asked for the whole state"); return base }
        }
        #expect(try keys().filter { $0.hasPrefix("journal/") }.count == 5)
        let seen = try #require(try store().read(), "another runner reads the state with the journal's steps")
        #expect(seen.serial == 6 && seen.resources.count == 54 && seen.resource("node.main.1") == nil && seen.resource("node.new.6") != nil)
        #expect(throws: StateLockError.self, "two records of one serial") { try writer.append(steps[0]) { base } }

        try writer.compact()
        try writer.unlock(id: try #require(try writer.currentLock()).id)
        let left = try keys()
        #expect(left == ["history/000000000001-lineage-1.json", "history/000000000006-lineage-1.json", "state.json"], "\(left)")
        #expect(try store().read() == seen)
        let history = try store().history()
        #expect(history.map(\.serial) == [1, 6] && history.map(\.summary) == ["50 added", "5 added, 1 removed"] && history.allSatisfy { $0.owner == "alice" && $0.operation == "apply" })
        #expect(try store().state(atSerial: 6) == seen)
        #expect(try store().state(atSerial: 1) == base)
        #expect(try store("staging").read() == nil, "another environment is a folder of its own")
    }

    @Test("a held lock is refused naming its owner; a write against a state another writer moved on is refused")
    func lockNamesItsHolderAndWritesCompareAndSet() throws {
        let first = store(), second = store()
        try first.lock(LockInfo(operation: "apply", owner: "alice", host: "runner-7", pid: 4242))
        do {
            try second.lock(LockInfo(operation: "apply", owner: "bob"))
            Issue.record("a second lock was taken")
        } catch StateLockError.held(_, let holder) {
            #expect(holder.owner == "alice" && holder.host == "runner-7" && holder.pid == 4242)
            let expires = try #require(holder.expires)
            #expect(expires > Date() && expires < Date().addingTimeInterval(130), "\(expires)")
            let message = StateLockError.held(environment: "prod", by: holder).message
            #expect(message.contains("locked by apply by alice on runner-7 (pid 4242)") && message.contains("renews its lock while it runs"), "\(message)")
        }
        try first.unlock(id: try #require(try first.currentLock()).id)
        #expect(try keys().contains("lock.json") == false, "released")

        // Compare-and-set: both read an empty state, the first writes, the second is refused.
        let a = store(), b = store()
        #expect(try a.read() == nil && b.read() == nil)
        try a.write(sampleState(serial: 1, resources: 1))
        do {
            try b.write(sampleState(serial: 1, lineage: "other", resources: 2))
            Issue.record("the second write overwrote the first")
        } catch StateLockError.conflict(_, let detail) {
            #expect(detail.contains("it was empty when this run started, and now holds serial 1"), "\(detail)")
        }
        try a.write(sampleState(serial: 2, resources: 2))
        _ = try b.read()
        try b.write(sampleState(serial: 3, resources: 3))
        do {
            try a.write(sampleState(serial: 3, resources: 1))
            Issue.record("a stale writer overwrote a newer state")
        } catch StateLockError.conflict(_, let detail) {
            #expect(detail.contains("this run read serial 2") && detail.contains("now holds serial 3"), "\(detail)")
        }
        #expect(try store().read() == sampleState(serial: 3, resources: 3))
    }

    @Test("a lock not renewed expires and is taken over; its old owner's release then leaves the new lock alone, and its writes are refused")
    func expiredLockIsTakenOverAndNotRemovedByItsOldOwner() async throws {
        // The old owner stalls: it never renews (renewal every hour) a lock of 2 s.
        let stalled = store(ttl: 2, renewEvery: 3600)
        let old = LockInfo(operation: "apply", owner: "alice", host: "runner-7", pid: 4242)
        try stalled.lock(old)
        #expect(try stalled.read() == nil)
        let next = store()
        let holder: LockInfo
        do {
            try next.lock(LockInfo(operation: "apply", owner: "bob"))
            Issue.record("taken while the old lock was fresh")
            return
        } catch StateLockError.held(_, let found) { holder = found }
        // Wait out the lock's life on the server's clock (bounded: its expiry plus a margin).
        let expires = try #require(holder.expires)
        try await Task.sleep(for: .seconds(max(0, expires.addingTimeInterval(1.1).timeIntervalSinceNow)))
        let expired = try #require(try next.currentLock())
        guard case .gone(let why) = LockHolders().status(of: expired) else {
            Issue.record("an expired lock counts as held: \(expired)")
            return
        }
        #expect(why.contains("expired"), "\(why)")
        #expect(try next.breakLock(expired))
        let mine = LockInfo(operation: "apply", owner: "bob")
        try next.lock(mine)
        try next.write(sampleState(serial: 1, resources: 1))

        // The old owner comes back: its release must not remove bob's lock, its write must not land.
        try stalled.unlock(id: old.id)
        #expect(try store().currentLock()?.id == mine.id, "the old owner's DELETE removed the new holder's lock")
        #expect(throws: StateLockError.self) { try stalled.write(sampleState(serial: 1, lineage: "stale", resources: 5)) }
        #expect(try store().read() == sampleState(serial: 1, resources: 1))
        try next.unlock(id: mine.id)
    }

    @Test("a lock renewed while its holder runs outlives its time to live")
    func renewedLockStaysHeld() async throws {
        let holder = store(ttl: 3, renewEvery: 0.3)
        let info = LockInfo(operation: "apply", owner: "alice")
        try holder.lock(info)
        // Past two lives of the lock: without renewals it would have expired.
        try await Task.sleep(for: .seconds(6.5))
        do {
            try store().lock(LockInfo(operation: "plan", owner: "bob"))
            Issue.record("the renewed lock was taken")
        } catch StateLockError.held(_, let found) {
            #expect(found.id == info.id)
            #expect(LockHolders().status(of: found) == .elsewhere || LockHolders().status(of: found) == .running, "\(found)")
        }
        try holder.write(sampleState(serial: 1, resources: 1))
        try holder.unlock(id: info.id)
        #expect(try store().currentLock() == nil)
    }

    @Test("with a key, state.json, the history and the journal hold sealed values only; another store with the key reads them")
    func encrypted() throws {
        let codec = StateCodec(cipher: try StateCipher(secret: "s3-test-key-0123456789abcdefghijklmnop"))
        let writer = store()
        writer.codec = codec
        try writer.lock(LockInfo(operation: "apply"))
        try writer.write(sampleState(serial: 1, resources: 3))
        try writer.append(StateJournalRecord(lineage: "lineage-1", serial: 2, removed: ["node.main.1"])) { sampleState(serial: 1, resources: 3) }
        for key in try keys() where key != "lock.json" {
            let text = try #require(try moto.objectText(bucket: bucket, key: "teams/ops/kryonix/prod/" + key))
            #expect(!text.contains("s-2vcpu-4gb") && text.contains("kf-sealed-1 "), "\(key) is not sealed: \(text.prefix(200))")
        }
        let reader = store()
        reader.codec = codec
        #expect(try reader.read()?.serial == 2 && reader.read()?.resources.count == 2)
        do {
            _ = try store().read()
            Issue.record("read without the key")
        } catch let error as StateLockError {
            #expect(error.message.contains("it is encrypted"), "\(error.message)")
        }
        try writer.compact()
        #expect(try reader.state(atSerial: 2)?.resources.count == 2)
        try writer.unlock(id: try #require(try writer.currentLock()).id)
    }

    @Test("an absent bucket and an absent server are one line each, naming the bucket or server and no key")
    func clearFailures() throws {
        let missing = store(bucket: "no-such-bucket")
        do {
            _ = try missing.read()
            Issue.record("read an absent bucket")
        } catch let error as StateLockError {
            #expect(error.message.contains("the bucket no-such-bucket does not exist") && !error.message.contains("s3-test-secret-value"), "\(error.message)")
        }
        let location = S3Location(bucket: bucket, prefix: "", project: "kryonix", environment: "prod", region: "us-east-1",
                                  endpoint: URL(string: "http://127.0.0.1:\(try LoopbackNetwork.freePort())"))
        let nowhere = S3StateStore(location: location, accessKeyID: "AKIATESTSTATE", secretAccessKey: "s3-test-secret-value", project: "kryonix", environment: "prod")
        do {
            _ = try nowhere.read()
            Issue.record("read from no server")
        } catch let error as StateLockError {
            #expect(error.message.contains("connection refused") && !error.message.contains("s3-test-secret-value"), "\(error.message)")
        }
    }
}

/// The start-up probe, and SigV4 as an S3 server checks it, against a fake that ignores conditions.
@Suite("The s3 state backend refuses a server that ignores conditional writes")
struct S3ConditionalProbeTests {
    @Test("a server that ignores If-None-Match is refused before any lock is taken, naming the server")
    func unconditionalServerIsRefused() async throws {
        let fake = try await FakeUnconditionalS3.start()
        let location = S3Location(bucket: fake.bucket, prefix: "", project: "kryonix", environment: "prod", region: fake.region, endpoint: fake.baseURL)
        let store = S3StateStore(location: location, accessKeyID: fake.accessKeyID, secretAccessKey: "fake-s3-secret", project: "kryonix", environment: "prod")
        // The store blocks its caller's thread; the fake answers on this process's pool.
        let refused = try await onOwnThread { () -> String? in
            do {
                try store.lock(LockInfo(operation: "apply"))
                return nil
            } catch let error as StateLockError { return error.message }
        }
        #expect(refused?.contains("the state server \(AsyncHTTPTransportOrigin.of(fake.baseURL)) ignores If-None-Match") == true,
                "the lock was taken on a server that ignores conditions, or refused for another reason: \(refused ?? "taken")")
        #expect(!fake.keys.contains { $0.hasSuffix("lock.json") }, "no lock object was written: \(fake.keys)")
        #expect(fake.keys.isEmpty, "the probe object is removed: \(fake.keys)")
        #expect(fake.requests.filter { $0.hasPrefix("PUT") }.count == 2, "\(fake.requests)")

        // The same fake checks every signature: a wrong secret is refused as S3 refuses it, in a line without the secret.
        let wrong = S3StateStore(location: location, accessKeyID: fake.accessKeyID, secretAccessKey: "not-the-secret", project: "kryonix", environment: "prod")
        let unsigned = try await onOwnThread { () -> String? in
            do {
                _ = try wrong.read()
                return nil
            } catch let error as StateLockError { return error.message }
        }
        #expect(unsigned?.contains("SignatureDoesNotMatch") == true && unsigned?.contains("state.secret_access_key") == true
                && unsigned?.contains("not-the-secret") == false, "\(unsigned ?? "a wrongly signed request was answered")")
        await fake.stop()
    }
}

/// `scheme://host:port` as the backend's messages name a server.
enum AsyncHTTPTransportOrigin {
    static func of(_ url: URL) -> String { "\(url.scheme ?? "http")://\(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")" }
}
