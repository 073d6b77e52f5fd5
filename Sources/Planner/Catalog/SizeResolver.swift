import Spec

/// Picks a provider's size for a cluster's `size:`: the cheapest offering in the region that
/// satisfies a neutral size, or the named slug after checking the region offers it.
public enum SizeResolver {
    public struct Choice: Hashable, Sendable {
        public var offering: SizeOffering
        /// Why this size: "cheapest in nyc3 with at least 16 vCPU, 32GiB, 200GiB disk".
        public var reason: String
    }

    public struct Problem: Error, Hashable, Sendable {
        public var message: String
        public var fix: String?
    }

    public static func resolve(_ size: NodeSize, region: String, in catalog: Catalog) -> Result<Choice, Problem> {
        switch size {
        case .slug(let slug):
            guard let offering = catalog.size(slug) else {
                let near = Suggestion.didYouMean(slug, in: catalog.sizes.map(\.slug))
                return .failure(Problem(message: "\(catalog.provider) has no size '\(slug)'",
                                        fix: near ?? "use a neutral size ({ cpu, memory, disk }) and kryoform picks the cheapest"))
            }
            guard offering.regions.contains(region) else {
                return .failure(Problem(message: "size '\(slug)' is not offered in region \(region)",
                                        fix: "it is offered in \(offering.regions.sorted().joined(separator: ", ")); change the region or the size"))
            }
            return .success(Choice(offering: offering, reason: "named in the spec"))
        case let .neutral(cpu, memory, disk, gpu):
            let wanted = "at least " + CostEstimator.describe(size)
            let satisfies = { (offering: SizeOffering) in
                // Where disks are bought by size, any size takes the disk asked for.
                offering.cpu >= cpu && offering.memory >= memory && offering.gpu >= gpu
                    && (catalog.nodeDiskPricePerGiB != nil || (disk.map { offering.disk >= $0 } ?? true))
            }
            let fitting = catalog.sizes.filter { $0.regions.contains(region) && satisfies($0) }
            guard let best = fitting.min(by: isBetter) else {
                let anywhere = catalog.sizes.filter(satisfies).min(by: isBetter)
                if let anywhere {
                    return .failure(Problem(message: "no size in region \(region) has \(wanted)",
                                            fix: "\(anywhere.slug) has it in \(anywhere.regions.sorted().joined(separator: ", ")); change the region, or lower the size"))
                }
                let largest = catalog.sizes.filter { $0.gpu >= gpu }.max { ($0.cpu, $0.memory) < ($1.cpu, $1.memory) }
                return .failure(Problem(message: "\(catalog.provider) has no size with \(wanted)",
                                        fix: largest.map { "the largest is \($0.slug) (\($0.summary)); lower the size or add nodes" }))
            }
            return .success(Choice(offering: best, reason: "cheapest in \(region) with \(wanted)"))
        }
    }

    /// Cheaper first; among equal prices the smaller size, then the slug, so the choice never wavers.
    private static func isBetter(_ lhs: SizeOffering, _ rhs: SizeOffering) -> Bool {
        if lhs.monthlyPrice != rhs.monthlyPrice { return lhs.monthlyPrice < rhs.monthlyPrice }
        if lhs.cpu != rhs.cpu { return lhs.cpu < rhs.cpu }
        if lhs.memory != rhs.memory { return lhs.memory < rhs.memory }
        if lhs.disk != rhs.disk { return lhs.disk < rhs.disk }
        return lhs.slug < rhs.slug
    }
}
