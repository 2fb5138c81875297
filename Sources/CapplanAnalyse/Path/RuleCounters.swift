/// A firewall rule (or a chain's DROP policy) of a node that counted packets during the run:
/// the evidence that names which rule made a node refuse or drop.
public struct PathRuleCount: Sendable, Codable, Equatable {
    public var node: String
    public var table: String
    /// As `iptables-save` writes it: `-A KUBE-SERVICES -d 10.96.0.81/32 ... -j REJECT`, or `:FORWARD DROP` for a policy.
    public var rule: String
    /// Packets it counted between the capture's start and stop.
    public var packets: Int64
}

/// `iptables-save -c` read twice, compared: which refusing or dropping rules counted in between.
public enum RuleCounters {
    /// Rule (table, text, occurrence) → packets counted, from `iptables-save -c` output.
    static func parse(_ text: String) -> [String: (table: String, rule: String, packets: Int64)] {
        var rules: [String: (table: String, rule: String, packets: Int64)] = [:]
        var table = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("*") { table = String(line.dropFirst()); continue }
            let rule: String, counters: Substring
            if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                // [packets:bytes] -A CHAIN ...
                counters = line[line.index(after: line.startIndex)..<close]
                rule = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix(":"), let open = line.lastIndex(of: "["), line.hasSuffix("]") {
                // :CHAIN POLICY [packets:bytes]
                counters = line[line.index(after: open)..<line.index(before: line.endIndex)]
                rule = line[..<open].trimmingCharacters(in: .whitespaces)
            } else {
                continue
            }
            guard let packets = counters.split(separator: ":").first.flatMap({ Int64($0) }) else { continue }
            var key = "\(table) \(rule)", occurrence = 1
            while rules[key] != nil {
                occurrence += 1
                key = "\(table) \(rule) #\(occurrence)"
            }
            rules[key] = (table, rule, packets)
        }
        return rules
    }

    /// Rules that refuse or drop (REJECT, DROP, kube-proxy's "has no endpoints") and chains whose
    /// DROP policy counted, with what they counted from `before` to `after`, most first.
    public static func counted(before: String, after: String, node: String) -> [PathRuleCount] {
        let start = parse(before)
        return parse(after).compactMap { key, entry -> PathRuleCount? in
            let delta = entry.packets - (start[key]?.packets ?? 0)
            let refuses = entry.rule.contains("-j REJECT") || entry.rule.contains("-j DROP") || entry.rule.contains("has no endpoints")
                || (entry.rule.hasPrefix(":") && entry.rule.hasSuffix(" DROP"))
            guard delta > 0, refuses else { return nil }
            return PathRuleCount(node: node, table: entry.table, rule: entry.rule, packets: delta)
        }.sorted { ($0.packets, $1.rule) > ($1.packets, $0.rule) }
    }
}
