import Yams

/// Reads a project's spec files, decodes each into the typed model, and validates them together.
///
/// Every file is read even when an earlier one is broken, so one run reports every problem.
public struct SpecLoader {
    public static let projectFile = "kryoform.yaml"
    public static let stacksDirectory = "stacks"
    public static let environmentsDirectory = "environments"

    let fileSystem: any SpecFileSystem

    public init(fileSystem: any SpecFileSystem) {
        self.fileSystem = fileSystem
    }

    /// Loads and validates the whole project.
    public func load() -> Specs {
        var specs = Specs(project: nil, stacks: [], environments: [], sources: [:], diagnostics: [])
        if fileSystem.fileExists(Self.projectFile) {
            specs.project = read(Self.projectFile, into: &specs, what: "a project", example: "project: my-platform") { node, reader in
                ProjectDecoder.decode(node, reader: reader).map { project in
                    var project = project
                    project.source = reader.sourceMap
                    return project
                }
            }
        } else {
            specs.diagnostics.append(.error("no \(Self.projectFile) in the project root", at: .start(of: Self.projectFile),
                                            fix: "create it with 'project: <name>'"))
        }
        for path in yamlFiles(in: Self.stacksDirectory, into: &specs) {
            let stack = read(path, into: &specs, what: "a stack", example: "stack: \(baseName(path))") { node, reader in
                StackDecoder.decode(node, reader: reader).map { stack in
                    var stack = stack
                    stack.source = reader.sourceMap
                    return stack
                }
            }
            if let stack { specs.stacks.append(stack) } else { specs.unreadableStacks.insert(baseName(path)) }
            specs.stackFiles[path] = stack?.name ?? baseName(path)
        }
        for path in yamlFiles(in: Self.environmentsDirectory, into: &specs) {
            if path.hasSuffix(".release.yaml") {
                specs.diagnostics.append(.warning(
                    "release files are written by 'kryoform promote', which this version does not have; \(path) is not read",
                    at: .start(of: path)))
                continue
            }
            let environment = read(path, into: &specs, what: "an environment", example: "environment: \(baseName(path))") { node, reader in
                EnvironmentDecoder.decode(node, reader: reader).map { environment in
                    var environment = environment
                    environment.source = reader.sourceMap
                    return environment
                }
            }
            if let environment { specs.environments.append(environment) }
            specs.environmentFiles[path] = environment?.name ?? baseName(path)
        }
        specs.stacks.sort { $0.name < $1.name }
        // Two files of one name are an error (EnvironmentNameRules); until fixed, the first by path is the one -e finds.
        specs.environments.sort { ($0.name, $0.source.file) < ($1.name, $1.source.file) }
        specs.diagnostics += SpecValidator(specs: specs).validate()
        specs.diagnostics = specs.diagnostics.sortedByLocation()
        return specs
    }

    /// The `.yaml` and `.yml` files directly inside `directory`, sorted; other files are left alone.
    private func yamlFiles(in directory: String, into specs: inout Specs) -> [String] {
        do {
            return try fileSystem.fileNames(in: directory)
                .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }
                .sorted()
                .map { "\(directory)/\($0)" }
        } catch {
            specs.diagnostics.append(.error("cannot list \(directory)/: \(error.localizedDescription)", at: .start(of: directory)))
            return []
        }
    }

    private func baseName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return String(file.prefix { $0 != "." })
    }

    /// A file holding only a `state:` block, as in kryoform.yaml (where `state migrate --to FILE`
    /// moves state): the settings, or nil with the problems, each at its file:line:column.
    public func loadStateSettings(_ path: String) -> Specs {
        var specs = Specs(project: nil, stacks: [], environments: [], sources: [:], diagnostics: [])
        let settings = read(path, into: &specs, what: "a state block", example: "state: {backend: postgres, url: env:KRYOFORM_STATE_URL}") { node, reader
            -> Project.StateSettings? in
            guard let fields = reader.mapping(node, at: .root, what: "state file", allowed: ["state"], required: ["state"]), let block = fields["state"] else { return nil }
            var state = Project.StateSettings()
            ProjectDecoder.decodeState(block, into: &state, reader: reader)
            return state
        }
        if let settings, !specs.diagnostics.contains(where: { $0.severity == .error }) {
            specs.project = Project(name: "-", description: nil, state: settings, ssh: Project.SSH(), source: SourceMap(file: path))
        }
        return specs
    }

    /// Parses one file and decodes it with `decode`; every problem lands in `specs.diagnostics`.
    private func read<T>(
        _ path: String,
        into specs: inout Specs,
        what: String,
        example: String,
        decode: (Yams.Node, DocumentReader) -> T?
    ) -> T? {
        let bytes: [UInt8]
        do {
            let size = try fileSystem.fileSize(path)
            if size > YAMLParser.maximumFileSize {
                specs.diagnostics.append(YAMLParser.tooLarge(path: path, size: size))
                return nil
            }
            bytes = try fileSystem.contents(of: path)
        } catch {
            specs.diagnostics.append(.error("cannot read the file: \(error.localizedDescription)", at: .start(of: path)))
            return nil
        }
        switch YAMLParser.parse(path: path, bytes: bytes) {
        case .failure(let diagnostic):
            specs.sources[path] = SourceFile(path: path, text: String(decoding: bytes, as: UTF8.self))
            specs.diagnostics.append(diagnostic)
            return nil
        case .empty(let source):
            specs.sources[path] = source
            specs.diagnostics.append(.error("file is empty; expected \(what)", at: .start(of: path), fix: "start it with '\(example)'"))
            return nil
        case .document(let node, var source):
            let reader = DocumentReader(source: source)
            let value = decode(node, reader)
            // Literal secrets found while decoding are masked in every line quoted from this file.
            source.secrets = reader.diagnostics.compactMap(\.secret)
            specs.sources[path] = source
            specs.diagnostics += reader.diagnostics
            return value
        }
    }
}
