import Spec

/// The planner module: the resource graph, the diff of desired against observed state, plans,
/// state with locking, and the apply walk. Built in the engine issue; this file only names the
/// module's place in the package.
public enum PlannerModule {
    /// The `format_version` plans will carry in their JSON form.
    public static let planFormatVersion = "1"
}
