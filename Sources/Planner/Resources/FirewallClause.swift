/// One inbound clause of a firewall's `inbound` attribute, as plans show it:
/// `tcp 22,80 from 203.0.113.0/24`. The desired state writes clauses and providers read them
/// back through this one type, so both sides have one form.
public struct FirewallClause: Hashable, Sendable {
    public var proto: String
    /// Ports and ranges (`22`, `8000-9000`); none for icmp.
    public var ports: [String]
    public var sources: [String]

    public init(proto: String, ports: [String], sources: [String]) {
        self.proto = proto
        self.ports = proto == "icmp" ? [] : ports
        self.sources = sources
    }

    /// Neighbouring clauses with one protocol (icmp aside) and the same sources joined: a
    /// provider keeps one rule per port and reads them back that way.
    public static func merged(_ clauses: [FirewallClause]) -> [FirewallClause] {
        var merged: [FirewallClause] = []
        for clause in clauses {
            if let last = merged.last, last.proto == clause.proto, last.sources == clause.sources, clause.proto != "icmp" {
                merged[merged.count - 1].ports += clause.ports
            } else {
                merged.append(clause)
            }
        }
        return merged
    }

    /// The attribute text: clauses joined by `; `.
    public static func text(_ clauses: [FirewallClause]) -> String {
        clauses.map { "\($0.proto) \($0.ports.joined(separator: ",")) from \($0.sources.joined(separator: ","))" }.joined(separator: "; ")
    }

    /// The clauses of an attribute text.
    public static func parse(_ text: String) -> [FirewallClause] {
        text.components(separatedBy: "; ").compactMap { clause in
            guard let from = clause.range(of: " from ") else { return nil }
            let head = clause[..<from.lowerBound].split(separator: " ", maxSplits: 1)
            return FirewallClause(proto: head.first.map(String.init) ?? "tcp",
                                  ports: head.count > 1 ? head[1].split(separator: ",").map(String.init) : [],
                                  sources: clause[from.upperBound...].split(separator: ",").map(String.init))
        }
    }
}
