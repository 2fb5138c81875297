import CapplanPackets

/// One entry of a node's connection tracking table, as `conntrack -L` prints it: the tuple the
/// connection's first packet had, and the tuple its replies have. Where they differ, the node
/// translated the connection (a Service's DNAT, masquerade).
public struct ConntrackEntry: Sendable, Equatable {
    public var node: String
    public var proto: String
    public var original: (from: Endpoint, to: Endpoint)
    public var reply: (from: Endpoint, to: Endpoint)

    public static func == (a: ConntrackEntry, b: ConntrackEntry) -> Bool {
        a.node == b.node && a.proto == b.proto && a.original == b.original && a.reply == b.reply
    }

    /// `tcp 6 118 SYN_SENT src=A dst=B sport=P dport=Q [UNREPLIED] src=B' dst=A' sport=Q' dport=P' ...`:
    /// the first src/dst/sport/dport are the original direction, the second the reply. Lines of
    /// another shape (ICMP without ports, conntrack's own messages) are left out.
    public static func parse(_ text: String, node: String) -> [ConntrackEntry] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard let proto = words.first, proto == "tcp" || proto == "udp" else { return nil }
            var values: [String: [String]] = [:]
            for word in words {
                let parts = word.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { values[String(parts[0]), default: []].append(String(parts[1])) }
            }
            func endpoint(_ address: String, _ port: String, _ at: Int) -> Endpoint? {
                guard let list = values[address], let ports = values[port], at < list.count, at < ports.count,
                      let ip = IPAddress(list[at]), let number = UInt16(ports[at]) else { return nil }
                return Endpoint(address: ip, port: number)
            }
            guard let a = endpoint("src", "sport", 0), let b = endpoint("dst", "dport", 0),
                  let c = endpoint("src", "sport", 1), let d = endpoint("dst", "dport", 1) else { return nil }
            return ConntrackEntry(node: node, proto: String(proto), original: (a, b), reply: (c, d))
        }
    }

    /// The connection as the node sent it on, in words, when it translated it: the reply's tuple
    /// reversed is what left the node.
    var translation: String? {
        let sentFrom = reply.to, sentTo = reply.from
        guard sentFrom != original.from || sentTo != original.to else { return nil }
        var changes: [String] = []
        if sentTo != original.to { changes.append("destination \(original.to) -> \(sentTo) (DNAT)") }
        if sentFrom != original.from { changes.append("source \(original.from) -> \(sentFrom) (SNAT)") }
        return "node \(node) (conntrack): \(original.from) > \(original.to) sent on as \(sentFrom) > \(sentTo): " + changes.joined(separator: ", ")
    }
}
