import Foundation
import Planner
import Spec

/// Makes the driver pair (cloud provider, node configurator) an environment's provider block names.
public enum ProviderFactory {
    /// The providers an environment may name, as the spec knows them.
    public static let names = Provider.Name.allCases.map(\.rawValue)

    public static func drivers(for environment: Environment, projectRoot: URL) throws -> (cloud: CloudProvider, configurator: ResourceDriver) {
        switch environment.provider.name {
        case .sandbox:
            let directory = projectRoot.appendingPathComponent(".kryoform/sandbox", isDirectory: true)
            let faults: SandboxFaults
            do { faults = try SandboxFaults.load(directory: directory) } catch let error as SandboxFaultsError {
                throw ProviderError(.invalidRequest, error.message)
            }
            return (SandboxProvider(directory: directory, faults: faults), SandboxConfigurator(directory: directory, faults: faults))
        case .digitalocean, .vultr, .aws, .static:
            throw ProviderError(.invalidRequest, "environment \(environment.name): the \(environment.provider.name.rawValue) provider is not built into this version of kryoform yet",
                                fix: "plan and apply work on the embedded sandbox provider for now (see environments/local.yaml)")
        }
    }
}
