import CapplanLoad

/// One read of a node's state, taken when the capture starts and again when it stops: the
/// firewall's rule counters (which rule counted a REJECT or DROP during the run) and the
/// connection tracking entries of the plan's pods (the NAT each connection got). Read-only.
public struct NodeStateRead: Sendable, Codable, Equatable {
    /// The node it runs on (through its helper); nil on this machine (in the plan's namespace).
    public var node: String?
    /// The file stem in the run directory: `iptables`, `conntrack-src-10.244.0.5`.
    public var name: String
    /// The command, as run on the node.
    public var command: [String]

    public init(node: String?, name: String, command: [String]) {
        self.node = node
        self.name = name
        self.command = command
    }

    /// For `interfaces: path`: on each capture node, the rule counters of IPv4 (and IPv6 when a
    /// pod has an IPv6 address), and conntrack filtered to the pods' addresses both ways (the
    /// pod as the connection's source, and as the source of its replies: behind a Service), so a
    /// node with a huge table is read only as far as the plan's pods go.
    static func reads(on nodes: [String?], podAddresses: [String]) -> [NodeStateRead] {
        let hasIPv6 = podAddresses.contains { $0.contains(":") }
        return nodes.flatMap { node in
            var reads = [NodeStateRead(node: node, name: "iptables", command: ["iptables-save", "-c"])]
            if hasIPv6 { reads.append(NodeStateRead(node: node, name: "ip6tables", command: ["ip6tables-save", "-c"])) }
            for address in podAddresses {
                let family = address.contains(":") ? "ipv6" : "ipv4"
                reads.append(NodeStateRead(node: node, name: "conntrack-src-\(address)", command: ["conntrack", "-L", "-f", family, "-s", address]))
                reads.append(NodeStateRead(node: node, name: "conntrack-reply-src-\(address)",
                                           command: ["conntrack", "-L", "-f", family, "--reply-src", address]))
            }
            return reads
        }
    }
}
