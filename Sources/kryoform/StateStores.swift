import Foundation
import Planner
import Providers
import Spec

/// Makes the state store `kryoform.yaml`'s `state:` block names, for one environment.
enum StateStores {
    static func make(_ settings: Project.StateSettings, project: String, environment: String, root: URL,
                     variables: [String: String] = ProcessInfo.processInfo.environment) throws -> StateStore {
        let codec = try self.codec(settings.encryption, root: root, variables: variables)
        switch settings.backend {
        case .local:
            var store = LocalStateStore(projectRoot: root, environment: environment)
            store.codec = codec
            return store
        case .postgres:
            guard let reference = settings.url else {
                throw CommandFailure(message: "error: kryoform.yaml: the postgres state backend needs state.url\n  = fix: add url: env:KRYOFORM_STATE_URL")
            }
            let source = "state.url (\(reference))"
            let text = try secret(reference, root: root, variables: variables, what: "the state database's URL", source: source)
            do {
                let location = try PostgresLocation.parse(text, source: source)
                let store = PostgresStateStore(location: location, schema: settings.schema, project: project, environment: environment)
                store.codec = codec
                return store
            } catch let error as StateURLError {
                throw CommandFailure(message: "error: \(error.message)\n  = fix: \(error.fix)")
            }
        case .s3:
            guard let s3 = settings.s3 else {
                throw CommandFailure(message: "error: kryoform.yaml: the s3 state backend needs state.bucket, state.region and the key references")
            }
            let accessKey = try secret(s3.accessKeyID, root: root, variables: variables, what: "the state bucket's access key id",
                                       source: "state.access_key_id (\(s3.accessKeyID))")
            let secretKey = try secret(s3.secretAccessKey, root: root, variables: variables, what: "the state bucket's secret access key",
                                       source: "state.secret_access_key (\(s3.secretAccessKey))")
            let location = S3Location(bucket: s3.bucket, prefix: s3.prefix, project: project, environment: environment, region: s3.region,
                                      endpoint: s3.endpoint.flatMap(URL.init(string:)))
            let store = S3StateStore(location: location, accessKeyID: accessKey, secretAccessKey: secretKey, project: project, environment: environment)
            store.codec = codec
            return store
        }
    }

    /// Plain JSON, or AES-256-GCM with the keys `state.encryption` names.
    static func codec(_ encryption: Project.StateEncryption?, root: URL, variables: [String: String]) throws -> StateCodec {
        guard let encryption else { return .plain }
        let key = try secret(encryption.key, root: root, variables: variables, what: "the state's encryption key", source: "state.encryption.key (\(encryption.key))")
        let fallback = try encryption.fallbackKey.map {
            try secret($0, root: root, variables: variables, what: "the state's previous encryption key", source: "state.encryption.fallback_key (\($0))")
        }
        do { return StateCodec(cipher: try StateCipher(secret: key, fallback: fallback)) } catch let weak as StateCipher.WeakKey {
            throw CommandFailure(message: "error: \(weak.message)")
        }
    }

    /// The store for commands that read or repair state without the specs being valid
    /// (`state list`, `state unlock`): the project file must still say where state is.
    static func make(_ global: GlobalOptions, environment: String) throws -> StateStore {
        try located(global, environment: environment).store
    }

    /// The store of `environment`, with the project it belongs to and the project's folder.
    static func located(_ global: GlobalOptions, environment: String) throws -> (store: StateStore, project: Project, root: URL) {
        let root = try global.projectRoot()
        let specs = SpecLoader(fileSystem: LocalFileSystem(root: root)).load()
        guard let project = specs.project else {
            let renderer = DiagnosticRenderer(sources: specs.sources)
            let problems = specs.diagnostics.filter { $0.severity == .error && $0.location.file == SpecLoader.projectFile }
            throw CommandFailure(message: problems.map { renderer.render($0) }.joined(separator: "\n\n")
                                 + "\n\n" + "error: \(SpecLoader.projectFile) must be readable to know where state is kept")
        }
        return (try make(project.state, project: project.name, environment: environment, root: root), project, root)
    }

    /// Where state is, in words: "local (.kryoform/state)", "postgres db.example.com:5432/ops, schema kryoform".
    static func describe(_ store: StateStore) -> String {
        switch store {
        case let local as LocalStateStore: return "local file \(local.stateFile.path)"
        case let postgres as PostgresStateStore: return "postgres database \(postgres.location.display), schema \(postgres.schema)"
        case let s3 as S3StateStore: return "s3 bucket \(s3.location.display)"
        default: return "its backend"
        }
    }

    /// The text `reference` names, trimmed; the message never repeats it.
    static func secret(_ reference: SecretReference, root: URL, variables: [String: String], what: String, source: String) throws -> String {
        switch reference {
        case .environment(let name):
            guard let value = variables[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                throw CommandFailure(message: "error: set \(name) to \(what) (\(source) names it, and it is not set)")
            }
            return value
        case .file(let path):
            let expanded = NSString(string: path).expandingTildeInPath
            let url = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded) : root.appendingPathComponent(expanded)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw CommandFailure(message: "error: \(source) cannot be read; put \(what) in it")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw CommandFailure(message: "error: \(source) is empty; put \(what) in it") }
            return value
        }
    }
}
