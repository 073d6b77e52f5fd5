import Foundation
import Spec

/// The public SSH keys the environment's nodes trust, from the file `ssh.public_key` names.
///
/// The file is meant to be committed: it may hold several OpenSSH public keys, one a line (each
/// operator's and the pipeline's), so every checkout plans with the same keys. The first is the
/// project's key at the provider (what new nodes are made with); cloud nodes trust them all.
/// The private half stays a reference (`ssh.private_key`), never in the repository.
enum ProjectKey {
    static let defaultPath = ".kryoform/ssh/id_ed25519.pub"
    static let defaultPrivateKey = ".kryoform/ssh/id_ed25519"

    /// The keys of `ssh.public_key`. When the file is missing and the private key is kryoform's
    /// own (under `.kryoform/`, missing too), the pair is made with ssh-keygen, the public half
    /// written to `ssh.public_key`, but only when `mayMake` (apply); otherwise there are no keys
    /// yet, and the plan says apply makes them. A missing file anywhere else is an error at its line.
    static func publicKeys(project: Project, root: URL, renderer: DiagnosticRenderer, mayMake: Bool) throws -> [String] {
        let configured = project.ssh.publicKey ?? defaultPath
        let url = resolve(configured, root: root)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard let privateKey = pairToMake(project, configured: configured, publicKey: url, root: root) else {
                let diagnostic = Diagnostic.error(
                    "ssh.public_key: \(configured) does not exist", at: project.source.location(of: "ssh.public_key"),
                    fix: "put the public keys the nodes trust in it, one a line (ssh-keygen -y -f YOUR_KEY >> \(configured)), and commit it")
                throw CommandFailure(message: renderer.render(diagnostic))
            }
            guard mayMake else {
                FileHandle.standardError.write(Data("kryoform: the project's SSH key \(configured) does not exist yet; apply makes it (this command writes no file)\n".utf8))
                return []
            }
            try generate(privateKey: privateKey, publicKey: url, comment: "kryoform-\(project.name)")
            let commit = configured.hasPrefix(".kryoform/") ? "" : "; commit \(configured) so every checkout and pipeline uses the same key"
            FileHandle.standardError.write(Data("kryoform: made the project's SSH key pair \(relative(privateKey, root)) (ed25519), public key in \(configured)\(commit)\n".utf8))
        }
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        let keys = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !keys.isEmpty, keys.allSatisfy({ Data(base64Encoded: String($0.split(separator: " ").dropFirst().first ?? "")) != nil }) else {
            let diagnostic = Diagnostic.error("ssh.public_key: \(configured) is not a list of OpenSSH public keys",
                                              at: project.source.location(of: "ssh.public_key"),
                                              fix: "one key a line, as ssh-keygen -y prints it (ssh-ed25519 AAAA… name)")
            throw CommandFailure(message: renderer.render(diagnostic))
        }
        return keys
    }

    /// Where the private half is (or goes) when kryoform may make the public key: its own private
    /// key file (`file:` under `.kryoform/`; made when missing, else its public half derived), or
    /// beside a public key kept under `.kryoform/`.
    static func pairToMake(_ project: Project, configured: String, publicKey: URL, root: URL) -> URL? {
        if let own = ownPrivateKey(project, root: root) { return own }
        let normalized = configured.hasPrefix("./") ? String(configured.dropFirst(2)) : configured
        return normalized.hasPrefix(".kryoform/") ? publicKey.deletingPathExtension() : nil
    }

    /// The private key file when it is kryoform's own to make: `file:` under `.kryoform/` (the default).
    static func ownPrivateKey(_ project: Project, root: URL) -> URL? {
        let path: String
        switch project.ssh.privateKey {
        case nil: path = defaultPrivateKey
        case .file(let file)?: path = file
        case .environment?: return nil
        }
        let normalized = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        guard normalized.hasPrefix(".kryoform/") else { return nil }
        return resolve(normalized, root: root)
    }

    static func resolve(_ path: String, root: URL) -> URL {
        let expanded = NSString(string: path).expandingTildeInPath
        return expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded) : root.appendingPathComponent(expanded)
    }

    static func relative(_ url: URL, _ root: URL) -> String {
        url.path.hasPrefix(root.path + "/") ? String(url.path.dropFirst(root.path.count + 1)) : url.path
    }

    /// Makes the pair with ssh-keygen at `privateKey` (its `.pub` beside it), and writes the public
    /// line to `publicKey` when that is another file.
    private static func generate(privateKey: URL, publicKey: URL, comment: String) throws {
        try? FileManager.default.createDirectory(at: privateKey.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let made = privateKey.appendingPathExtension("pub")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        if FileManager.default.fileExists(atPath: privateKey.path) {
            // The private half is there (only its public file is missing): derive the public key.
            FileManager.default.createFile(atPath: made.path, contents: nil)
            process.arguments = ["ssh-keygen", "-y", "-f", privateKey.path]
            process.standardOutput = try? FileHandle(forWritingTo: made)
        } else {
            process.arguments = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", privateKey.path]
            process.standardOutput = FileHandle.nullDevice
        }
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch {
            throw CommandFailure(message: "error: cannot run ssh-keygen to make the project's SSH key: \(error.localizedDescription)\n  = fix: install openssh-client, or set ssh.public_key in kryoform.yaml to a file of existing keys")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw CommandFailure(message: "error: ssh-keygen could not make \(privateKey.path): \(detail.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard made.standardizedFileURL != publicKey.standardizedFileURL else { return }
        do {
            try FileManager.default.createDirectory(at: publicKey.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: made, to: publicKey)
        } catch {
            throw CommandFailure(message: "error: cannot write the public key to \(publicKey.path): \(error.localizedDescription)")
        }
    }
}
