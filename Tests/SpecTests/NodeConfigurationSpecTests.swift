import Spec
import Testing

/// The spec's switches for configuring cloud nodes: `configure_nodes`, `ssh.address`, `ssh.boot_timeout`, `ssh.via`.
@Suite("Cloud node configuration in the specs")
struct NodeConfigurationSpecTests {
    @Test("environments configure their nodes unless configure_nodes: false says so")
    func configureNodes() throws {
        var fileSystem = Fixtures.corpusBase()
        let dev = try #require(SpecLoader(fileSystem: fileSystem).load().environments.first)
        #expect(dev.configuresNodes)
        fileSystem["environments/dev.yaml"] = (fileSystem["environments/dev.yaml"] ?? "") + "configure_nodes: false\n"
        let specs = SpecLoader(fileSystem: fileSystem).load()
        #expect(specs.diagnostics.filter { $0.severity == .error }.isEmpty, "\(specs.diagnostics.map(\.line))")
        #expect(specs.environments.first?.configuresNodes == false)
    }

    @Test("configure_nodes: false on a static environment is an error at its line")
    func staticMustConfigure() throws {
        var fileSystem = Fixtures.corpusBase()
        fileSystem["environments/lab.yaml"] = """
        environment: lab
        provider:
          name: static
          hosts:
            - { name: a, address: 192.0.2.10, roles: [application] }
        stacks: all
        configure_nodes: false

        """
        let errors = SpecLoader(fileSystem: fileSystem).load().diagnostics.filter { $0.severity == .error }
        #expect(errors.map(\.line).contains { $0.hasPrefix("environments/lab.yaml:7:") && $0.contains("leaves a static environment nothing to do") },
                "\(errors.map(\.line))")
    }

    @Test("ssh.address and ssh.boot_timeout are read; an unknown address kind is located")
    func sshSettings() throws {
        var fileSystem = Fixtures.corpusBase()
        let project = fileSystem["kryoform.yaml"] ?? ""
        #expect(!project.contains("ssh:"))
        fileSystem["kryoform.yaml"] = project + "ssh:\n  address: private\n  boot_timeout: 90s\n"
        let ssh = try #require(SpecLoader(fileSystem: fileSystem).load().project?.ssh)
        #expect(ssh.address == .private && ssh.bootTimeout.milliseconds == 90_000)
        #expect(Project.SSH().address == .public && Project.SSH().bootTimeout.milliseconds == 300_000)
        fileSystem["kryoform.yaml"] = project + "ssh:\n  address: bastion\n"
        let errors = SpecLoader(fileSystem: fileSystem).load().diagnostics.filter { $0.severity == .error }
        #expect(errors.map(\.line).contains { $0.contains("kryoform.yaml:") && $0.contains("ssh.address") }, "\(errors.map(\.line))")
    }

    @Test("ssh.via reads [user@]host[:port]; a malformed one is an error at its line saying the form")
    func bastion() throws {
        var fileSystem = Fixtures.corpusBase()
        let project = fileSystem["kryoform.yaml"] ?? ""
        for (text, expected) in [("bastion.example.com", Project.Bastion(host: "bastion.example.com")),
                                 ("ops@203.0.113.7:2222", Project.Bastion(user: "ops", host: "203.0.113.7", port: 2222)),
                                 ("[2001:db8::7]:2200", Project.Bastion(host: "2001:db8::7", port: 2200)),
                                 ("ops@[2001:db8::7]", Project.Bastion(user: "ops", host: "2001:db8::7"))] {
            fileSystem["kryoform.yaml"] = project + "ssh:\n  address: private\n  via: \"\(text)\"\n"
            let specs = SpecLoader(fileSystem: fileSystem).load()
            #expect(specs.diagnostics.filter { $0.severity == .error }.isEmpty, "\(text): \(specs.diagnostics.map(\.line))")
            #expect(specs.project?.ssh.via == expected, "\(text)")
        }
        #expect(Project.SSH().via == nil)
        let line = project.split(separator: "\n", omittingEmptySubsequences: false).count + 1
        for (text, reason) in [("ops@", "no host is named"), ("bastion:99999", "port 99999 is outside 1-65535"),
                               ("2001:db8::7", "must be written in brackets"), ("@bastion", "the user before @ is empty"),
                               ("bastion:ssh", "the port after : is not a number")] {
            fileSystem["kryoform.yaml"] = project + "ssh:\n  via: \"\(text)\"\n"
            let errors = SpecLoader(fileSystem: fileSystem).load().diagnostics.filter { $0.severity == .error }.map(\.line)
            #expect(errors.contains { $0.hasPrefix("kryoform.yaml:\(line):") && $0.contains("ssh.via must be [user@]host[:port]") && $0.contains(reason) },
                    "\(text): \(errors)")
        }
    }
}
