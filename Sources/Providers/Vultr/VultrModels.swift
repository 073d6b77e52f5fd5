import Foundation

/// The parts of Vultr API v2 objects the adapter reads and the bodies it sends, with the
/// fields named in `provider-apis/README.md` (no official description could be had).
enum Vultr {
    struct Instance: Decodable, Sendable {
        var id: String
        var label: String?
        var hostname: String?
        var region: String?
        var plan: String?
        var os_id: Int?
        var os: String?
        /// `pending`, `active`, `suspended`, `resizing`.
        var status: String?
        /// `running`, `stopped`.
        var power_status: String?
        /// `none`, `locked`, `installingbooting`, `ok`.
        var server_status: String?
        var main_ip: String?
        var internal_ip: String?
        var tags: [String]?
        var firewall_group_id: String?

        var isReady: Bool { status == "active" && (server_status ?? "ok") == "ok" && (power_status ?? "running") == "running" }
    }

    struct Block: Decodable, Sendable {
        var id: String
        var label: String?
        var region: String?
        var size_gb: Int
        /// The instance's id, or empty when the block is detached.
        var attached_to_instance: String?
        var status: String?
        /// The disk's name under /dev/disk/by-id (after `virtio-`) on the instance it is attached to.
        var mount_id: String?

        var attachedInstance: String? { attached_to_instance.flatMap { $0.isEmpty ? nil : $0 } }
    }

    struct VPC: Decodable, Sendable {
        var id: String
        var region: String?
        var description: String?
        var v4_subnet: String?
        var v4_subnet_mask: Int?

        var range: String? { v4_subnet.map { "\($0)/\(v4_subnet_mask ?? 24)" } }
    }

    struct FirewallGroup: Decodable, Sendable {
        var id: String
        var description: String?
    }

    struct FirewallRule: Decodable, Sendable {
        var id: Int
        var ip_type: String
        var `protocol`: String
        var subnet: String
        var subnet_size: Int
        var port: String?
    }

    struct SSHKey: Decodable, Sendable {
        var id: String
        var name: String
        var ssh_key: String
    }

    struct Plan: Decodable, Sendable {
        var id: String
        var vcpu_count: Int
        /// MB.
        var ram: Int
        /// GB.
        var disk: Int
        var monthly_cost: VultrDecimal
        var type: String?
        var locations: [String]
        var gpu_vram_gb: Int?
        var gpu_type: String?
    }

    struct Region: Decodable, Sendable {
        var id: String
        var city: String?
        var country: String?
    }

    struct OS: Decodable, Sendable {
        var id: Int
        var name: String
        var arch: String?
        var family: String?
    }

    struct Availability: Decodable, Sendable { var available_plans: [String] }

    struct Meta: Decodable, Sendable {
        struct Links: Decodable, Sendable { var next: String?; var prev: String? }
        var total: Int?
        var links: Links?
    }

    struct ErrorBody: Decodable, Sendable {
        var error: String?
        var status: Int?
    }

    // Answers with one object under a key.
    struct InstanceAnswer: Decodable, Sendable { var instance: Instance }
    struct BlockAnswer: Decodable, Sendable { var block: Block }
    struct VPCAnswer: Decodable, Sendable { var vpc: VPC }
    struct FirewallAnswer: Decodable, Sendable { var firewall_group: FirewallGroup }
    struct RuleAnswer: Decodable, Sendable { var firewall_rule: FirewallRule }
    struct SSHKeyAnswer: Decodable, Sendable { var ssh_key: SSHKey }

    // Request bodies, with exactly the fields the README's shapes name (nil fields are left out).
    struct CreateInstance: Encodable, Sendable {
        var region: String
        var plan: String
        var os_id: Int
        var label: String
        var hostname: String
        var tags: [String]
        var sshkey_id: [String]
        var attach_vpc: [String]
        var user_data: String
        var firewall_group_id: String?
    }

    struct ResizeInstance: Encodable, Sendable { var plan: String }

    struct CreateVPC: Encodable, Sendable {
        var region: String
        var description: String
        var v4_subnet: String?
        var v4_subnet_mask: Int?
    }

    struct CreateFirewall: Encodable, Sendable { var description: String }

    struct CreateRule: Encodable, Sendable, Hashable {
        var ip_type: String
        var `protocol`: String
        var subnet: String
        var subnet_size: Int
        var port: String?
    }

    struct CreateSSHKey: Encodable, Sendable {
        var name: String
        var ssh_key: String
    }

    struct RenameSSHKey: Encodable, Sendable { var name: String }

    struct CreateBlock: Encodable, Sendable {
        var region: String
        var size_gb: Int
        var label: String
    }

    struct ResizeBlock: Encodable, Sendable { var size_gb: Int }

    struct AttachBlock: Encodable, Sendable {
        var instance_id: String
        var live: Bool
    }

    struct DetachBlock: Encodable, Sendable { var live: Bool }
}

/// A price as Vultr writes it: a JSON number with decimals (`3.5`), or the same in a string.
struct VultrDecimal: Decodable, Sendable, Hashable {
    var value: Double

    init(_ value: Double) { self.value = value }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            value = number
        } else if let text = try? container.decode(String.self), let number = Double(text) {
            value = number
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "monthly_cost is neither a number nor a decimal string")
        }
    }
}

/// A page of a Vultr list answer: its items and the cursor of the next page.
protocol VultrListPage: Decodable, Sendable {
    associatedtype Item: Sendable
    var items: [Item] { get }
    var meta: Vultr.Meta? { get }
}

extension VultrListPage {
    /// The cursor to pass back for the next page; nil on the last page (Vultr sends an empty `next`).
    var nextCursor: String? {
        guard let next = meta?.links?.next, !next.isEmpty else { return nil }
        return next
    }
}

extension Vultr {
    struct InstancePage: VultrListPage { var instances: [Instance]; var meta: Meta?; var items: [Instance] { instances } }
    struct BlockPage: VultrListPage { var blocks: [Block]; var meta: Meta?; var items: [Block] { blocks } }
    struct VPCPage: VultrListPage { var vpcs: [VPC]; var meta: Meta?; var items: [VPC] { vpcs } }
    struct FirewallPage: VultrListPage { var firewall_groups: [FirewallGroup]; var meta: Meta?; var items: [FirewallGroup] { firewall_groups } }
    struct RulePage: VultrListPage { var firewall_rules: [FirewallRule]; var meta: Meta?; var items: [FirewallRule] { firewall_rules } }
    struct SSHKeyPage: VultrListPage { var ssh_keys: [SSHKey]; var meta: Meta?; var items: [SSHKey] { ssh_keys } }
    struct PlanPage: VultrListPage { var plans: [Plan]; var meta: Meta?; var items: [Plan] { plans } }
    struct RegionPage: VultrListPage { var regions: [Region]; var meta: Meta?; var items: [Region] { regions } }
    struct OSPage: VultrListPage { var os: [OS]; var meta: Meta?; var items: [OS] { os } }
}
