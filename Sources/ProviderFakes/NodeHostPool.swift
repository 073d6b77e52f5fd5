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
        /// Hosts held for nodes whose ids are not known yet.
        var reserved: [Reservation: [FakeNodeHost]] = [:]
        /// What happens to a host whose node is deleted (its machine is gone).
        var onRelease: (@Sendable (FakeNodeHost) -> Void)?
        /// What happens when a block volume is attached, detached or grown.
        var onDisk: (@Sendable (DiskEvent) -> Void)?
        /// The disks attached to each node, by the fake's node id.
        var disks: [String: Set<FakeDisk>] = [:]
    }

    /// Hosts held for a create in flight (an EC2 launch passed on to moto), so that concurrent
    /// creates cannot take them: the create is refused before anything is made, not after.
    struct Reservation: Hashable {
        let id = UUID()
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

    /// How many handed-out hosts are neither taken by a node nor held for a create in flight.
    public var freeCount: Int { state.withLock { Self.free($0).count } }

    /// The host node `id` took, if any.
    public func host(of id: String) -> FakeNodeHost? { state.withLock { $0.taken[id] } }

    /// Takes a free host for each node, in order, and boots `userData` on it. Nil when the pool is
    /// not handing out. Takes none when there are too few, or a boot fails (the ones booted keep
    /// their new key).
    public func boot(_ nodes: [(id: String, name: String)], userData: String?) throws(Refusal) -> [FakeNodeHost]? {
        guard let reservation = try reserve(nodes.count) else { return nil }
        return try boot(nodes, userData: userData, on: reservation)
    }

    /// Holds `count` free hosts for nodes to come; nil when the pool is not handing out.
    func reserve(_ count: Int) throws(Refusal) -> Reservation? {
        try state.withLock { (state) throws(Refusal) -> Reservation? in
            guard let hosts = state.hosts else { return nil }
            let free = Self.free(state)
            guard free.count >= count else { throw .noHostLeft(needed: count, free: free.count, handedOut: hosts.count) }
            let reservation = Reservation()
            state.reserved[reservation] = Array(free.prefix(count))
            return reservation
        }
    }

    /// Gives the reserved hosts back.
    func cancel(_ reservation: Reservation) {
        _ = state.withLock { $0.reserved.removeValue(forKey: reservation) }
    }

    /// Gives the nodes the reserved hosts, in order (more nodes than reserved: the next free
    /// hosts), boots `userData` on each, and gives back the hosts left over.
    func boot(_ nodes: [(id: String, name: String)], userData: String?, on reservation: Reservation) throws(Refusal) -> [FakeNodeHost] {
        let taken = try state.withLock { (state) throws(Refusal) -> [FakeNodeHost] in
            let held = state.reserved.removeValue(forKey: reservation) ?? []
            let free = Self.free(state)
            let hosts = Array((held + free).prefix(nodes.count))
            guard hosts.count == nodes.count else {
                throw .noHostLeft(needed: nodes.count, free: held.count + free.count, handedOut: state.hosts?.count ?? 0)
            }
            for (node, host) in zip(nodes, hosts) { state.taken[node.id] = host }
            return hosts
        }
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

    /// Frees the host node `id` took (nothing if it took none), after `whenReleased`'s body ran
    /// on it; the disks attached to it are detached.
    public func release(_ id: String) {
        let (host, body, disks, onDisk) = state.withLock { ($0.taken[id], $0.onRelease, $0.disks.removeValue(forKey: id) ?? [], $0.onDisk) }
        for disk in disks { onDisk?(.detached(disk)) }
        if let host { body?(host) }
        _ = state.withLock { $0.taken.removeValue(forKey: id) }
    }

    /// Runs `body` on each host whose node is deleted, before the host is free again: a test
    /// makes the host look like a new machine (its engine out of any swarm), as a deleted
    /// machine's replacement would be.
    public func whenReleased(_ body: @escaping @Sendable (FakeNodeHost) -> Void) {
        state.withLock { $0.onRelease = body }
    }

    /// Runs `body` whenever the fake attaches a block volume to a node that has a test host,
    /// detaches one, or grows one: a test makes a disk appear on the host (`LoopDisks`).
    public func whenDisksChange(_ body: @escaping @Sendable (DiskEvent) -> Void) {
        state.withLock { $0.onDisk = body }
    }

    /// The fake attached `disk` to node `id`; nothing when the node has no test host.
    public func attached(_ disk: FakeDisk, toNode id: String) {
        let (host, body) = state.withLock { state in
            state.disks[id, default: []].insert(disk)
            return (state.taken[id], state.onDisk)
        }
        if let host { body?(.attached(disk, host)) }
    }

    /// The fake detached `disk`.
    public func detached(_ disk: FakeDisk) {
        let body = state.withLock { state in
            for node in state.disks.keys { state.disks[node]?.remove(disk) }
            return state.onDisk
        }
        body?(.detached(disk))
    }

    /// The fake grew `disk`.
    public func grew(_ disk: FakeDisk) {
        state.withLock { $0.onDisk }?(.grew(disk))
    }

    /// The hosts neither taken nor reserved, in the order they were handed out.
    private static func free(_ state: State) -> [FakeNodeHost] {
        let busy = Set(state.taken.values).union(state.reserved.values.joined())
        return (state.hosts ?? []).filter { !busy.contains($0) }
    }
}

/// A block volume as the node it is attached to sees it.
public struct FakeDisk: Hashable, Sendable {
    /// The fake's id of the volume.
    public var id: String
    /// Its name under /dev/disk/by-id on the node, as the provider documents it.
    public var linkName: String

    public init(id: String, linkName: String) {
        self.id = id
        self.linkName = linkName
    }
}

/// What a fake did to a block volume.
public enum DiskEvent: Sendable {
    case attached(FakeDisk, FakeNodeHost)
    case detached(FakeDisk)
    case grew(FakeDisk)
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
    /// Runs `body` on each host whose node is deleted, before it is handed out again.
    public func whenReleased(_ body: @escaping @Sendable (FakeNodeHost) -> Void) { nodeHosts.whenReleased(body) }
    /// Runs `body` on each block volume the fake attaches, detaches or grows.
    public func whenDisksChange(_ body: @escaping @Sendable (DiskEvent) -> Void) { nodeHosts.whenDisksChange(body) }
}
