import Foundation
import Planner

/// Faults the sandbox injects for tests, from `KRYOFORM_SANDBOX_FAULTS` or the file
/// `.kryoform/sandbox/faults`: comma- or line-separated `key=value` pairs.
///
/// - `fail-create=N[;N…]`: the Nth create the sandbox ever receives fails (counted in its saved state).
/// - `fail-address=ADDR[;ADDR…]`: every create of that address fails.
/// - `latency=DURATION`: every call waits that long first (`200ms`, `1s`).
/// - `throttle=N`: every Nth call is refused as a 429 with a short retry-after.
/// - `provision=DURATION`: how long a new node stays `new` before it is `active` (default 1s).
public struct SandboxFaults: Hashable, Sendable {
    public var failCreates: Set<Int> = []
    public var failAddresses: Set<String> = []
    public var latency: Double = 0
    public var throttleEvery: Int = 0
    public var provisioning: Double = 1
    /// Addresses whose create (or delete) is carried out and saved, and whose answer is then
    /// withheld: the process waits, as if the answer were lost, until it is killed (the tests'
    /// kill points, `hang-after-create=node.main.1`).
    public var hangAfterCreate: Set<String> = []
    public var hangAfterDelete: Set<String> = []
    /// Addresses whose create, once saved, waits until the test removes the `paused` file it
    /// writes beside the world, then answers: a point where a run is known to hold its lock.
    public var pauseAfterCreate: Set<String> = []

    public init() {}

    public static let variable = "KRYOFORM_SANDBOX_FAULTS"

    /// Counts a create in the sandbox's world and says whether it is one to fail.
    func failsCreate(of address: ResourceAddress, counting cloud: inout SandboxCloud) -> Bool {
        cloud.createCount += 1
        return failCreates.contains(cloud.createCount) || failAddresses.contains(address.rawValue)
    }

    /// When `address`'s `operation` is one to hang after: says so in `hung` beside the world
    /// (what a test waits for before it kills the process), then waits (at most 10 minutes).
    func hangIfAsked(after operation: String, of address: ResourceAddress, in directory: URL) async {
        let addresses = operation == "create" ? hangAfterCreate : hangAfterDelete
        guard addresses.contains(address.rawValue) else { return }
        let note = "the \(operation) of \(address) is saved in the sandbox; its answer is withheld until this process (pid \(getpid())) is killed\n"
        try? AtomicFile.write(Data(note.utf8), to: directory.appendingPathComponent("hung"))
        try? await Task.sleep(nanoseconds: 600 * 1_000_000_000)
    }

    /// When `address`'s create is one to pause after: writes `paused` beside the world, and
    /// answers once that file is gone (at most 10 minutes later).
    func pauseIfAsked(afterCreateOf address: ResourceAddress, in directory: URL) async {
        guard pauseAfterCreate.contains(address.rawValue) else { return }
        let file = directory.appendingPathComponent("paused")
        let note = "the create of \(address) is saved in the sandbox; its answer waits until this file is removed (pid \(getpid()))\n"
        try? AtomicFile.write(Data(note.utf8), to: file)
        let deadline = Date().addingTimeInterval(600)
        while FileManager.default.fileExists(atPath: file.path), Date() < deadline { try? await Task.sleep(nanoseconds: 20_000_000) }
    }

    /// Waits the injected latency, if any.
    func delay() async {
        if latency > 0 { try? await Task.sleep(nanoseconds: UInt64(latency * 1e9)) }
    }

    /// Reads the variable, then the file; a malformed entry is an error that names it.
    public static func load(directory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SandboxFaults {
        var text = environment[variable] ?? ""
        if let file = try? String(contentsOf: directory.appendingPathComponent("faults"), encoding: .utf8) { text += "\n" + file }
        return try parse(text)
    }

    public static func parse(_ text: String) throws -> SandboxFaults {
        var faults = SandboxFaults()
        for entry in text.split(whereSeparator: { $0 == "," || $0 == "\n" }).map({ $0.trimmingCharacters(in: .whitespaces) })
            where !entry.isEmpty && !entry.hasPrefix("#") {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw problem(entry, "expected key=value") }
            let values = parts[1].split(separator: ";").map(String.init)
            switch parts[0] {
            case "fail-create":
                for value in values {
                    guard let number = Int(value), number > 0 else { throw problem(entry, "expected a positive count") }
                    faults.failCreates.insert(number)
                }
            case "fail-address": faults.failAddresses.formUnion(values)
            case "hang-after-create": faults.hangAfterCreate.formUnion(values)
            case "hang-after-delete": faults.hangAfterDelete.formUnion(values)
            case "pause-after-create": faults.pauseAfterCreate.formUnion(values)
            case "latency": faults.latency = try duration(parts[1], entry)
            case "provision": faults.provisioning = try duration(parts[1], entry)
            case "throttle":
                guard let number = Int(parts[1]), number > 0 else { throw problem(entry, "expected a positive count") }
                faults.throttleEvery = number
            default:
                throw problem(entry, "unknown fault; known: fail-create, fail-address, latency, throttle, provision, hang-after-create, hang-after-delete, pause-after-create")
            }
        }
        return faults
    }

    private static func duration(_ text: String, _ entry: String) throws -> Double {
        if text.hasSuffix("ms"), let value = Double(text.dropLast(2)) { return value / 1000 }
        if text.hasSuffix("s"), let value = Double(text.dropLast()) { return value }
        throw problem(entry, "expected a duration such as 200ms or 2s")
    }

    private static func problem(_ entry: String, _ message: String) -> SandboxFaultsError {
        SandboxFaultsError(message: "sandbox faults: '\(entry)': \(message) (from \(variable) or .kryoform/sandbox/faults)")
    }
}

public struct SandboxFaultsError: Error, Sendable {
    public var message: String
}
