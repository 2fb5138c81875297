/// What one packet says, decoded in place: plain values only, no allocation.
/// Fields past the point where the packet was cut short keep their zero values
/// and `truncated` is set.
public struct DecodedPacket: Sendable, Equatable {
    public enum Network: UInt8, Sendable { case none, ipv4, ipv6, arp, other }
    public enum Transport: UInt8, Sendable { case none, tcp, udp, icmp, icmpv6, other }

    /// The layer at which the captured bytes ran out.
    public enum Layer: UInt8, Sendable { case link, network, transport, application }

    public var network: Network = .none
    public var transport: Transport = .none
    public var truncated: Layer? = nil
    /// VLAN tags passed through (802.1Q, QinQ).
    public var vlanTags: UInt8 = 0
    /// Linux cooked captures: the interface index (SLL2) and packet type (4 = outgoing).
    public var interfaceIndex: Int32 = -1
    public var packetType: UInt8 = 0
    /// The outermost tunnel the packet came in (VXLAN, Geneve, IP-in-IP, GRE, MPLS, PPPoE);
    /// every field below is the innermost packet's, and `outer` its outermost IP header.
    public var tunnel: Tunnel = .none
    public var tunnelDepth: UInt8 = 0
    public var outer: OuterHeader? = nil

    /// Where the network header (IP or ARP) and the transport header start in the captured bytes; -1 when absent.
    public var networkOffset = -1
    public var transportOffset = -1

    public var source = IPAddress(ipv4: 0)
    public var destination = IPAddress(ipv4: 0)
    public var ttl: UInt8 = 0
    public var ipProtocol: UInt8 = 0
    public var ipIdentification: UInt32 = 0
    public var hasIPOptions = false
    /// A fragment (more fragments follow, or not the first one).
    public var isFragment = false
    /// A later fragment: it has no transport header.
    public var isLaterFragment = false

    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcp = TCPHeader()
    public var icmp = ICMPMessage()
    public var dns: DNSMessage? = nil

    /// Transport payload length on the wire (from the IP lengths, not what was captured).
    public var payloadLength = 0
    /// Where the payload starts in the captured bytes, and how much of it was captured.
    public var payloadOffset = 0
    public var capturedPayloadLength = 0

    @inlinable public init() {}
}

public struct TCPHeader: Sendable, Equatable {
    public static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, psh: UInt8 = 0x08
    public static let ack: UInt8 = 0x10, urg: UInt8 = 0x20, ece: UInt8 = 0x40, cwr: UInt8 = 0x80

    public var sequence: UInt32 = 0
    public var acknowledgment: UInt32 = 0
    public var flags: UInt8 = 0
    public var window: UInt16 = 0
    public var headerLength: UInt8 = 0
    /// Options (RFC 9293, 7323, 2018); -1 / false when absent.
    public var mss: Int32 = -1
    public var windowScale: Int8 = -1
    public var sackPermitted = false
    public var sackBlocks: UInt8 = 0
    public var timestampValue: UInt32 = 0
    public var timestampEcho: UInt32 = 0
    public var hasTimestamps = false

    @inline(__always) public func has(_ flag: UInt8) -> Bool { flags & flag != 0 }

    @inlinable public init() {}
}

/// An ICMP or ICMPv6 message. Errors quote the start of the packet they answer,
/// which ties them to that packet's flow.
public struct ICMPMessage: Sendable, Equatable {
    public var type: UInt8 = 0
    public var code: UInt8 = 0
    public var isError = false
    /// The quoted packet's addresses, protocol and ports (when it quoted enough).
    public var quotedSource = IPAddress(ipv4: 0)
    public var quotedDestination = IPAddress(ipv4: 0)
    public var quotedProtocol: UInt8 = 0
    public var quotedSourcePort: UInt16 = 0
    public var quotedDestinationPort: UInt16 = 0
    public var hasQuotedPacket = false
    public var hasQuotedPorts = false
    /// Where the quoted IP header and its transport header start in the captured bytes.
    public var quotedNetworkOffset = -1
    public var quotedTransportOffset = -1
    /// Packet too big / fragmentation needed: the next-hop MTU.
    public var mtu: UInt32 = 0

    @inlinable public init() {}
}

/// The parts of a DNS message that say whether a lookup failed.
public struct DNSMessage: Sendable, Equatable {
    public var id: UInt16 = 0
    public var isResponse = false
    public var responseCode: UInt8 = 0
    public var questionType: UInt16 = 0
    public var answerCount: UInt16 = 0
    /// The first question's name, as an offset and length into the packet bytes
    /// (decode it with `DNSMessage.name(in:)` only when it is reported).
    public var nameOffset = -1

    @inlinable public init() {}
}
