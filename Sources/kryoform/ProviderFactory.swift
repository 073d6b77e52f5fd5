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

    /// Where the sandbox of `environment` keeps its world: `provider.directory` (relative to the
    /// project, `~` expanded) or `.kryoform/sandbox`.
    static func sandboxDirectory(_ environment: Environment, projectRoot: URL) -> URL {
        guard let path = environment.provider.directory else { return projectRoot.appendingPathComponent(".kryoform/sandbox", isDirectory: true) }
        let expanded = NSString(string: path).expandingTildeInPath
        return expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded, isDirectory: true)
            : projectRoot.appendingPathComponent(expanded, isDirectory: true).standardizedFileURL
    }

    /// Checks what the drivers need from outside the specs (credentials) without making them.
    public static func preflight(_ environment: Environment, projectRoot: URL,
                                 variables: [String: String] = ProcessInfo.processInfo.environment) throws {
        _ = try drivers(for: environment, projectRoot: projectRoot, variables: variables, publicKey: nil)
    }

    /// The drivers for `environment`. `publicKey` is the project's key line: a provider account
    /// may already hold it. Node configuration over SSH needs `nodes`; without it (preflight,
    /// cost) there is no configurator and the cloud provider is returned bare.
    public static func drivers(for environment: Environment, projectRoot: URL,
                               variables: [String: String] = ProcessInfo.processInfo.environment,
                               publicKey: String?, nodes: NodeAccess? = nil) throws -> (cloud: CloudProvider, configurator: ResourceDriver?) {
        switch environment.provider.name {
        case .sandbox:
            let directory = sandboxDirectory(environment, projectRoot: projectRoot)
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
            return try configured(DigitalOceanProvider.make(token: token, endpoint: endpoint, publicKey: publicKey),
                                  environment, projectRoot: projectRoot, variables: variables, nodes: nodes)
        case .vultr:
            let apiKey = try Credentials.resolve("api_key", of: environment, projectRoot: projectRoot, variables: variables,
                                                 what: "a Vultr API key")
            guard let endpoint = try endpointURL(environment) ?? VultrProvider.publicEndpoint else { throw ProviderError(.invalidRequest, "vultr: no endpoint") }
            let region = environment.provider.region ?? VultrProvider.defaultRegion
            return try configured(VultrProvider.make(apiKey: apiKey, endpoint: endpoint, publicKey: publicKey, settings: .init(availabilityRegion: region)),
                                  environment, projectRoot: projectRoot, variables: variables, nodes: nodes)
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
            return try configured(EC2Provider.make(accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: sessionToken, region: region,
                                                   endpoint: endpoint, publicKey: publicKey),
                                  environment, projectRoot: projectRoot, variables: variables, nodes: nodes)
        }
    }

    /// A cloud provider paired with the configurator that makes its nodes one swarm: the
    /// provider wrapped in `CloudNodes` (host keys, node addresses, retiring nodes), and a
    /// `SwarmConfigurator` that finds the nodes through it.
    static func configured(_ cloud: CloudProvider, _ environment: Environment, projectRoot: URL, variables: [String: String],
                           nodes: NodeAccess?) throws -> (cloud: CloudProvider, configurator: ResourceDriver?) {
        guard let nodes, environment.configuresNodes else { return (cloud, nil) }
        let settings = try nodes.sshSettings(projectRoot: projectRoot, variables: variables)
        let connections = NodeConnections(settings: settings, log: nodes.log)
        let operations = SwarmOperations(shell: NodeShell(connections: connections), project: nodes.project.name, environment: environment.name)
        let pins = HostKeyPins(path: projectRoot.appendingPathComponent(".kryoform/host-keys/\(environment.name)").path)
        var wrapped = CloudNodes(base: cloud, environment: environment, project: nodes.project.name, ssh: nodes.project.ssh,
                                 knownHosts: settings.knownHosts, pins: pins, connections: connections)
        let locator = wrapped
        var configurator = SwarmConfigurator(operations: operations, locate: { try await locator.endpoints() }, stacks: nodes.stacks,
                                             domain: environment.domain, secretValue: nodes.secrets(environment: environment, projectRoot: projectRoot, variables: variables))
        configurator.bindings = bindings(environment, stacks: nodes.stacks)
        let configured = configurator
        wrapped.retire = { address, nodes in
            // No node in a swarm (destroy took it down first, or it was never made): nothing to drain.
            let facts = await operations.facts(of: nodes)
            guard facts.values.contains(where: { (try? $0.get())?.swarm?.isActive == true }) else { return false }
            let wasManager = await operations.swarmRole(of: address, among: nodes) == "manager"
            try await configured.retire(address, among: nodes)
            return wasManager
        }
        wrapped.enroll = { node, asManager, nodes in
            try await operations.enroll(node, asManager: asManager, among: nodes)
        }
        wrapped.mountVolume = { name, devices, node, nodes in
            _ = try await operations.mount(volume: name, devices: devices, on: node, among: nodes)
        }
        wrapped.unmountVolume = { name, node, nodes in
            // A node that does not answer is going, or gone, with its disk: nothing to unmount.
            if let failure = await operations.reach([node]).first, !failure.isHostKeyRefusal { return }
            try await operations.unmount(volume: name, on: node, among: nodes)
        }
        wrapped.readMounts = { nodes in
            var mounts: [String: [String]] = [:]
            for case let (address, .success(facts)) in await operations.facts(of: nodes) { mounts[address] = facts.mounts }
            return mounts
        }
        return (wrapped, configured)
    }

    /// Each stack's cluster volumes and where they place it.
    static func bindings(_ environment: Environment, stacks: [Stack]) -> [String: VolumeBinding] {
        var bindings: [String: VolumeBinding] = [:]
        for stack in stacks { bindings[stack.name] = VolumeBinding.of(stack, in: environment) }
        return bindings
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
