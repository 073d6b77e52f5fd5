import Foundation
import Testing

/// `--target` through the binary on the sandbox: a target naming nothing fails the run (a CI gate
/// must not pass), and a targeted plan speaks only of what it planned.
@Suite("--target end to end on the sandbox", .serialized)
struct TargetEndToEndTests {
    @Test("a target past the node count fails plan and apply with a did-you-mean, prints no plan, and changes nothing")
    func testTarget_unknownAddressFails() throws {
        let project = try SandboxProject { $0 = $0.replacingOccurrences(of: "nodes: 1", with: "nodes: 2") }
        defer { project.remove() }
        let plan = try project.run(["plan", "-e", "local", "--target", "node.main.3", "--detailed-exitcode"])
        #expect(plan.status == 1)
        #expect(plan.stderr.contains("error: --target node.main.3: environment local has no resource node.main.3"), "\(plan.stderr)")
        #expect(plan.stderr.contains("= fix: did you mean 'node.main.1'?; environment local has node.main.1, node.main.2"), "\(plan.stderr)")
        #expect(!plan.stdout.contains("No changes"))
        let apply = try project.run(["apply", "-e", "local", "--target", "node.main.3", "--auto-approve"])
        #expect(apply.status == 1)
        #expect(apply.stderr.contains("--target node.main.3"))
        #expect(try project.state() == nil, "nothing was applied")
    }

    @Test("a targeted plan lists the target and its dependencies only, none as unchanged, and counts what it left out")
    func testTarget_reportsOnlyWhatItPlanned() throws {
        let project = try SandboxProject()
        defer { project.remove() }
        let whole = try project.plan()
        let everything = Set((whole.json["changes"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
        #expect(everything.count > 5)
        let targeted = try project.plan(["--target", "firewall"])
        #expect(targeted.run.status == 0, "\(targeted.run.stderr)")
        let planned = Set((targeted.json["changes"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
        #expect(planned.contains("firewall"))
        #expect(planned.isSubset(of: ["firewall", "network"]), "\(planned)")
        let summary = try #require(targeted.json["summary"] as? [String: Any])
        #expect(summary["no-op"] as? Int == 0, "nothing that does not exist yet is called unchanged")
        let targeting = try #require(targeted.json["targeting"] as? [String: Any])
        let leftOut = everything.count - planned.count
        #expect(targeting["left_out"] as? Int == leftOut)
        let text = try project.run(["plan", "-e", "local", "--target", "firewall"])
        #expect(text.stdout.contains("; 0 unchanged."), "\(text.stdout)")
        #expect(text.stdout.contains("\(leftOut) resources outside the targets were not planned (--target firewall)."), "\(text.stdout)")
    }
}
