import Foundation
import Testing

/// Every file under `root`, relative to it, sorted.
private func files(under root: URL) -> [String] {
    let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
    var paths: [String] = []
    while let url = enumerator?.nextObject() as? URL {
        paths.append(String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1)))
    }
    return paths.sorted()
}

@Suite("The project's SSH keys: committed, shared by a team, never made by a read-only command")
struct ProjectKeyEndToEndTests {
    @Test("validate, plan, drift and cost on a fresh checkout write no file; the plan shows the key as made by apply")
    func readOnlyCommandsWriteNothing() throws {
        let project = try SandboxProject()
        let before = files(under: project.root)
        let validate = try project.run(["validate"])
        #expect(validate.status == 0, "\(validate.stdout)")
        let plan = try project.run(["plan", "-e", "local"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("public_key  (made by apply)"), "\(plan.stdout)")
        #expect(plan.stderr.contains("apply makes it (this command writes no file)"), "\(plan.stderr)")
        let drift = try project.run(["drift", "-e", "local"])
        #expect(drift.status == 0 || drift.status == 2, "\(drift.stderr)")
        let cost = try project.run(["cost", "-e", "local"])
        #expect(cost.status == 0, "\(cost.stderr)")
        #expect(files(under: project.root) == before, "a read-only command wrote files")
    }

    @Test("apply makes the pair once and writes the public key to the committed file; a teammate's fresh checkout plans no changes")
    func teammateCheckoutPlansNoChanges() throws {
        let alice = try SandboxProject()
        let applied = try alice.run(["apply", "-e", "local", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(applied.stderr.contains("commit ssh/authorized_keys"), "\(applied.stderr)")
        let committed = try String(contentsOf: alice.root.appendingPathComponent("ssh/authorized_keys"), encoding: .utf8)
        #expect(committed.hasPrefix("ssh-ed25519 "))

        // Bob: what is committed (the specs and ssh/), the shared state and the same cloud (here
        // the sandbox's world), his own private key elsewhere; no .kryoform/ssh of Alice's.
        let bob = try SandboxProject()
        try FileManager.default.copyItem(at: alice.root.appendingPathComponent("ssh"), to: bob.root.appendingPathComponent("ssh"))
        try FileManager.default.createDirectory(at: bob.root.appendingPathComponent(".kryoform"), withIntermediateDirectories: true)
        for shared in ["state", "sandbox"] {
            try FileManager.default.copyItem(at: alice.root.appendingPathComponent(".kryoform/\(shared)"),
                                             to: bob.root.appendingPathComponent(".kryoform/\(shared)"))
        }
        try editFile(bob.root.appendingPathComponent("kryoform.yaml")) {
            $0 = $0.replacingOccurrences(of: "private_key: file:.kryoform/ssh/id_ed25519", with: "private_key: env:BOB_SSH_KEY")
        }
        // Bob adds his own public key below the first: the nodes will trust both.
        try editFile(bob.root.appendingPathComponent("ssh/authorized_keys")) {
            $0 += "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f bob@laptop\n"
        }
        let plan = try bob.run(["plan", "-e", "local", "--detailed-exitcode"], environment: ["BOB_SSH_KEY": "/home/bob/.ssh/id_ed25519"])
        #expect(plan.status == 0, "a teammate's checkout wants changes: \(plan.stdout)\(plan.stderr)")
        #expect(plan.stdout.contains("No changes."), "\(plan.stdout)")
        #expect(!FileManager.default.fileExists(atPath: bob.root.appendingPathComponent(".kryoform/ssh").path), "plan made a key")
    }

    @Test("a public-key file that is not a list of keys is an error at ssh.public_key")
    func brokenKeyFileIsLocated() throws {
        let project = try SandboxProject()
        try FileManager.default.createDirectory(at: project.root.appendingPathComponent("ssh"), withIntermediateDirectories: true)
        try "not a key\n".write(to: project.root.appendingPathComponent("ssh/authorized_keys"), atomically: true, encoding: .utf8)
        let plan = try project.run(["plan", "-e", "local"])
        #expect(plan.status == 1)
        #expect(plan.stderr.contains("kryoform.yaml:") && plan.stderr.contains("is not a list of OpenSSH public keys"), "\(plan.stderr)")
    }
}
