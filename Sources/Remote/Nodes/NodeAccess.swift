import Foundation
import Planner
import Spec

/// What node configuration needs from the specs beyond the environment: the project's SSH
/// settings, the environment's stacks, and where to log the commands it runs.
public struct NodeAccess: Sendable {
    public var project: Project
    /// The environment's stacks, pins and overrides applied.
    public var stacks: [Stack]
    /// Every command run on a node, for `--log-level debug`.
    public var log: @Sendable (CommandRecord) -> Void

    public init(project: Project, stacks: [Stack], log: @escaping @Sendable (CommandRecord) -> Void = { _ in }) {
        self.project = project
        self.stacks = stacks
        self.log = log
    }

    /// The project's default private key, made by kryoform on first use.
    public static let defaultPrivateKey = ".kryoform/ssh/id_ed25519"

    /// SSH settings from `kryoform.yaml`'s `ssh:` block, paths taken from the project root.
    public func sshSettings(projectRoot: URL, variables: [String: String]) throws -> SSHSettings {
        let ssh = project.ssh
        let keyPath: String
        switch ssh.privateKey ?? .file(Self.defaultPrivateKey) {
        case .file(let path): keyPath = Self.resolve(path, root: projectRoot)
        case .environment(let name):
            // A key held in a variable (a CI secret): a path to the key file.
            guard let value = variables[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                throw ProviderError(.unauthorized, "ssh.private_key is env:\(name), which is not set; set it to the path of the private key file")
            }
            guard !value.contains("PRIVATE KEY") else {
                throw ProviderError(.unauthorized, "ssh.private_key is env:\(name), which holds a key's text; kryoform reads keys from files",
                                    fix: "write the key to a file readable only by you and set \(name) to its path, or use private_key: file:PATH")
            }
            keyPath = Self.resolve(value, root: projectRoot)
        }
        var passphrase: String?
        if let reference = ssh.passphrase {
            passphrase = try Self.secret(reference, root: projectRoot, variables: variables, what: "ssh.passphrase")
                .flatMap { String(data: $0, encoding: .utf8) }?.trimmingCharacters(in: .newlines)
        }
        // libssh2 reads the public half from the private key file itself; `ssh.public_key` is
        // what kryoform puts on new nodes, and may be a different file.
        return SSHSettings(identity: SSHIdentity(privateKeyPath: keyPath, publicKeyPath: nil, passphrase: passphrase),
                           knownHosts: KnownHosts.shared(path: Self.resolve(ssh.knownHosts, root: projectRoot)),
                           policy: ssh.hostKeyPolicy == .strict ? .strict : .acceptNew,
                           connectTimeout: .milliseconds(ssh.connectTimeout.milliseconds),
                           via: ssh.via.map { SSHTarget(name: "bastion \($0.host)", host: $0.host, port: $0.port, user: $0.user ?? ssh.user) })
    }

    /// A function giving each secret's value. A secret with no value fails the deploy of the
    /// stacks that need it, naming where the value should be; plan, drift and destroy do not
    /// need secrets, so they work without them.
    public func secrets(environment: Environment, projectRoot: URL, variables: [String: String]) -> @Sendable (String) throws -> Data {
        var values: [String: Data] = [:]
        var missing: [String: String] = [:]
        for stack in stacks where stack.deploysSomething {
            for secret in stack.secrets where values[secret] == nil && missing[secret] == nil {
                let reference = environment.reference(forSecret: secret)
                if let value = try? Self.secret(reference, root: projectRoot, variables: variables, what: "secret \(secret)") {
                    values[secret] = value
                } else {
                    missing[secret] = reference.description
                }
            }
        }
        let found = values, unset = missing, name = environment.name
        return { secret in
            if let value = found[secret] { return value }
            let source = unset[secret] ?? "nothing"
            throw ProviderError(.invalidRequest, "secret \(secret) has no value: it comes from \(source), which is not set",
                                fix: "set it (or map the secret under secrets: in environments/\(name).yaml), then apply again")
        }
    }

    /// The value a reference points at; nil when the variable is unset or the file is missing.
    static func secret(_ reference: SecretReference, root: URL, variables: [String: String], what: String) throws -> Data? {
        switch reference {
        case .environment(let name):
            guard let value = variables[name], !value.isEmpty else { return nil }
            return Data(value.utf8)
        case .file(let path):
            return FileManager.default.contents(atPath: resolve(path, root: root))
        }
    }

    static func resolve(_ path: String, root: URL) -> String {
        let expanded = NSString(string: path).expandingTildeInPath
        return expanded.hasPrefix("/") ? expanded : root.appendingPathComponent(expanded).path
    }
}
