import Foundation
import Planner

/// An environment's objects as Vultr lists them, turned into observed resources.
struct VultrObservation {
    var scope: ResourceScope
    var instances: [Vultr.Instance]
    var blocks: [Vultr.Block]
    var vpcs: [Vultr.VPC]
    var firewall: (group: Vultr.FirewallGroup, rules: [Vultr.FirewallRule])?
    var keys: [Vultr.SSHKey]
    var images: VultrImages
    var publicKey: String?

    var resources: [ObservedResource] {
        var resources: [ObservedResource] = []
        let vpc = vpcs.first { VultrNaming.describesScope($0.description, scope) }
        let cidr = vpc.map { VultrNaming.requestedCIDR($0) ?? $0.range ?? "auto" }
        if let vpc {
            resources.append(ObservedResource(address: .network, kind: .network, providerID: vpc.id,
                                              attributes: ["region": vpc.region ?? "", "cidr": cidr ?? "auto"]))
        }
        if let firewall {
            let attributes = VultrFirewallRules.attributes(firewall.rules.map(VultrFirewallRules.body(of:))) { range in
                // A VPC whose range Vultr chose is `auto` in the spec.
                "all from " + (range == vpc?.range && cidr == "auto" ? "auto" : range)
            }
            resources.append(ObservedResource(address: .firewall, kind: .firewall, providerID: firewall.group.id, attributes: attributes))
        }
        let keyName = "\(scope.project)-\(scope.environment)"
        if let key = keys.first(where: { $0.name == keyName }) {
            resources.append(ObservedResource(address: .sshKey, kind: .sshKey, providerID: key.id,
                                              attributes: ["name": key.name, "public_key": DesiredStateBuilder.fingerprint(ofPublicKey: key.ssh_key)]))
        } else if let publicKey, let key = keys.first(where: { Naming.sameKey($0.ssh_key, publicKey) }) {
            // The project's key, registered by hand under another name: used as it is, never renamed or deleted.
            resources.append(ObservedResource(address: .sshKey, kind: .sshKey, providerID: key.id,
                                              attributes: ["name": keyName, "public_key": DesiredStateBuilder.fingerprint(ofPublicKey: key.ssh_key)],
                                              details: ["shared": "true", "registered_as": key.name]))
        }
        var instanceAddresses: [String: ResourceAddress] = [:]
        for instance in instances {
            guard instance.tags?.contains(VultrNaming.scopeTag(scope)) ?? false, let address = VultrNaming.address(of: instance, scope: scope) else { continue }
            instanceAddresses[instance.id] = address
            var attributes: Attributes = ["size": instance.plan ?? "", "region": instance.region ?? ""]
            if let os = instance.os_id { attributes["image"] = images.name(of: os) }
            attributes["network"] = Self.network(of: instance, vpc: vpc, cidr: cidr)
            resources.append(ObservedResource(address: address, kind: .node, providerID: instance.id,
                                              status: instance.isReady ? .ready : .pending, attributes: attributes,
                                              details: Self.details(of: instance)))
        }
        for block in blocks {
            guard let address = VultrNaming.address(ofBlock: block.label, scope: scope) else { continue }
            let attached = block.attachedInstance
            var resource = ObservedResource(address: address, kind: .volume, providerID: block.id, attributes: [
                "size_gib": String(block.size_gb), "region": block.region ?? "",
                "node": attached.flatMap { instanceAddresses[$0]?.rawValue } ?? (attached.map { "instance \($0)" } ?? ""),
            ])
            if let attached { resource.details["instance_id"] = attached }
            // Vultr: "when mounted the ID can be found in /dev/disk/by-id prefixed with virtio".
            if let mount = block.mount_id, !mount.isEmpty { resource.details[VolumeMount.deviceDetail] = "/dev/disk/by-id/virtio-\(mount)" }
            resources.append(resource)
        }
        return resources
    }

    /// The network an instance is on, from the one listing: the instance list does not name the
    /// VPCs an instance is attached to, but its `internal_ip` is in the VPC's range when it is.
    /// With no internal address listed, the instance is taken to be on the environment's VPC
    /// (it was made attached to it).
    static func network(of instance: Vultr.Instance, vpc: Vultr.VPC?, cidr: String?) -> String {
        guard let vpc, let cidr else { return "none" }
        guard let internalIP = instance.internal_ip, !internalIP.isEmpty, let range = vpc.range else { return cidr }
        return IPv4Range(range)?.contains(internalIP) ?? true ? cidr : "outside \(range)"
    }

    static func details(of instance: Vultr.Instance) -> [String: String] {
        var details: [String: String] = [:]
        if let address = instance.main_ip, !address.isEmpty, address != "0.0.0.0" { details["public_ipv4"] = address }
        if let address = instance.internal_ip, !address.isEmpty { details["private_ipv4"] = address }
        return details
    }
}

/// An IPv4 CIDR range, to tell whether an address is inside it.
struct IPv4Range {
    var base: UInt32
    var mask: UInt32

    init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let bits = Int(parts[1]), (0...32).contains(bits), let base = Self.number(String(parts[0])) else { return nil }
        mask = bits == 0 ? 0 : UInt32.max << UInt32(32 - bits)
        self.base = base & mask
    }

    func contains(_ address: String) -> Bool {
        guard let number = Self.number(address) else { return false }
        return number & mask == base
    }

    static func number(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 < 256 }) else { return nil }
        return octets.reduce(0) { $0 << 8 | $1 }
    }
}

/// Vultr's plans, regions and systems as kryoform's catalog.
enum VultrCatalog {
    /// VRAM of one whole card, GB, by the model its `gpu_type` names: a plan with less is a
    /// slice of a card (Vultr sells fractions of an A100), which is not a GPU for sizing.
    static let cardVRAM: [(model: String, gigabytes: Int)] = [
        ("GH200", 96), ("H100", 80), ("A100", 80), ("L40S", 48), ("A40", 48), ("A16", 16), ("MI300X", 192), ("B200", 180),
    ]

    static func catalog(plans: [Vultr.Plan], regions: [Vultr.Region], images: VultrImages, availableIn: (region: String, plans: Set<String>)?) -> Catalog {
        var offerings: [SizeOffering] = []
        for plan in plans where !plan.locations.isEmpty {
            var gpu = 0
            var model: String?
            if let vram = plan.gpu_vram_gb, vram > 0 {
                let type = (plan.gpu_type ?? "").uppercased()
                let name = type.replacingOccurrences(of: "NVIDIA_", with: "").replacingOccurrences(of: "AMD_", with: "").replacingOccurrences(of: "_", with: " ")
                if let card = cardVRAM.first(where: { type.contains($0.model) }) {
                    gpu = vram / card.gigabytes
                    guard gpu > 0 else { continue }
                } else {
                    gpu = 1
                }
                model = "\(name.isEmpty ? "GPU" : name) \(vram / max(gpu, 1)) GB"
            }
            var locations = plan.locations
            if let availableIn, !availableIn.plans.contains(plan.id) {
                // Listed for the region, but not deployable there now.
                locations.removeAll { $0 == availableIn.region }
            }
            guard !locations.isEmpty else { continue }
            offerings.append(SizeOffering(slug: plan.id, cpu: plan.vcpu_count, memory: .mebibytes(Int64(plan.ram)), disk: .gibibytes(Int64(plan.disk)),
                                          gpu: gpu, gpuModel: model, monthlyPrice: plan.monthly_cost.value, regions: locations.sorted()))
        }
        let names = images.names
        return Catalog(provider: "vultr", currency: "USD",
                       regions: regions.map { CatalogRegion(slug: $0.id, name: [$0.city, $0.country].compactMap { $0 }.joined(separator: ", ")) },
                       sizes: offerings, defaultImage: VultrProvider.defaultImage,
                       images: names.isEmpty ? [VultrProvider.defaultImage] : names,
                       volumePricePerGiB: VultrProvider.volumePricePerGiB, defaultRegion: VultrProvider.defaultRegion)
    }
}

/// Vultr's refusals, in words that say what to do.
enum VultrErrors {
    static func explain(_ failure: HTTPFailure, doing: String?) -> ProviderError {
        let what = "vultr: " + (doing.map { "\($0): " } ?? "")
        let said = failure.message ?? ""
        let call = "\(failure.method) \(failure.path)"
        switch failure.reason {
        case .timeout:
            return ProviderError(.unavailable, "\(what)\(call) got no answer in time", fix: "check the network and status.vultr.com, then run again")
        case .connection(let detail):
            return ProviderError(.unavailable, "\(what)\(call) could not reach the API (\(detail))",
                                 fix: "check the network, and provider.endpoint if the environment sets one")
        case .status(let status):
            let message = "\(what)\(call) answered \(status)\(said.isEmpty ? "" : " \(said)")"
            let lower = said.lowercased()
            switch status {
            case 401:
                return ProviderError(.unauthorized, message,
                                     fix: "VULTR_API_KEY (or the environment's provider.api_key) holds no valid key, or the key's access control does not allow this machine's IP: create a key or add this IP at my.vultr.com/settings/#settingsapi",
                                     nothingWasDone: true)
            case 403:
                return ProviderError(.unauthorized, message,
                                     fix: "the API key's access control list does not allow this machine's IP, or the account may not do this: add the IP at my.vultr.com/settings/#settingsapi",
                                     nothingWasDone: true)
            case 404:
                return ProviderError(.notFound, message, fix: "it was deleted outside kryoform: run kryoform plan to see what exists", nothingWasDone: true)
            case 429:
                return ProviderError(.throttled, message,
                                     fix: "Vultr allows about 30 requests a second per IP and kryoform keeps to 20; another program using the API from this IP shares that budget: wait a moment and run again, or lower --parallelism",
                                     retryAfter: failure.retryAfter, nothingWasDone: true)
            case 400..<500 where lower.contains("limit") || lower.contains("exceed") || lower.contains("quota") || lower.contains("maximum"):
                return ProviderError(.quota, message, fix: "the account's instance or storage limit is reached: ask Vultr support to raise it, or plan fewer nodes",
                                     nothingWasDone: true)
            case 400..<500 where lower.contains("plan") && (lower.contains("region") || lower.contains("available") || lower.contains("location")):
                return ProviderError(.invalidRequest, message, fix: "choose a size offered in the environment's region (kryoform capacity lists them), or another region",
                                     nothingWasDone: true)
            case 400..<500:
                return ProviderError(.invalidRequest, message, nothingWasDone: true)
            default:
                return ProviderError(.unavailable, message, fix: "Vultr is failing; run again later (status.vultr.com)")
            }
        }
    }
}
