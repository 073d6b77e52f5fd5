import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// What the proxy in front of moto_server does to one EC2 Query API exchange when it hands out
/// test hosts: a `RunInstances` is refused (nothing is passed on) when fewer hosts are free than
/// its `MinCount`, and otherwise holds that many while moto launches (concurrent launches cannot
/// take them); each instance in its answer takes a host and has its `UserData` booted there;
/// every `RunInstances` and `DescribeInstances` answer shows each such instance at its host's
/// address (`ipAddress`, `privateIpAddress`, and their copies under `networkInterfaceSet`); a
/// `TerminateInstances` that succeeds frees the hosts; `AttachVolume`, `DetachVolume` and
/// `ModifyVolume` that succeed attach, detach and grow the volume's disk on the host.
struct EC2NodeAddressing {
    let pool: NodeHostPool
    let form: [String: String]
    /// The hosts a `RunInstances` holds while it is passed on.
    private var reservation: NodeHostPool.Reservation?

    /// Nil when the pool hands out nothing: the exchange is passed through untouched.
    init?(pool: NodeHostPool, request: ReceivedRequest) {
        guard pool.isHandingOut else { return nil }
        self.pool = pool
        self.form = FakeEC2.form(request.body)
    }

    var action: String { form["Action"] ?? "" }

    /// Holds the hosts a `RunInstances` needs before it is passed on; the answer EC2 gives when
    /// it cannot launch when too few are free (then nothing is passed on).
    mutating func admit() -> FakeAnswer? {
        guard action == "RunInstances" else { return nil }
        let needed = Int(form["MinCount"] ?? "1") ?? 1
        do throws(NodeHostPool.Refusal) {
            reservation = try pool.reserve(needed)
            return nil
        } catch {
            return FakeEC2.error(400, "InstanceLimitExceeded", "\(error) (MinCount \(needed))")
        }
    }

    /// Upstream's `answer` as the client sees it: booted, readdressed, and hosts freed.
    func rewrite(_ answer: FakeAnswer) -> FakeAnswer {
        guard case .respond(200, let headers, let body) = answer else {
            reservation.map(pool.cancel)
            return answer
        }
        switch action {
        case "TerminateInstances":
            for (name, id) in form where name.hasPrefix("InstanceId.") { pool.release(id) }
            return answer
        case "AttachVolume":
            if let volume = form["VolumeId"], let instance = form["InstanceId"] { pool.attached(Self.disk(volume), toNode: instance) }
            return answer
        case "DetachVolume":
            if let volume = form["VolumeId"] { pool.detached(Self.disk(volume)) }
            return answer
        case "ModifyVolume":
            if let volume = form["VolumeId"] { pool.grew(Self.disk(volume)) }
            return answer
        case "RunInstances", "DescribeInstances":
            guard let document = try? XMLDocument(data: body, options: []) else {
                reservation.map(pool.cancel)
                return answer
            }
            let instances = Self.instanceItems(in: document)
            if let reservation {
                let new = instances.map(\.id).filter { pool.host(of: $0) == nil }
                do throws(NodeHostPool.Refusal) {
                    _ = try pool.boot(new.map { ($0, nodeName ?? $0) }, userData: userData, on: reservation)
                } catch {
                    return FakeEC2.error(500, "InternalError", error.description)
                }
            }
            for (id, item) in instances {
                guard let host = pool.host(of: id) else { continue }
                Self.setAddresses(in: item, to: host.address)
            }
            return .respond(status: 200, headers: headers, body: document.xmlData)
        default:
            return answer
        }
    }

    /// An EBS volume as a Nitro instance sees it: an NVMe disk whose serial is the volume id
    /// without its dash (`nvme-Amazon_Elastic_Block_Store_vol0abc…`).
    static func disk(_ volumeID: String) -> FakeDisk {
        FakeDisk(id: volumeID, linkName: "nvme-Amazon_Elastic_Block_Store_" + volumeID.replacingOccurrences(of: "-", with: ""))
    }

    /// The decoded `UserData`; nil when there is none or it is not base64.
    var userData: String? {
        form["UserData"].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The `Name` tag the request gives its instances (`TagSpecification.N` of resource type
    /// `instance`), by which `skipHostKey(forNodeNamed:)` knows them; nil without one.
    var nodeName: String? {
        for (name, value) in form where name.hasPrefix("TagSpecification.") && name.hasSuffix(".ResourceType") && value == "instance" {
            let specification = name.dropLast("ResourceType".count)
            for (key, tag) in form where key.hasPrefix(specification + "Tag.") && key.hasSuffix(".Key") && tag == "Name" {
                return form[String(key.dropLast("Key".count)) + "Value"]
            }
        }
        return nil
    }

    /// Each instance of an answer (an `item` of an `instancesSet` with an `instanceId`), with its id.
    static func instanceItems(in document: XMLDocument) -> [(id: String, item: XMLElement)] {
        var found: [(id: String, item: XMLElement)] = []
        func visit(_ element: XMLElement, parent: String?) {
            let name = element.localName ?? element.name ?? ""
            if name == "item", parent == "instancesSet", let id = child(element, "instanceId")?.stringValue {
                found.append((id, element))
            }
            for case let next as XMLElement in element.children ?? [] { visit(next, parent: name) }
        }
        if let root = document.rootElement() { visit(root, parent: nil) }
        return found
    }

    /// Sets every public and private IPv4 address under an instance's `item` to `address`.
    static func setAddresses(in element: XMLElement, to address: String) {
        for case let next as XMLElement in element.children ?? [] {
            if ["ipAddress", "publicIp", "privateIpAddress"].contains(next.localName ?? next.name ?? "") {
                next.stringValue = address
            } else {
                setAddresses(in: next, to: address)
            }
        }
    }

    private static func child(_ element: XMLElement, _ name: String) -> XMLElement? {
        element.children?.lazy.compactMap { $0 as? XMLElement }.first { ($0.localName ?? $0.name) == name }
    }
}
