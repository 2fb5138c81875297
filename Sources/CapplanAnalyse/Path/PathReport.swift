/// A capture point on the path of the plan's pods: a pod's host-side veth or a node's uplink.
public struct PathPoint: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable {
        case podVeth = "pod-veth"
        case uplink
    }

    /// `node/interface` (the interface alone on this machine).
    public var name: String
    public var node: String
    public var role: Role
    /// The pod a veth serves.
    public var pod: String?
    /// The pod's addresses as the capture shows them (empty when unknown or pseudonymized):
    /// they tell which end of a connection is the pod.
    public var addresses: [String]

    public init(name: String, node: String, role: Role, pod: String? = nil, addresses: [String] = []) {
        self.name = name
        self.node = node
        self.role = role
        self.pod = pod
        self.addresses = addresses
    }
}

/// Who put a packet on the wire, as the points that saw it (and those that did not) tell.
public struct PathSender: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The pod at one end of the connection.
        case pod
        /// A node, in the name of the connection's far end (a firewall, kube-proxy, conntrack).
        case node
        /// Something beyond the node's uplink: the far end, or a box on the way to it.
        case external
        /// Between two nodes' uplinks: the network that joins them.
        case network
    }

    public var kind: Kind
    /// The pod or node; for external, the node it entered.
    public var name: String
    /// The point where it was first seen.
    public var firstSeenAt: String
}

/// Where a packet was seen on the path, and when (seconds from the capture's first packet).
public struct PathSighting: Sendable, Codable, Equatable {
    public var point: String
    public var time: Double
    public var ttl: UInt8
    /// Its number in the written capture.
    public var packet: Int
    /// Its addresses and ports where this point saw them (NAT changes them between points):
    /// `198.51.100.10:41234`, `[2001:db8::1]:443`.
    public var from: String
    public var to: String
}

/// One key packet of a connection (SYN, SYN-ACK, FIN, RST, ICMP error) across the path.
public struct PathHop: Sendable, Codable, Equatable {
    public var packet: String
    /// `outbound`: away from the pod at the connection's end; `inbound`: toward it; nil when unknown.
    public var direction: String?
    public var seen: [PathSighting]
    /// Points on its way that did not see it, after the last that did: where it was lost.
    public var missedAt: [String]
    /// The node a lost packet stopped on, when the last point that saw it and the next are both on it.
    public var stoppedOn: String?
    public var sender: PathSender?
    /// The hop in words, with its evidence, when there is something to say.
    public var finding: String?
}

/// A connection followed across the path: its addresses at each point, and its key packets.
public struct PathConnection: Sendable, Codable, Equatable {
    /// The pod whose veth saw it (nil when only uplinks did).
    public var pod: String?
    /// `point: a:port > b:port` as each point saw the connection's first packet.
    public var views: [String]
    /// How the nodes translated it, from their conntrack tables (empty when none did, or no entry was left).
    public var translations: [String] = []
    public var ladder: [PathHop]
}

/// The path section of a report: the points, and each connection followed across them.
public struct PathReport: Sendable, Codable, Equatable {
    public var points: [PathPoint]
    public var connections: [PathConnection]
    /// Key packets not followed because the tracer's bound was reached.
    public var untracedPackets: Int
    /// Refusing or dropping firewall rules of the capture nodes that counted during the run.
    public var rules: [PathRuleCount] = []

    /// The hop that holds the packet with this number, if any point's sighting has it.
    public func hop(ofPacket number: Int) -> PathHop? { hopsByPacket()[number] }

    /// Every sighting's packet number -> its hop, built once for a whole verdict.
    public func hopsByPacket() -> [Int: PathHop] {
        var hops: [Int: PathHop] = [:]
        for hop in connections.flatMap(\.ladder) {
            for sighting in hop.seen where hops[sighting.packet] == nil { hops[sighting.packet] = hop }
        }
        return hops
    }
}

/// A path point written into a pcapng interface's comment, so `capplan report` can follow the
/// packets of apply's own capture again: `capplan point: role=uplink node=a pod=ns/web addresses=10.0.0.5`.
/// Addresses are as the capture shows them (pseudonyms when redacted).
extension PathPoint {
    static let commentPrefix = "capplan point:"

    public var pcapngComment: String {
        var words = [Self.commentPrefix, "role=\(role.rawValue)", "node=\(node)"]
        if let pod { words.append("pod=\(pod)") }
        if !addresses.isEmpty { words.append("addresses=" + addresses.joined(separator: ",")) }
        return words.joined(separator: " ")
    }

    /// The point an interface comment describes, nil when it is not one capplan wrote.
    public init?(name: String, pcapngComment comment: String?) {
        guard let comment, comment.hasPrefix(Self.commentPrefix) else { return nil }
        var fields: [String: String] = [:]
        for word in comment.dropFirst(Self.commentPrefix.count).split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let role = fields["role"].flatMap(Role.init(rawValue:)), let node = fields["node"] else { return nil }
        self.init(name: name, node: node, role: role, pod: fields["pod"],
                  addresses: fields["addresses"].map { $0.split(separator: ",").map(String.init) } ?? [])
    }
}
