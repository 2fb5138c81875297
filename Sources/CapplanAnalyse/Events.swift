public import CapplanPackets

/// A TCP reset: who sent it to whom, when, and what the connection had been doing.
public struct ResetEvent: Sendable, Codable, Equatable {
    public var packet: Int
    /// Seconds from the start of the capture.
    public var time: Double
    public var sender: Endpoint
    public var receiver: Endpoint
    public var fromOriginator: Bool
    /// The RST answered a SYN: the connection was refused.
    public var answeredSyn: Bool
    /// The sender had already sent a FIN.
    public var afterFin: Bool
    /// Seconds since the flow's previous packet; nil if the RST is the first packet seen.
    public var idleSeconds: Double?
    /// Seconds since the flow's first packet.
    public var connectionAge: Double
    /// Payload bytes the sender and the receiver had sent before the reset.
    public var bytesFromSender: Int64
    public var bytesFromReceiver: Int64
    /// Whether its sequence number was acceptable to the receiver (RFC 5961): nil when unknown.
    public var inWindow: Bool?
    public var ttl: UInt8
    /// The TTL of the sender's earlier packets, when there were any.
    public var senderEarlierTTL: UInt8?
}

/// An ICMP error tied to the flow of the packet it quotes.
public struct ICMPErrorEvent: Sendable, Codable, Equatable {
    public var packet: Int
    public var time: Double
    /// Who sent the ICMP error (a router, or the destination host itself).
    public var reporter: IPAddress
    public var type: UInt8
    public var code: UInt8
    public var description: String
    public var quotedProtocol: UInt8
    public var quotedSource: Endpoint
    public var quotedDestination: Endpoint
    public var mtu: UInt32?
}

/// A DNS lookup that failed: an error response, or no response at all.
public struct DNSFailure: Sendable, Codable, Equatable {
    public var packet: Int
    public var time: Double
    public var client: Endpoint
    public var server: Endpoint
    public var name: String
    public var type: String
    /// NXDOMAIN, SERVFAIL, REFUSED, ..., or "no answer".
    public var outcome: String
}

/// A finished (or, at the end, still open) connection.
public struct ConnectionRecord: Sendable, Codable, Equatable {
    public var proto: String
    public var originator: Endpoint
    public var responder: Endpoint
    public var state: ConnState
    public var history: String
    public var firstPacket: Int
    public var start: Double
    public var duration: Double
    public var originatorPackets: Int
    public var responderPackets: Int
    public var originatorBytes: Int64
    public var responderBytes: Int64
    /// SYN to the ACK that completed the handshake, in seconds, as seen where the capture ran.
    public var handshakeRTT: Double?
    public var synRetries: Int
    public var expert: ExpertCounts
    public var resets: Int
    /// The tunnel the connection was carried in (VXLAN, Geneve, IP-in-IP, GRE, MPLS, PPPoE), absent when none.
    public var tunnel: String? = nil
}

enum ICMPDescription {
    static func text(type: UInt8, code: UInt8, version6: Bool) -> String {
        if version6 {
            switch (type, code) {
            case (1, 0): return "no route to destination"
            case (1, 1): return "administratively prohibited"
            case (1, 3): return "address unreachable"
            case (1, 4): return "port unreachable"
            case (1, 5), (1, 6): return "rejected by policy"
            case (1, _): return "destination unreachable (code \(code))"
            case (2, _): return "packet too big"
            case (3, _): return "time exceeded (hop limit)"
            case (4, _): return "parameter problem"
            default: return "ICMPv6 type \(type) code \(code)"
            }
        }
        switch (type, code) {
        case (3, 0): return "network unreachable"
        case (3, 1): return "host unreachable"
        case (3, 2): return "protocol unreachable"
        case (3, 3): return "port unreachable"
        case (3, 4): return "fragmentation needed"
        case (3, 9), (3, 10), (3, 13): return "administratively prohibited"
        case (3, _): return "destination unreachable (code \(code))"
        case (4, _): return "source quench"
        case (5, _): return "redirect"
        case (11, 0): return "time exceeded (TTL)"
        case (11, _): return "time exceeded (reassembly)"
        case (12, _): return "parameter problem"
        default: return "ICMP type \(type) code \(code)"
        }
    }
}
