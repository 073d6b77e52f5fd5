import Foundation

/// Renders a plan for people: a terminal block per changed resource, or Markdown for a pull request.
public struct PlanRenderer {
    public var plan: Plan
    /// ANSI colours (green create, yellow update, red delete).
    public var color: Bool
    /// For `kryoform drift`: a refresh-only plan reported as found, since drift records nothing.
    public var driftReport: Bool

    public init(plan: Plan, color: Bool, driftReport: Bool = false) {
        self.plan = plan
        self.color = color
        self.driftReport = driftReport
    }

    private func paint(_ text: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func symbol(_ change: PlanChange) -> String {
        switch change.action {
        case .create: return paint("+", "32")
        case .update: return paint("~", "33")
        case .replace: return paint(change.replaceStrategy == .createThenDelete ? "+/-" : "-/+", "31")
        case .delete: return paint("-", "31")
        case .noOp: return paint("⟳", "36")
        }
    }

    /// The changes that do something (to the resource or to the state alone).
    public var visibleChanges: [PlanChange] {
        plan.changes.filter(\.doesSomething)
    }

    public func text() -> String {
        let shown = visibleChanges
        let header = "environment \(plan.environment) (\(plan.provider), \(plan.region))"
        let notes = (plan.notes ?? []).map { "\n" + paint("note:", "36") + " " + $0 }.joined()
        // A targeted plan speaks of what it looked at, and says how much it left out.
        let leftOut = plan.targeting.map { $0.sentence + "\n" } ?? ""
        guard !shown.isEmpty else {
            if plan.mode == .refreshOnly {
                let scope = plan.targeting == nil ? "Everything the state of the \(header) records" : "The targeted resources of the \(header)"
                return paint("No drift.", "1") + " \(scope) exist as recorded (\(plan.changes.count) resources).\n" + leftOut
                    + (driftReport ? "" : costLine()) + notes
            }
            if plan.targeting != nil {
                return paint("No changes.", "1") + " The targeted resources of the \(header) match the specs (\(plan.changes.count) resources).\n"
                    + leftOut + costLine() + notes
            }
            return paint("No changes.", "1") + " The \(header) matches the specs (\(plan.changes.count) resources).\n" + costLine() + notes
        }
        var lines = [intro() + " " + header + ":", ""]
        for change in shown {
            var title = "  \(symbol(change)) \(paint(change.address.rawValue, "1"))"
            if change.action == .replace, let strategy = change.replaceStrategy { title += "  (\(strategy.rawValue))" }
            if let id = change.providerID, change.action == .delete || change.stateOnly != nil { title += "  [\(id)]" }
            if change.action == .noOp, let stateOnly = change.stateOnly { title += "  (state only: \(stateOnly.rawValue))" }
            lines.append(title)
            lines += details(change).map { "      " + $0 }
            lines.append("")
        }
        if driftReport {
            lines += driftLines()
            return lines.joined(separator: "\n") + notes
        }
        lines.append(summaryLine())
        if let targeting = plan.targeting { lines.append(targeting.sentence) }
        lines.append(costLine() + notes)
        return lines.joined(separator: "\n")
    }

    /// Drift's closing lines: what was found, its effect on the monthly cost, and that nothing was written.
    private func driftLines() -> [String] {
        let shown = visibleChanges
        let count = { (kind: PlanChange.StateOnly) in shown.filter { $0.stateOnly == kind }.count }
        var lines = [paint("Drift:", "1") + " \(count(.refresh)) changed outside kryoform, \(count(.forget)) deleted outside kryoform, "
                     + "\(count(.adopt)) found outside the state; \(plan.changes.count - shown.count) as recorded."]
        let cost = plan.cost
        if cost.monthlyAfter != cost.monthlyBefore {
            let delta = cost.monthlyAfter - cost.monthlyBefore
            lines.append("Monthly cost as recorded: \(Money.format(cost.monthlyBefore, currency: cost.currency)); as found: "
                         + "\(Money.format(cost.monthlyAfter, currency: cost.currency)) (\(delta > 0 ? "+" : "")\(Money.format(delta, currency: cost.currency))).")
        }
        lines.append("Nothing was written. kryoform apply -e \(plan.environment) --refresh-only records this in the state; "
                     + "kryoform apply -e \(plan.environment) changes the resources back to the specs.")
        return lines
    }

    private func intro() -> String {
        switch plan.mode {
        case .normal: return "kryoform will make these changes to"
        case .destroy: return "kryoform will destroy everything in"
        case .refreshOnly: return driftReport ? "Changed outside kryoform in" : "Changed outside kryoform, to be recorded in the state of"
        }
    }

    private func details(_ change: PlanChange) -> [String] {
        switch change.action {
        case .create:
            let attributes = change.after ?? [:]
            let width = attributes.keys.map(\.count).max() ?? 0
            var lines = change.reasons
            for key in attributes.keys.sorted() {
                var line = key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + (attributes[key] ?? "")
                if let note = change.notes[key] { line += paint("  (\(note))", "2") }
                lines.append(line)
            }
            return lines
        case .update, .replace, .noOp:
            return change.reasons.map { reason in
                guard let key = change.changed.first(where: { reason.hasPrefix($0 + ":") }), let note = change.notes[key] else { return reason }
                return reason + paint("  [\(note)]", "2")
            }
        case .delete:
            return change.reasons
        }
    }

    public func summaryLine() -> String {
        let summary = plan.summary
        var parts = ["\(summary.create) to create", "\(summary.update) to update", "\(summary.replace) to replace", "\(summary.delete) to delete"]
        if summary.stateOnly > 0 { parts.append("\(summary.stateOnly) state-only") }
        let unchanged = plan.changes.filter { $0.action == .noOp && $0.stateOnly == nil }.count
        return paint("Plan:", "1") + " " + parts.joined(separator: ", ") + "; \(unchanged) unchanged."
    }

    public func costLine() -> String {
        let cost = plan.cost
        let delta = cost.monthlyAfter - cost.monthlyBefore
        let sign = delta > 0 ? "+" : ""
        return "Monthly cost: \(Money.format(cost.monthlyBefore, currency: cost.currency)) → \(Money.format(cost.monthlyAfter, currency: cost.currency))"
            + " (\(sign)\(Money.format(delta, currency: cost.currency)))"
    }

    /// A summary for a pull-request comment.
    public func markdown() -> String {
        let shown = visibleChanges
        var lines = ["### kryoform plan: `\(plan.environment)` (\(plan.provider), \(plan.region))", ""]
        if shown.isEmpty {
            lines.append("**No changes.** \(plan.changes.count) \(plan.targeting == nil ? "" : "targeted ")resources match the specs.")
        } else {
            let summary = plan.summary
            lines.append("**\(summary.create) to create, \(summary.update) to update, \(summary.replace) to replace, \(summary.delete) to delete**"
                         + (summary.stateOnly > 0 ? ", \(summary.stateOnly) state-only" : ""))
        }
        if let targeting = plan.targeting { lines += ["", targeting.sentence] }
        lines.append("")
        let delta = plan.cost.monthlyAfter - plan.cost.monthlyBefore
        lines.append("Monthly cost: \(Money.format(plan.cost.monthlyBefore)) → \(Money.format(plan.cost.monthlyAfter)) (\(delta > 0 ? "+" : "")\(Money.format(delta)))")
        if !shown.isEmpty {
            lines += ["", "| | resource | action | why |", "|---|---|---|---|"]
            for change in shown {
                let plain = PlanRenderer(plan: plan, color: false).symbol(change)
                let why = change.reasons.isEmpty ? (change.action == .create ? "new" : "") : change.reasons.joined(separator: "; ")
                lines.append("| `\(plain)` | `\(change.address)` | \(change.stateOnly.map { "\(change.action.rawValue) (\($0.rawValue))" } ?? change.action.rawValue) | \(why.replacingOccurrences(of: "|", with: "\\|")) |")
            }
        }
        for note in plan.notes ?? [] {
            lines += ["", "> [!NOTE]", "> " + note]
        }
        if !plan.errors.isEmpty {
            lines += ["", "> [!CAUTION]"] + plan.errors.map { "> " + $0.replacingOccurrences(of: "\n", with: "\n> ") }
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }
}
