/// Rules over the environments' names: `-e NAME` matches the `environment:` key, so two files may
/// not declare one name (they would share one state file), and a file named otherwise is flagged.
struct EnvironmentNameRules {
    /// In any order; the rules take the files in path order, so "the first" is the first by path.
    let environments: [Environment]

    func check() -> [Diagnostic] {
        let duplicates = duplicates()
        // A file declared twice gets that error alone: renaming it after the other would not help.
        let flagged = Set(duplicates.map(\.location.file))
        return duplicates + fileNames().filter { !flagged.contains($0.location.file) }
    }

    /// The second (and any later) file declaring a name already declared is an error at its `environment:` value.
    private func duplicates() -> [Diagnostic] {
        var first: [String: Environment] = [:]
        var diagnostics: [Diagnostic] = []
        for environment in environments.sorted(by: { $0.source.file < $1.source.file }) {
            guard let earlier = first[environment.name] else {
                first[environment.name] = environment
                continue
            }
            diagnostics.append(.error(
                "environment '\(environment.name)' is also declared in \(earlier.source.file); -e \(environment.name) could not tell them apart and both would share one state file",
                at: environment.source.location(of: "environment"),
                notes: ["first declared at \(earlier.source.location(of: "environment"))"],
                fix: "give this file's environment another name, or remove one of the two files"))
        }
        return diagnostics
    }

    /// `environments/staging.yaml` declaring `environment: prod` is selected by `-e prod`, not `-e staging`: say so.
    private func fileNames() -> [Diagnostic] {
        environments.compactMap { environment in
            let base = Self.baseName(environment.source.file)
            guard base != environment.name else { return nil }
            return .warning(
                "\(environment.source.file) declares environment '\(environment.name)'; -e \(environment.name) selects it, -e \(base) does not",
                at: environment.source.location(of: "environment"),
                fix: "rename the file to environments/\(environment.name).yaml, or the environment to '\(base)'")
        }
    }

    static func baseName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return String(file.prefix { $0 != "." })
    }
}
