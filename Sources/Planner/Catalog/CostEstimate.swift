import Spec

/// What an environment's clusters cost a month on one provider: the size chosen for each cluster,
/// its nodes and volumes. The numbers are the plan's own: each cluster's resources are derived
/// as a plan derives them and priced by the same catalog.
public struct ProviderCost: Hashable, Sendable, Codable {
    public var provider: String
    public var region: String
    public var currency: String
    public var clusters: [ClusterCost]
    /// Why this provider could not be priced at all (its catalog could not be read).
    public var problem: String?

    public init(provider: String, region: String, currency: String = "USD", clusters: [ClusterCost] = [], problem: String? = nil) {
        self.provider = provider
        self.region = region
        self.currency = currency
        self.clusters = clusters
        self.problem = problem
    }

    /// The month's total, or nil when the provider or one of its clusters could not be priced.
    public var monthly: Double? {
        guard problem == nil else { return nil }
        var total = 0.0
        for cluster in clusters {
            guard let monthly = cluster.monthly else { return nil }
            total += monthly
        }
        return total
    }

    enum CodingKeys: String, CodingKey {
        case provider, region, currency, clusters, problem
    }
}

/// One cluster priced on one provider.
public struct ClusterCost: Hashable, Sendable, Codable {
    public struct Volume: Hashable, Sendable, Codable {
        public var name: String
        public var count: Int
        public var sizeGiB: Int
        /// All `count` volumes together.
        public var monthly: Double

        public init(name: String, count: Int, sizeGiB: Int, monthly: Double) {
            self.name = name
            self.count = count
            self.sizeGiB = sizeGiB
            self.monthly = monthly
        }

        enum CodingKeys: String, CodingKey {
            case name, count, sizeGiB = "size_gib", monthly
        }
    }

    public var cluster: String
    public var nodes: Int
    /// The size the cluster asks for, in words.
    public var wanted: String
    /// The size chosen, its description and why.
    public var size: String?
    public var summary: String?
    public var reason: String?
    /// The root disk bought with each node, where disks are bought by size.
    public var diskGiB: Int?
    /// One node, disk included.
    public var nodeMonthly: Double?
    public var volumes: [Volume]
    /// Why the cluster cannot run on this provider (no size fits in the region).
    public var problem: String?

    /// Nodes and volumes together.
    public var monthly: Double? {
        guard let nodeMonthly else { return nil }
        return Double(nodes) * nodeMonthly + volumes.reduce(0) { $0 + $1.monthly }
    }

    enum CodingKeys: String, CodingKey {
        case cluster, nodes, wanted, size, summary, reason, diskGiB = "disk_gib", nodeMonthly = "node_monthly", volumes, problem
    }
}

/// Prices an environment's clusters on a provider's catalog.
public enum CostEstimator {
    /// `environment` as it would be on `catalog`'s provider in `region` (the catalog's default
    /// when nil). A cluster sized by another provider's slug is translated to that slug's
    /// vCPU, memory, disk and GPU through `slugCatalog` (the environment's own provider's catalog).
    public static func estimate(_ environment: Environment, project: String, on catalog: Catalog, region: String?,
                                slugCatalog: Catalog?) -> ProviderCost {
        let region = region ?? catalog.defaultRegion
        var estimate = ProviderCost(provider: catalog.provider, region: region, currency: catalog.currency)
        guard catalog.region(region) != nil else {
            let near = Suggestion.didYouMean(region, in: catalog.regions.map(\.slug)) ?? "its regions: " + catalog.regions.map(\.slug).joined(separator: ", ")
            estimate.problem = "\(catalog.provider) has no region '\(region)' (\(near))"
            return estimate
        }
        let sameProvider = environment.provider.name.rawValue == catalog.provider
        for cluster in environment.clusters where cluster.nodes > 0 {
            var cost = ClusterCost(cluster: cluster.name, nodes: cluster.nodes, wanted: describe(cluster.size), volumes: [])
            var sized = cluster
            if case .slug(let slug) = cluster.size, !sameProvider {
                guard let offering = slugCatalog?.size(slug) else {
                    cost.problem = "size '\(slug)' is \(environment.provider.name.rawValue)'s own; give the cluster a neutral size ({ cpu, memory, disk }) to compare"
                    estimate.clusters.append(cost)
                    continue
                }
                let disk = slugCatalog?.nodeDiskPricePerGiB == nil ? offering.disk : nil
                sized.size = .neutral(cpu: offering.cpu, memory: offering.memory, disk: disk, gpu: offering.gpu)
                cost.wanted = "like \(slug): " + describe(sized.size)
            }
            var alone = environment
            alone.clusters = [sized]
            alone.provider.name = Provider.Name(rawValue: catalog.provider) ?? environment.provider.name
            alone.provider.region = region
            if !sameProvider { alone.provider.image = nil }
            let builder = DesiredStateBuilder(project: project, environment: alone, stacks: [], catalog: catalog, publicKey: "")
            switch builder.build() {
            case .failure(let error):
                let prefix = "cluster \(cluster.name): "
                cost.problem = error.diagnostics.map { diagnostic in
                    (diagnostic.message.hasPrefix(prefix) ? String(diagnostic.message.dropFirst(prefix.count)) : diagnostic.message)
                        + (diagnostic.fix.map { " (\($0))" } ?? "")
                }.joined(separator: "; ")
            case .success(let desired):
                let nodes = desired.resources.filter { $0.kind == .node }
                if let node = nodes.first, let offering = node.attributes["size"].flatMap(catalog.size) {
                    cost.size = offering.slug
                    cost.summary = offering.summary
                    cost.diskGiB = node.attributes["disk_gib"].flatMap(Int.init)
                    cost.nodeMonthly = catalog.monthlyPrice(kind: .node, attributes: node.attributes)
                    cost.reason = node.notes["size"].flatMap { $0.split(separator: ";", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
                }
                for volume in cluster.volumes {
                    let made = desired.resources.filter { $0.kind == .volume && $0.address.segments.last.map(String.init) == volume.name }
                    let monthly = made.reduce(0.0) { $0 + (catalog.monthlyPrice(kind: .volume, attributes: $1.attributes) ?? 0) }
                    let size = made.first?.attributes["size_gib"].flatMap(Int.init) ?? 0
                    cost.volumes.append(ClusterCost.Volume(name: volume.name, count: made.count, sizeGiB: size, monthly: monthly))
                }
            }
            estimate.clusters.append(cost)
        }
        return estimate
    }

    /// "8 vCPU, 16GiB, 200GiB disk, 1 GPU", or the slug.
    static func describe(_ size: NodeSize) -> String {
        switch size {
        case .slug(let slug): return slug
        case let .neutral(cpu, memory, disk, gpu):
            return "\(cpu) vCPU, \(memory)" + (disk.map { ", \($0) disk" } ?? "") + (gpu > 0 ? ", \(gpu) GPU" : "")
        }
    }
}
