import Spec
import Testing

/// The spec's switches for configuring cloud nodes: `configure_nodes`, `ssh.address`, `ssh.boot_timeout`.
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
}
