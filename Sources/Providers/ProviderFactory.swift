import Foundation
import Planner
import Remote
import Spec

/// Makes the driver pair (cloud provider, node configurator) an environment's provider block names.
public enum ProviderFactory {
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
        let endpoints = StaticProvider.endpoints(environment.provider.hosts, ssh: nodes.project.ssh)
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

/// Reads the provider's credentials from where the spec's references point. Values never leave
/// the adapters: not in messages, plans, state or logs.
public enum Credentials {
    public static func resolve(_ key: String, of environment: Environment, projectRoot: URL, variables: [String: String], what: String) throws -> String {
        guard let reference = environment.provider.credentials[key] else {
            throw ProviderError(.invalidRequest, "environment \(environment.name): provider.\(key) is not set; it names \(what)",
                                fix: "add \(key): env:VARIABLE to the provider block")
        }
        switch reference {
        case .environment(let name):
            guard let value = variables[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                throw ProviderError(.unauthorized, "environment \(environment.name): set \(name) to \(what) (provider.\(key) is env:\(name), which is not set)")
            }
            return try checked(value, from: "env:\(name)", environment: environment)
        case .file(let path):
            let expanded = NSString(string: path).expandingTildeInPath
            let url = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded) : projectRoot.appendingPathComponent(expanded)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw ProviderError(.unauthorized, "environment \(environment.name): provider.\(key) is file:\(path), which cannot be read; put \(what) in it")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                throw ProviderError(.unauthorized, "environment \(environment.name): provider.\(key) is file:\(path), which is empty; put \(what) in it")
            }
            return try checked(value, from: "file:\(path)", environment: environment)
        }
    }

    /// A credential is one word of printable characters; the message never repeats it.
    static func checked(_ value: String, from source: String, environment: Environment) throws -> String {
        guard value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ProviderError(.unauthorized, "environment \(environment.name): the credential in \(source) holds spaces, line breaks or other characters no token has",
                                fix: "put exactly the token there, on one line")
        }
        return value
    }
}
