import Foundation

/// The fake Vultr's own request schema, from the request shapes in `provider-apis/README.md`
/// (Vultr publishes no description that could be kept here): for every endpoint the fake
/// serves, the query keys it takes and the body keys with their types and which are required.
/// An unknown key, a missing required key or a wrong type is a 400 and a recorded violation.
enum FakeVultrSchema {
    enum FieldType: String {
        case string, integer, boolean, strings = "array of strings"

        func accepts(_ value: JSONValue) -> Bool {
            switch (self, value) {
            case (.string, .string): return true
            case (.integer, .number(let number)): return number == number.rounded() && abs(number) < 1e15
            case (.boolean, .bool): return true
            case (.strings, .array(let items)): return items.allSatisfy { $0.string != nil }
            default: return false
            }
        }
    }

    struct Endpoint {
        var query: Set<String> = []
        var body: [String: FieldType]? = nil
        var required: Set<String> = []
        /// At least one of these keys (`os_id|image_id|snapshot_id|app_id`).
        var oneOf: Set<String> = []
    }

    static let listing: Set<String> = ["per_page", "cursor"]

    static let endpoints: [String: Endpoint] = [
        "GET /v2/plans": Endpoint(query: listing.union(["type", "os"])),
        "GET /v2/regions": Endpoint(query: listing),
        "GET /v2/regions/{id}/availability": Endpoint(query: ["type"]),
        "GET /v2/os": Endpoint(query: listing),
        "GET /v2/instances": Endpoint(query: listing.union(["tag", "label", "main_ip", "region"])),
        "POST /v2/instances": Endpoint(
            body: ["region": .string, "plan": .string, "os_id": .integer, "image_id": .string, "snapshot_id": .string, "app_id": .integer,
                   "label": .string, "hostname": .string, "tags": .strings, "sshkey_id": .strings, "attach_vpc": .strings, "user_data": .string,
                   "firewall_group_id": .string, "enable_ipv6": .boolean, "backups": .string],
            required: ["region", "plan"], oneOf: ["os_id", "image_id", "snapshot_id", "app_id"]),
        "GET /v2/instances/{id}": Endpoint(),
        "PATCH /v2/instances/{id}": Endpoint(body: ["plan": .string, "label": .string, "tags": .strings, "firewall_group_id": .string]),
        "DELETE /v2/instances/{id}": Endpoint(),
        "GET /v2/ssh-keys": Endpoint(query: listing),
        "POST /v2/ssh-keys": Endpoint(body: ["name": .string, "ssh_key": .string], required: ["name", "ssh_key"]),
        "GET /v2/ssh-keys/{id}": Endpoint(),
        "PATCH /v2/ssh-keys/{id}": Endpoint(body: ["name": .string, "ssh_key": .string]),
        "DELETE /v2/ssh-keys/{id}": Endpoint(),
        "GET /v2/firewalls": Endpoint(query: listing),
        "POST /v2/firewalls": Endpoint(body: ["description": .string]),
        "GET /v2/firewalls/{id}": Endpoint(),
        "DELETE /v2/firewalls/{id}": Endpoint(),
        "GET /v2/firewalls/{id}/rules": Endpoint(query: listing),
        "POST /v2/firewalls/{id}/rules": Endpoint(
            body: ["ip_type": .string, "protocol": .string, "subnet": .string, "subnet_size": .integer, "port": .string, "source": .string, "notes": .string],
            required: ["ip_type", "protocol", "subnet", "subnet_size"]),
        "DELETE /v2/firewalls/{id}/rules/{rule-id}": Endpoint(),
        "GET /v2/vpcs": Endpoint(query: listing),
        "POST /v2/vpcs": Endpoint(body: ["region": .string, "description": .string, "v4_subnet": .string, "v4_subnet_mask": .integer], required: ["region"]),
        "GET /v2/vpcs/{id}": Endpoint(),
        "DELETE /v2/vpcs/{id}": Endpoint(),
        "GET /v2/blocks": Endpoint(query: listing),
        "POST /v2/blocks": Endpoint(body: ["region": .string, "size_gb": .integer, "label": .string, "block_type": .string], required: ["region", "size_gb"]),
        "GET /v2/blocks/{id}": Endpoint(),
        "PATCH /v2/blocks/{id}": Endpoint(body: ["label": .string, "size_gb": .integer]),
        "DELETE /v2/blocks/{id}": Endpoint(),
        "POST /v2/blocks/{id}/attach": Endpoint(body: ["instance_id": .string, "live": .boolean], required: ["instance_id"]),
        "POST /v2/blocks/{id}/detach": Endpoint(body: ["live": .boolean]),
    ]

    /// `POST /v2/blocks/{id}/attach` for `/v2/blocks/abc/attach`.
    static func template(method: String, path: String) -> String {
        let segments = path.split(separator: "/").map(String.init)
        guard segments.first == "v2", segments.count >= 2 else { return "\(method) \(path)" }
        var parts = ["v2", segments[1]]
        if segments.count > 2 { parts.append("{id}") }
        if segments.count > 3 { parts.append(segments[3]) }
        if segments.count > 4 { parts.append("{rule-id}") }
        if segments.count > 5 { parts += segments[5...] }
        return "\(method) /" + parts.joined(separator: "/")
    }

    /// What is wrong with a request, by the schema of `operation`; empty when nothing is.
    static func problems(_ operation: String, query: [(name: String, value: String)], body: Data) -> [String] {
        guard let endpoint = endpoints[operation] else { return ["\(operation) is not an endpoint this fake Vultr knows"] }
        var problems: [String] = []
        for item in query where !endpoint.query.contains(item.name) {
            problems.append("unknown query parameter '\(item.name)'")
        }
        if let perPage = query.first(where: { $0.name == "per_page" })?.value, !(Int(perPage).map { (1...500).contains($0) } ?? false) {
            problems.append("per_page must be 1 to 500, not '\(perPage)'")
        }
        guard let schema = endpoint.body else {
            if !body.isEmpty { problems.append("\(operation) takes no body") }
            return problems
        }
        guard !body.isEmpty else { return problems + ["\(operation) needs a JSON body"] }
        guard let value = try? JSONValue.parse(body), let object = value.object else { return problems + ["the body is not a JSON object"] }
        for (key, item) in object.sorted(by: { $0.key < $1.key }) {
            guard let type = schema[key] else {
                problems.append("unknown key '\(key)'")
                continue
            }
            if !type.accepts(item) { problems.append("'\(key)' must be \(type.rawValue), not \(item.kind)") }
        }
        for key in endpoint.required.sorted() where object[key] == nil {
            problems.append("missing required key '\(key)'")
        }
        if !endpoint.oneOf.isEmpty, !endpoint.oneOf.contains(where: { object[$0] != nil }) {
            problems.append("one of \(endpoint.oneOf.sorted().joined(separator: ", ")) is required")
        }
        return problems
    }
}

/// The fake's catalog: a line-up modelled on Vultr's (plan ids, shapes and list prices as
/// Vultr published them; not an authoritative price list).
enum FakeVultrCatalog {
    struct Plan {
        var id: String
        var cpu: Int
        var ramMB: Int
        var diskGB: Int
        var monthly: Double
        var type: String
        var locations: [String]
        var gpuVRAM: Int? = nil
        var gpuType: String? = nil
    }

    static let everywhere = ["ewr", "ord", "dfw", "lax", "sjc", "ams", "fra", "lhr", "sgp", "nrt", "sao", "syd"]
    static let gpuRegions = ["ewr", "lax", "ams", "fra", "sgp"]

    static let plans: [Plan] = [
        Plan(id: "vc2-1c-0.5gb", cpu: 1, ramMB: 512, diskGB: 10, monthly: 2.5, type: "vc2", locations: ["ewr", "atl"]),
        Plan(id: "vc2-1c-1gb", cpu: 1, ramMB: 1024, diskGB: 25, monthly: 5, type: "vc2", locations: everywhere),
        Plan(id: "vc2-1c-2gb", cpu: 1, ramMB: 2048, diskGB: 55, monthly: 10, type: "vc2", locations: everywhere),
        Plan(id: "vc2-2c-4gb", cpu: 2, ramMB: 4096, diskGB: 80, monthly: 20, type: "vc2", locations: everywhere),
        Plan(id: "vc2-4c-8gb", cpu: 4, ramMB: 8192, diskGB: 160, monthly: 40, type: "vc2", locations: everywhere),
        Plan(id: "vc2-6c-16gb", cpu: 6, ramMB: 16384, diskGB: 320, monthly: 80, type: "vc2", locations: everywhere),
        Plan(id: "vc2-8c-32gb", cpu: 8, ramMB: 32768, diskGB: 640, monthly: 160, type: "vc2", locations: everywhere),
        Plan(id: "vc2-16c-64gb", cpu: 16, ramMB: 65536, diskGB: 1280, monthly: 320, type: "vc2", locations: everywhere),
        Plan(id: "vc2-24c-96gb", cpu: 24, ramMB: 98304, diskGB: 1600, monthly: 640, type: "vc2", locations: everywhere),
        Plan(id: "vhf-2c-4gb", cpu: 2, ramMB: 4096, diskGB: 128, monthly: 24, type: "vhf", locations: everywhere),
        Plan(id: "vhf-8c-32gb", cpu: 8, ramMB: 32768, diskGB: 512, monthly: 192, type: "vhf", locations: everywhere),
        Plan(id: "voc-c-16c-32gb-200s-amd", cpu: 16, ramMB: 32768, diskGB: 200, monthly: 287.5, type: "voc", locations: everywhere),
        Plan(id: "voc-c-32c-64gb-400s-amd", cpu: 32, ramMB: 65536, diskGB: 400, monthly: 575, type: "voc", locations: everywhere),
        Plan(id: "vcg-a100-1c-6g-4vram", cpu: 1, ramMB: 6144, diskGB: 70, monthly: 90, type: "vcg", locations: gpuRegions, gpuVRAM: 4, gpuType: "NVIDIA_A100"),
        Plan(id: "vcg-a100-12c-120g-80vram", cpu: 12, ramMB: 122_880, diskGB: 1400, monthly: 1750, type: "vcg", locations: gpuRegions, gpuVRAM: 80, gpuType: "NVIDIA_A100"),
        Plan(id: "vcg-l40s-16c-180g-48vram", cpu: 16, ramMB: 184_320, diskGB: 1200, monthly: 1232.75, type: "vcg", locations: ["ewr", "sjc"], gpuVRAM: 48, gpuType: "NVIDIA_L40S"),
        Plan(id: "vcg-a100-48c-480g-320vram", cpu: 48, ramMB: 491_520, diskGB: 5600, monthly: 7000, type: "vcg", locations: ["ewr"], gpuVRAM: 320, gpuType: "NVIDIA_A100"),
    ]

    /// Plans listed for a region but sold out there now.
    static let soldOut: [String: Set<String>] = ["ewr": ["vc2-24c-96gb"], "sao": ["vc2-16c-64gb"]]

    nonisolated(unsafe) static let regions: [[String: Any]] = [
        ("ewr", "New Jersey", "US", "North America"), ("ord", "Chicago", "US", "North America"), ("dfw", "Dallas", "US", "North America"),
        ("lax", "Los Angeles", "US", "North America"), ("sjc", "Silicon Valley", "US", "North America"), ("atl", "Atlanta", "US", "North America"),
        ("ams", "Amsterdam", "NL", "Europe"), ("fra", "Frankfurt", "DE", "Europe"), ("lhr", "London", "GB", "Europe"),
        ("sgp", "Singapore", "SG", "Asia"), ("nrt", "Tokyo", "JP", "Asia"), ("sao", "São Paulo", "BR", "South America"), ("syd", "Sydney", "AU", "Australia"),
    ].map { ["id": $0.0, "city": $0.1, "country": $0.2, "continent": $0.3, "options": ["ddos_protection", "block_storage_high_perf", "block_storage_storage_opt"]] }

    static let systems: [(id: Int, name: String, arch: String, family: String)] = [
        (2136, "Debian 12 x64 (bookworm)", "x64", "debian"), (2137, "Debian 12 i386 (bookworm)", "i386", "debian"),
        (477, "Debian 11 x64 (bullseye)", "x64", "debian"), (2284, "Ubuntu 24.04 LTS x64", "x64", "ubuntu"),
        (1743, "Ubuntu 22.04 LTS x64", "x64", "ubuntu"), (2076, "Alpine Linux x64", "x64", "alpine"), (159, "Custom", "x64", "iso"),
    ]

    static func plan(_ id: String) -> Plan? { plans.first { $0.id == id } }

    static func available(_ plan: Plan, in region: String) -> Bool {
        plan.locations.contains(region) && !(soldOut[region]?.contains(plan.id) ?? false)
    }

    static func json(_ plan: Plan) -> [String: Any] {
        var object: [String: Any] = ["id": plan.id, "vcpu_count": plan.cpu, "ram": plan.ramMB, "disk": plan.diskGB, "disk_count": 1,
                                     "bandwidth": plan.cpu * 1000, "monthly_cost": plan.monthly, "type": plan.type, "locations": plan.locations]
        if let vram = plan.gpuVRAM { object["gpu_vram_gb"] = vram }
        if let type = plan.gpuType { object["gpu_type"] = type }
        return object
    }
}
