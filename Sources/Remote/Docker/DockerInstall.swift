import Foundation

/// Installs Docker from the distribution's own packages on a host that lacks it: no download
/// scripts, nothing fetched from outside the distribution's mirrors.
public enum DockerInstall {
    /// The command for the host's OS (`/etc/os-release` `ID`), or nil where kryoform does not
    /// know the distribution's package.
    public static func command(os: String?, asRoot: Bool) -> String? {
        let id = os?.split(separator: " ").first.map(String.init) ?? ""
        let sudo = asRoot ? "" : "sudo -n "
        let start = "(\(sudo)systemctl enable --now docker 2>/dev/null || \(sudo)service docker start)"
        switch id {
        case "debian", "ubuntu":
            return "\(sudo)env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \(sudo)env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io && \(start)"
        case "fedora", "rhel", "centos", "rocky", "almalinux", "amzn":
            return "(\(sudo)dnf install -y -q docker || \(sudo)yum install -y -q docker) && \(start)"
        default:
            return nil
        }
    }

    /// Installs Docker on `node`, whose facts say it is missing.
    static func install(on node: NodeEndpoint, facts: NodeFacts, shell: NodeShell) async throws {
        guard let command = command(os: facts.os, asRoot: facts.isRoot) else {
            throw RemoteError(host: node.target.name, message: "Docker is not installed and kryoform does not know how to install it on \(facts.os ?? "this OS")",
                              fix: "install Docker on the host (Debian, Ubuntu, Fedora, RHEL-family and Amazon Linux get it from their own packages)")
        }
        do {
            try await shell.run(command, on: node, mutating: true, what: "installing Docker from the distribution's packages", timeout: .seconds(900))
        } catch let error as RemoteError {
            let fix = facts.isRoot ? "install docker.io on the host by hand, then apply again"
                : "connect as root, let \(node.target.user) run sudo without a password, or install Docker on the host"
            throw RemoteError(host: error.host, message: "Docker is not installed; " + error.message, fix: fix)
        }
    }
}
