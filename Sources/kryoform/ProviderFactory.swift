import Foundation
import Planner
import Providers
import Remote
import Spec

/// Makes the driver pair (cloud provider, node configurator) an environment's provider block names:
/// the one place where providers, the configurator and their settings are put together.
enum ProviderFactory {
    /// The providers an environment may name, as the spec knows them.
    public static let names = Provider.Name.allCases.map(\.rawValue)

    /// The drivers for `environment`. The configurator is nil where node configuration is not
    /// built for that provider yet; plans then cover its cloud resources alone.
    /// Checks what the drivers need from outside the specs (credentials) without making them.
    public static func preflight(_ environment: Environment, projectRoot: URL,
                                 variables: [String: String] = ProcessInfo.processInfo.environment) throws {
        _ = try drivers(for: environment, projectRoot: projectRoot, variables: variables, publicKey: nil)
    }

    /// `publicKey` is the project's key line: a provider account may already hold it. Node
    /// configuration over SSH needs `nodes`; without it the static provider has no configurator.
    public static func drivers(for environment: Environment, projectRoot: URL,
                               variables: [String: String] = ProcessInfo.processInfo.environment,
                               publicKey: String?, nodes: NodeAccess? = nil) throws -> (cloud: CloudProvider, configurator: ResourceDriver?) {
        switch environment.provider.name {
        case .sandbox:
            let directory = projectRoot.appendingPathComponent(".kryoform/sandbox", isDirectory: true)
            let faults: SandboxFaults
            do { faults = try SandboxFaults.load(directory: directory) } catch let error as SandboxFaultsError {
                throw ProviderError(.invalidRequest, error.message)
            }
            return (SandboxProvider(directory: directory, faults: faults), SandboxConfigurator(directory: directory, faults: faults))
        case .digitalocean:
            let token = try Credentials.resolve("token", of: environment, projectRoot: projectRoot, variables: variables,
                                                what: "a DigitalOcean API token")
            let endpoint = try endpointURL(environment) ?? DigitalOceanProvider.publicEndpoint
            guard let endpoint else { throw ProviderError(.invalidRequest, "digitalocean: no endpoint") }
            return (DigitalOceanProvider.make(token: token, endpoint: endpoint, publicKey: publicKey), nil)
        case .vultr:
            let apiKey = try Credentials.resolve("api_key", of: environment, projectRoot: projectRoot, variables: variables,
                                                 what: "a Vultr API key")
            guard let endpoint = try endpointURL(environment) ?? VultrProvider.publicEndpoint else { throw ProviderError(.invalidRequest, "vultr: no endpoint") }
            let region = environment.provider.region ?? VultrProvider.defaultRegion
            return (VultrProvider.make(apiKey: apiKey, endpoint: endpoint, publicKey: publicKey, settings: .init(availabilityRegion: region)), nil)
        case .static:
            return try staticDrivers(environment, projectRoot: projectRoot, variables: variables, nodes: nodes)
        case .aws:
            let accessKeyID = try Credentials.resolve("access_key_id", of: environment, projectRoot: projectRoot, variables: variables,
                                                      what: "an AWS access key id")
            let secret = try Credentials.resolve("secret_access_key", of: environment, projectRoot: projectRoot, variables: variables,
                                                 what: "the AWS secret access key")
            // Temporary credentials only: asked for when the provider block names a session token.
            let sessionToken = environment.provider.credentials["session_token"] == nil ? nil
                : try Credentials.resolve("session_token", of: environment, projectRoot: projectRoot, variables: variables, what: "an AWS session token")
            let region = environment.provider.region ?? EC2Provider.defaultRegion
            guard let endpoint = try endpointURL(environment) ?? EC2Provider.publicEndpoint(region: region) else {
                throw ProviderError(.invalidRequest, "environment \(environment.name): provider.region '\(region)' makes no EC2 endpoint URL",
                                    fix: "use a region name such as us-east-1 or sa-east-1")
            }
            return (EC2Provider.make(accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: sessionToken, region: region,
                                     endpoint: endpoint, publicKey: publicKey), nil)
        }
    }

    static func staticDrivers(_ environment: Environment, projectRoot: URL, variables: [String: String],
                              nodes: NodeAccess?) throws -> (cloud: CloudProvider, configurator: ResourceDriver?) {
        guard let nodes else { return (StaticProvider(), nil) }
        let secrets = nodes.secrets(environment: environment, projectRoot: projectRoot, variables: variables)
        let settings = try nodes.sshSettings(projectRoot: projectRoot, variables: variables)
        let shell = NodeShell(connections: NodeConnections(settings: settings, log: nodes.log))
        let operations = SwarmOperations(shell: shell, project: nodes.project.name, environment: environment.name)
        let endpoints = StaticHosts.endpoints(environment.provider.hosts, ssh: nodes.project.ssh)
        let configurator = SwarmConfigurator(operations: operations, locate: { endpoints }, stacks: nodes.stacks,
                                             domain: environment.domain, secretValue: secrets)
        return (StaticProvider(), configurator)
    }

    static func endpointURL(_ environment: Environment) throws -> URL? {
        guard let text = environment.provider.endpoint else { return nil }
        guard let url = URL(string: text) else {
            throw ProviderError(.invalidRequest, "environment \(environment.name): provider.endpoint '\(text)' is not a URL")
        }
        return url
    }
}
