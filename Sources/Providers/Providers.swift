import Planner
import Spec

/// The providers module: HTTP transport and the DigitalOcean, Vultr, AWS, sandbox and static
/// providers. Built in later issues; this file only names the module's place in the package.
public enum ProvidersModule {
    /// The providers an environment may name, as the spec knows them.
    public static let names = Provider.Name.allCases.map(\.rawValue)
}
