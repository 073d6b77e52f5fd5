import Foundation

/// The parts of DigitalOcean API v2 objects the adapter reads (see
/// `provider-apis/digitalocean/DigitalOcean-public.v2.bundled.json`).
enum DO {
    struct Droplet: Decodable, Sendable {
        struct Slug: Decodable, Sendable { var slug: String? }
        struct Networks: Decodable, Sendable {
            struct Address: Decodable, Sendable {
                var ip_address: String
                var type: String
            }
            var v4: [Address]?
        }
        var id: Int
        var name: String
        var status: String
        var size_slug: String?
        var region: Slug?
        var image: Slug?
        var tags: [String]?
        var vpc_uuid: String?
        var networks: Networks?
        var volume_ids: [String]?

        func address(type: String) -> String? { networks?.v4?.first { $0.type == type }?.ip_address }
    }

    struct Volume: Decodable, Sendable {
        struct Region: Decodable, Sendable { var slug: String }
        var id: String
        var name: String
        var size_gigabytes: Int
        var region: Region?
        var droplet_ids: [Int]?
        var tags: [String]?
    }

    struct VPC: Decodable, Sendable {
        var id: String
        var name: String
        var region: String?
        var ip_range: String?
        var description: String?
    }

    struct FirewallRule: Codable, Sendable, Hashable {
        struct Endpoints: Codable, Sendable, Hashable {
            var addresses: [String]?
        }
        var `protocol`: String
        var ports: String?
        var sources: Endpoints?
        var destinations: Endpoints?
    }

    struct Firewall: Decodable, Sendable {
        var id: String
        var name: String
        var inbound_rules: [FirewallRule]?
        var outbound_rules: [FirewallRule]?
        var tags: [String]?
    }

    struct SSHKey: Decodable, Sendable {
        var id: Int
        var name: String
        var fingerprint: String
        var public_key: String
    }

    struct Action: Decodable, Sendable {
        var id: Int
        var status: String
        var type: String
    }

    struct Size: Decodable, Sendable {
        struct GPU: Decodable, Sendable {
            struct VRAM: Decodable, Sendable { var amount: Int?; var unit: String? }
            var count: Int?
            var model: String?
            var vram: VRAM?
        }
        var slug: String
        var memory: Int
        var vcpus: Int
        var disk: Int
        var price_monthly: Double
        var regions: [String]
        var available: Bool
        var gpu_info: GPU?
    }

    struct Region: Decodable, Sendable {
        var slug: String
        var name: String
        var available: Bool
    }

    struct Meta: Decodable, Sendable { var total: Int? }

    struct Links: Decodable, Sendable {
        struct Pages: Decodable, Sendable { var next: String? }
        var pages: Pages?
    }

    struct ErrorBody: Decodable, Sendable {
        var id: String?
        var message: String?
        var request_id: String?
    }

    // Answers with one object under a key.
    struct DropletsCreated: Decodable, Sendable { var droplets: [Droplet]? ; var droplet: Droplet? }
    struct VolumeAnswer: Decodable, Sendable { var volume: Volume }
    struct DropletAnswer: Decodable, Sendable { var droplet: Droplet }
    struct VPCAnswer: Decodable, Sendable { var vpc: VPC }
    struct FirewallAnswer: Decodable, Sendable { var firewall: Firewall }
    struct SSHKeyAnswer: Decodable, Sendable { var ssh_key: SSHKey }
    struct ActionAnswer: Decodable, Sendable { var action: Action }

    // Request bodies, with exactly the fields the description names.
    struct CreateDroplets: Encodable, Sendable {
        var names: [String]
        var region: String
        var size: String
        var image: String
        var ssh_keys: [String]
        var tags: [String]
        var user_data: String
        var vpc_uuid: String?
        var monitoring: Bool
    }

    struct CreateVolume: Encodable, Sendable {
        var name: String
        var size_gigabytes: Int
        var region: String
        var description: String
        var tags: [String]
    }

    struct VolumeAction: Encodable, Sendable {
        var type: String
        var droplet_id: Int?
        var size_gigabytes: Int?
        var region: String
    }

    struct CreateVPC: Encodable, Sendable {
        var name: String
        var region: String
        var description: String
        var ip_range: String?
    }

    struct FirewallBody: Encodable, Sendable {
        var name: String
        var inbound_rules: [FirewallRule]
        var outbound_rules: [FirewallRule]
        var tags: [String]
    }

    struct CreateSSHKey: Encodable, Sendable {
        var name: String
        var public_key: String
    }

    struct RenameSSHKey: Encodable, Sendable { var name: String }
    struct Tag: Encodable, Sendable { var name: String }

    struct DropletAction: Encodable, Sendable {
        var type: String
        var size: String?
        var disk: Bool?
    }
}

/// A page of a list answer: its items, and the link to the next page if there is one.
protocol DOListPage: Decodable, Sendable {
    associatedtype Item: Sendable
    var items: [Item] { get }
    var links: DO.Links? { get }
    var meta: DO.Meta? { get }
}

extension DOListPage {
    /// The `page` query value of the next-page link.
    var nextPage: Int? {
        links?.pages?.next.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "page" }?.value }.flatMap { Int($0) }
    }
}

extension DO {
    struct DropletPage: DOListPage { var meta: Meta?; var droplets: [Droplet]; var links: Links?; var items: [Droplet] { droplets } }
    struct VolumePage: DOListPage { var meta: Meta?; var volumes: [Volume]; var links: Links?; var items: [Volume] { volumes } }
    struct VPCPage: DOListPage { var meta: Meta?; var vpcs: [VPC]; var links: Links?; var items: [VPC] { vpcs } }
    struct FirewallPage: DOListPage { var meta: Meta?; var firewalls: [Firewall]; var links: Links?; var items: [Firewall] { firewalls } }
    struct SSHKeyPage: DOListPage { var meta: Meta?; var ssh_keys: [SSHKey]; var links: Links?; var items: [SSHKey] { ssh_keys } }
    struct SizePage: DOListPage { var meta: Meta?; var sizes: [Size]; var links: Links?; var items: [Size] { sizes } }
    struct RegionPage: DOListPage { var meta: Meta?; var regions: [Region]; var links: Links?; var items: [Region] { regions } }
}
