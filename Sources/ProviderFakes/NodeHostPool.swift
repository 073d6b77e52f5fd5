import Foundation
import Synchronization

/// The real test hosts a fake hands out as its new nodes' addresses: once `handOut` is called,
/// each new node takes the first free host, its user data is booted there (`FirstBoot`), and
/// the host is free again when the node is deleted. Before `handOut` the pool takes no part.
/// One per fake; its state is behind its own lock, like `AnswerHold`.
public final class NodeHostPool: Sendable {
    private struct State {
        var hosts: [FakeNodeHost]?
        /// The host each node took, by the fake's node id.
        var taken: [String: FakeNodeHost] = [:]
    }

    /// Why a node got no host.
    public enum Refusal: Error, CustomStringConvertible {
        case noHostLeft(needed: Int, free: Int, handedOut: Int)
        case bootFailed(node: String, FirstBootError)

        public var description: String {
            switch self {
            case .noHostLeft(let needed, let free, let handedOut):
                return "The fake has no test host left for \(needed) new node(s): \(free) of the \(handedOut) handed out are free; delete a node or hand out more hosts."
            case .bootFailed(let node, let error):
                return "The fake could not boot node \(node) on its test host: \(error)"
            }
        }
    }

    private let state = Mutex(State())
    /// Applies the nodes' user data, and records what it did.
    public let firstBoot = FirstBoot()

    public init() {}

    /// From now on each new node takes the first free one of `hosts` (hosts taken stay taken).
    public func handOut(_ hosts: [FakeNodeHost]) {
        state.withLock { $0.hosts = hosts }
    }

    /// Whether `handOut` was called: new nodes then get test hosts.
    public var isHandingOut: Bool { state.withLock { $0.hosts != nil } }

    /// How many handed-out hosts no node has taken.
    public var freeCount: Int { state.withLock { Self.free($0).count } }

    /// The host node `id` took, if any.
    public func host(of id: String) -> FakeNodeHost? { state.withLock { $0.taken[id] } }

    /// Takes a free host for each node, in order, and boots `userData` on it. Nil when the pool is
    /// not handing out. Takes none when there are too few, or a boot fails (the ones booted keep
    /// their new key).
    public func boot(_ nodes: [(id: String, name: String)], userData: String?) throws(Refusal) -> [FakeNodeHost]? {
        let taken: [FakeNodeHost]? = try state.withLock { (state) throws(Refusal) -> [FakeNodeHost]? in
            guard let hosts = state.hosts else { return nil }
            let free = Self.free(state)
            guard free.count >= nodes.count else { throw .noHostLeft(needed: nodes.count, free: free.count, handedOut: hosts.count) }
            for (node, host) in zip(nodes, free) { state.taken[node.id] = host }
            return Array(free.prefix(nodes.count))
        }
        guard let taken else { return nil }
        for (node, host) in zip(nodes, taken) {
            do {
                try firstBoot.boot(userData, nodeName: node.name, on: host)
            } catch {
                nodes.forEach { release($0.id) }
                throw .bootFailed(node: node.name, error as? FirstBootError ?? FirstBootError("\(error)"))
            }
        }
        return taken
    }

    /// Frees the host node `id` took (nothing if it took none).
    public func release(_ id: String) {
        _ = state.withLock { $0.taken.removeValue(forKey: id) }
    }

    private static func free(_ state: State) -> [FakeNodeHost] {
        let taken = Set(state.taken.values)
        return (state.hosts ?? []).filter { !taken.contains($0) }
    }
}

/// A fake whose new nodes can get real test hosts: its `NodeHostPool`, reached through the
/// same calls on every fake.
public protocol NodeHostingFake: Actor {
    nonisolated var nodeHosts: NodeHostPool { get }
}

extension NodeHostingFake {
    /// From now on each new node takes the next free one of `hosts` as its address, and has its
    /// user data booted there before the create is answered.
    public func handOut(_ hosts: [FakeNodeHost]) { nodeHosts.handOut(hosts) }
    /// What every node's first boot did, in order.
    public func bootRecords() -> [FirstBootRecord] { nodeHosts.firstBoot.records }
    /// The node named `name` keeps its host's own key, whatever its user data says.
    public func skipHostKey(forNodeNamed name: String) { nodeHosts.firstBoot.skipHostKey(forNodeNamed: name) }
}
