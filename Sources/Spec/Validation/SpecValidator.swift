/// Checks that need more than one file: references between stacks and environments, dependency
/// cycles, roles, published ports, networks and capacity.
///
/// Each rule reports a path in a document; the document's source map turns it into file:line:column.
struct SpecValidator {
    let specs: Specs

    func validate() -> [Diagnostic] {
        var diagnostics = InventoryRules(stacks: specs.stacks, unreadable: specs.unreadableStacks).check()
        diagnostics += EnvironmentNameRules(environments: specs.environments).check()
        for environment in specs.environments {
            let selected = specs.stacks(in: environment)
            diagnostics += EnvironmentRules(environment: environment, specs: specs, selected: selected).check()
            if environment.clustersAreComplete {
                diagnostics += CapacityPlanner.check(environment: environment, stacks: selected)
            }
        }
        diagnostics += networkOverlaps()
        return diagnostics
    }

    /// Two environments on one provider whose private networks overlap cannot both be created
    /// (DigitalOcean refuses overlapping VPC ranges in an account) and could never be peered.
    private func networkOverlaps() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let withNetworks = specs.environments.filter { $0.network.cidr != nil && $0.provider.name.isCloud }
        for (index, environment) in withNetworks.enumerated() {
            guard let cidr = environment.network.cidr else { continue }
            // Two files of one name are reported as such (EnvironmentNameRules), not as overlapping networks.
            for earlier in withNetworks[..<index] where earlier.provider.name == environment.provider.name && earlier.name != environment.name {
                guard let other = earlier.network.cidr, cidr.overlaps(other) else { continue }
                diagnostics.append(.error(
                    "network \(cidr) overlaps network \(other) of environment '\(earlier.name)' on \(environment.provider.name.rawValue)",
                    at: environment.source.location(of: "network.cidr"),
                    notes: ["\(earlier.name)'s network is set at \(earlier.source.location(of: "network.cidr"))"],
                    fix: "give each environment its own range, e.g. 10.\(20 + index * 10).0.0/16"))
            }
        }
        return diagnostics
    }
}
