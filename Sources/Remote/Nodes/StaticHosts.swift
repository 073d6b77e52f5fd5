import Spec
import Planner

/// The static provider's hosts (existing machines given by address) as the configurator
/// reaches them.
public enum StaticHosts {
    /// The hosts as the configurator reaches them: `node.<name>`, the host's own user and port
    /// or the project's.
    public static func endpoints(_ hosts: [StaticHost], ssh: Project.SSH) -> [NodeEndpoint] {
        hosts.map { host in
            NodeEndpoint(address: ResourceAddress.node(host: host.name).rawValue,
                         target: SSHTarget(name: host.name, host: host.address, port: host.port ?? ssh.port, user: host.user ?? ssh.user),
                         roles: host.roles)
        }
    }
}
