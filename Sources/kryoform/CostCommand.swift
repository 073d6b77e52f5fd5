import ArgumentParser
import Foundation
import Planner
import Providers
@preconcurrency import Rainbow
import Spec

/// `kryoform cost`: what an environment's clusters cost a month, side by side on several providers.
struct CostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "Show the monthly cost of an environment, side by side per provider.",
        discussion: """
            For each provider, kryoform reads its catalog (sizes and prices) and picks for every cluster \
            the size a plan on that provider would pick: the cheapest that satisfies the cluster's size, or, \
            for a size named by another provider's slug, the cheapest with that slug's vCPU, memory, disk \
            and GPU. The numbers are the plan's own.

            A provider other than the environment's own is read with its usual credentials \
            (DIGITALOCEAN_TOKEN, VULTR_API_KEY, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) in its \
            default region (nyc3, ewr, us-east-1) unless --region names one.

            Exit codes: 0 every provider priced; 1 a provider or a cluster could not be priced (the rest is shown).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: EnvironmentOptions

    @Option(name: .customLong("provider"), help: ArgumentHelp("A provider to price the environment on (repeatable; default: the environment's own).", valueName: "name"))
    var providers: [String] = []

    @Option(name: .customLong("region"), help: ArgumentHelp("The region to price a provider in (repeatable).", valueName: "provider=region"))
    var regions: [String] = []

    @Option(name: .customLong("endpoint"), help: ArgumentHelp("A compatible API to read a provider's catalog from (repeatable).", valueName: "provider=url"))
    var endpoints: [String] = []

    @Flag(help: "Print the comparison as JSON.")
    var json = false

    func run() async throws {
        global.configureOutput()
        let root = try global.projectRoot()
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
        let renderer = DiagnosticRenderer(sources: specs.sources)
        let environment = try specs.requireEnvironment(target.environment)
        let errors = specs.diagnostics(forEnvironment: environment.name).filter { $0.severity == .error }
        guard errors.isEmpty, let project = specs.project else {
            let text = errors.map { renderer.render($0) }.joined(separator: "\n\n")
            throw CommandFailure(message: text + "\n\n" + "✗ ".red + "\(DiagnosticRenderer.count(errors)): fix the specs, then run again (kryoform validate -e \(environment.name) lists them)")
        }
        let names = try chosenProviders(environment)
        let regionFor = try pairs(regions, option: "--region")
        let endpointFor = try pairs(endpoints, option: "--endpoint")
        for name in Set(regionFor.keys).union(endpointFor.keys) where !names.contains(where: { $0.rawValue == name }) {
            throw CommandFailure(message: "error: --region or --endpoint names \(name), which is not among the providers priced (\(names.map(\.rawValue).joined(separator: ", ")))")
        }

        // Every catalog at once; the environment's own too when a cluster names one of its slugs.
        var wanted = names
        let usesSlugs = environment.clusters.contains { if case .slug = $0.size { return true } else { return false } }
        if usesSlugs && !wanted.contains(environment.provider.name) { wanted.append(environment.provider.name) }
        let catalogs = await withTaskGroup(of: (Provider.Name, Result<Catalog, ProviderError>).self) { group in
            for name in wanted {
                let alternative = Self.environment(environment, on: name, region: regionFor[name.rawValue], endpoint: endpointFor[name.rawValue])
                group.addTask {
                    do {
                        let cloud = try ProviderFactory.drivers(for: alternative, projectRoot: root, publicKey: nil).cloud
                        return (name, .success(try await cloud.catalog()))
                    } catch let error as ProviderError {
                        return (name, .failure(error))
                    } catch {
                        return (name, .failure(ProviderError(.failed, "\(name.rawValue): \(error)")))
                    }
                }
            }
            var catalogs: [Provider.Name: Result<Catalog, ProviderError>] = [:]
            for await (name, result) in group { catalogs[name] = result }
            return catalogs
        }
        let slugCatalog = try? catalogs[environment.provider.name]?.get()
        let costs = names.map { name -> ProviderCost in
            let region = regionFor[name.rawValue] ?? (name == environment.provider.name ? environment.provider.region : nil)
            switch catalogs[name] {
            case .success(let catalog):
                return CostEstimator.estimate(environment, project: project.name, on: catalog, region: region, slugCatalog: slugCatalog)
            case .failure(let error):
                return ProviderCost(provider: name.rawValue, region: region ?? "", problem: error.message + (error.fix.map { " (\($0))" } ?? ""))
            case nil:
                return ProviderCost(provider: name.rawValue, region: region ?? "", problem: "no catalog")
            }
        }
        let comparison = CostComparison(project: project.name, environment: environment.name, providers: costs)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(comparison))
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            print(CostTable(comparison: comparison).text(), terminator: "")
        }
        if costs.contains(where: { $0.monthly == nil }) {
            throw CommandFailure(message: "✗ ".red + "not every provider could price every cluster; the reasons are above")
        }
    }

    /// The providers named with --provider, in their order, or the environment's own.
    private func chosenProviders(_ environment: Environment) throws -> [Provider.Name] {
        guard !providers.isEmpty else { return [environment.provider.name] }
        var names: [Provider.Name] = []
        for text in providers {
            guard let name = Provider.Name(rawValue: text), name != .static else {
                let priced = Provider.Name.allCases.filter { $0 != .static }.map(\.rawValue)
                var message = "error: --provider \(text): kryoform prices \(priced.joined(separator: ", "))"
                if text == "static" { message += " (static hosts are already paid for; kryoform has no price for them)" }
                if let near = Suggestion.didYouMean(text, in: priced) { message += "\n  = fix: \(near)" }
                throw CommandFailure(message: message)
            }
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// `name=value` options as a dictionary keyed by provider name.
    private func pairs(_ values: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for value in values {
            let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Provider.Name(rawValue: parts[0]) != nil, !parts[1].isEmpty else {
                throw CommandFailure(message: "error: \(option) \(value): write it as provider=value, e.g. \(option) aws=\(option == "--region" ? "sa-east-1" : "http://127.0.0.1:5000")")
            }
            result[parts[0]] = parts[1]
        }
        return result
    }

    /// The environment moved to another provider: its region, endpoint and usual credentials.
    static func environment(_ environment: Environment, on name: Provider.Name, region: String?, endpoint: String?) -> Environment {
        var moved = environment
        guard name != environment.provider.name else {
            if let region { moved.provider.region = region }
            if let endpoint { moved.provider.endpoint = endpoint }
            return moved
        }
        moved.provider.name = name
        moved.provider.region = region
        moved.provider.endpoint = endpoint
        moved.provider.image = nil
        moved.provider.hosts = []
        moved.provider.credentials = [:]
        for (key, reference) in name.credentials {
            if let reference { moved.provider.credentials[key] = reference }
        }
        return moved
    }
}

/// `kryoform cost --json`.
struct CostComparison: Encodable {
    var project: String
    var environment: String
    var providers: [ProviderCost]

    enum CodingKeys: String, CodingKey {
        case project, environment, providers
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(project, forKey: .project)
        try container.encode(environment, forKey: .environment)
        try container.encode(providers.map(PricedProvider.init), forKey: .providers)
    }

    /// A provider's cost with its totals written out, for readers of the JSON.
    struct PricedProvider: Encodable {
        var cost: ProviderCost

        enum Keys: String, CodingKey {
            case provider, region, currency, problem, monthly, clusters
        }

        enum ClusterKeys: String, CodingKey {
            case cluster, nodes, wanted, size, summary, reason, disk_gib, node_monthly, volumes, monthly, problem
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(cost.provider, forKey: .provider)
            try container.encode(cost.region, forKey: .region)
            try container.encode(cost.currency, forKey: .currency)
            try container.encodeIfPresent(cost.problem, forKey: .problem)
            try container.encode(cost.monthly.map(CostTable.cents), forKey: .monthly)
            var clusters = container.nestedUnkeyedContainer(forKey: .clusters)
            for cluster in cost.clusters {
                var item = clusters.nestedContainer(keyedBy: ClusterKeys.self)
                try item.encode(cluster.cluster, forKey: .cluster)
                try item.encode(cluster.nodes, forKey: .nodes)
                try item.encode(cluster.wanted, forKey: .wanted)
                try item.encodeIfPresent(cluster.size, forKey: .size)
                try item.encodeIfPresent(cluster.summary, forKey: .summary)
                try item.encodeIfPresent(cluster.reason, forKey: .reason)
                try item.encodeIfPresent(cluster.diskGiB, forKey: .disk_gib)
                try item.encode(cluster.nodeMonthly.map(CostTable.cents), forKey: .node_monthly)
                try item.encode(cluster.volumes.map { ClusterCost.Volume(name: $0.name, count: $0.count, sizeGiB: $0.sizeGiB, monthly: CostTable.cents($0.monthly)) },
                                forKey: .volumes)
                try item.encode(cluster.monthly.map(CostTable.cents), forKey: .monthly)
                try item.encodeIfPresent(cluster.problem, forKey: .problem)
            }
        }
    }
}

/// The text of `kryoform cost`: a table per cluster (a row per provider), then the totals.
struct CostTable {
    var comparison: CostComparison

    static func cents(_ amount: Double) -> Double { (amount * 100).rounded() / 100 }

    func text() -> String {
        let providers = comparison.providers
        var lines = ["Monthly cost of \(comparison.project)/\(comparison.environment)".bold, ""]
        for problem in providers.compactMap({ cost in cost.problem.map { (cost.provider, $0) } }) {
            lines.append("\(problem.0): ".red + problem.1)
        }
        if providers.contains(where: { $0.problem != nil }) { lines.append("") }
        let priced = providers.filter { $0.problem == nil }
        let clusterNames = priced.first?.clusters.map(\.cluster) ?? []
        if priced.isEmpty == false && clusterNames.isEmpty {
            lines.append("The environment has no clusters: nothing to buy.")
            lines.append("")
        }
        for name in clusterNames {
            let rows = priced.compactMap { cost in cost.clusters.first { $0.cluster == name }.map { (cost, $0) } }
            guard let first = rows.first?.1 else { continue }
            lines.append("cluster \(name)".bold + ": \(first.nodes) node\(first.nodes == 1 ? "" : "s"), \(first.wanted)")
            var table: [[String]] = [["provider", "region", "size", "nodes", "volumes", "monthly"]]
            for (cost, cluster) in rows {
                guard cluster.problem == nil, let size = cluster.size, let node = cluster.nodeMonthly, let monthly = cluster.monthly else {
                    table.append([cost.provider, cost.region, "✗ " + (cluster.problem ?? "no size fits")])
                    continue
                }
                let disk = cluster.diskGiB.map { " + \($0) GiB disk" } ?? ""
                let volumes = cluster.volumes.isEmpty ? "—" : cluster.volumes.map {
                    "\($0.count) × \($0.sizeGiB) GiB \(Money.format($0.monthly, currency: cost.currency))"
                }.joined(separator: ", ")
                table.append([cost.provider, cost.region, size + disk,
                              "\(cluster.nodes) × \(Money.format(node, currency: cost.currency)) = \(Money.format(Double(cluster.nodes) * node, currency: cost.currency))",
                              volumes, Money.format(monthly, currency: cost.currency)])
            }
            lines += Self.layout(table)
            for (cost, cluster) in rows where cluster.summary != nil {
                lines.append("  " + "\(cost.provider): \(cluster.size ?? "") is \(cluster.summary ?? "")\(cluster.reason.map { "; \($0)" } ?? "")".lightBlack)
            }
            lines.append("")
        }
        lines.append("total per month".bold)
        let cheapest = priced.compactMap(\.monthly).min()
        var totals: [[String]] = []
        for cost in providers {
            guard let monthly = cost.monthly else {
                totals.append([cost.provider, cost.region.isEmpty ? "—" : cost.region,
                               cost.problem == nil ? "✗ not every cluster could be priced" : "✗ not priced: its catalog could not be read"])
                continue
            }
            let mark = providers.count > 1 && monthly == cheapest ? "  ← cheapest" : ""
            totals.append([cost.provider, cost.region, Money.format(monthly, currency: cost.currency) + mark])
        }
        lines += Self.layout(totals, header: false)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Columns padded to their widest cell, two spaces apart, indented by two.
    static func layout(_ rows: [[String]], header: Bool = true) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        // A short row's last cell (a problem) runs on and widens nothing.
        let widths = (0..<columns).map { column in
            rows.map { column < $0.count && (column < $0.count - 1 || $0.count == columns) ? $0[column].count : 0 }.max() ?? 0
        }
        return rows.enumerated().map { index, row in
            let text = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            return "  " + (header && index == 0 ? text.lightBlack : text)
        }
    }
}
