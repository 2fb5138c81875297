extension PacketDecoder {
    /// Where a TCP segment's header starts in plain Ethernet and IPv4 or IPv6 (no VLAN, no IPv6
    /// extension header, not a later fragment), with at least `captured` bytes of it in `raw`, and
    /// the IP header's length. Nil for anything else: the quick readers below then know nothing.
    @inlinable @inline(__always)
    func plainTCP(_ raw: UnsafeRawBufferPointer, captured: Int) -> (tcp: Int, ipHeader: Int, v6: Bool)? {
        guard link == .ethernet, raw.count >= 14 + 20 + captured else { return nil }
        switch raw.u16(12) {
        case 0x0800:
            let header = Int(raw[14] & 0x0F) * 4
            guard raw[14] >> 4 == 4, header >= 20, raw[23] == 6, raw[20] & 0x1F == 0, raw[21] == 0, raw.count >= 14 + header + captured else { return nil }
            return (14 + header, header, false)
        case 0x86DD:
            guard raw.count >= 14 + 40 + captured, raw[14] >> 4 == 6, raw[20] == 6 else { return nil }
            return (54, 40, true)
        default:
            return nil
        }
    }

    /// The addresses of a segment `plainTCP` found.
    @inlinable @inline(__always)
    func addresses(_ raw: UnsafeRawBufferPointer, v6: Bool) -> (source: IPAddress, destination: IPAddress) {
        v6 ? (IPAddress(ipv6High: raw.u64(22), low: raw.u64(30)), IPAddress(ipv6High: raw.u64(38), low: raw.u64(46)))
           : (IPAddress(ipv4: raw.u32(26)), IPAddress(ipv4: raw.u32(30)))
    }

    /// The endpoints of a plain TCP segment (`plainTCP`), read straight from its bytes: what `decode`
    /// gives for them, for the passes that look at most packets only to pass them by.
    @inlinable @inline(__always)
    public func quickTCPEndpoints(_ raw: UnsafeRawBufferPointer)
        -> (source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16)? {
        guard let at = plainTCP(raw, captured: 4) else { return nil }
        let (source, destination) = addresses(raw, v6: at.v6)
        return (source, raw.u16(at.tcp), destination, raw.u16(at.tcp + 2))
    }

    /// Whether a plain TCP segment (`plainTCP`) is a bare ACK: no payload on the wire and none of
    /// SYN, FIN and RST, read straight from its bytes. True only where `decode` says exactly that.
    @inlinable @inline(__always)
    public func isBareTCPAck(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard let at = plainTCP(raw, captured: 14) else { return false }
        return isBareAck(raw, at: at)
    }

    /// Whether a segment `plainTCP` found is a bare ACK: no payload on the wire, and none of SYN,
    /// FIN and RST set.
    @inlinable @inline(__always)
    func isBareAck(_ raw: UnsafeRawBufferPointer, at: (tcp: Int, ipHeader: Int, v6: Bool)) -> Bool {
        payloadOnTheWire(raw, at: at) == 0 && !carriesSynFinOrRst(raw, at: at)
    }

    /// The payload a segment `plainTCP` found carries on the wire: what the IP header says follows
    /// it (IPv6: its payload length; IPv4: the total length less the header) less the TCP header.
    /// Nil for a TCP header under 20 bytes, which `decode` reads its own way.
    @inlinable @inline(__always)
    func payloadOnTheWire(_ raw: UnsafeRawBufferPointer, at: (tcp: Int, ipHeader: Int, v6: Bool)) -> Int? {
        let following = at.v6 ? Int(raw.u16(18)) : Int(raw.u16(16)) - at.ipHeader
        let tcpHeader = Int(raw[at.tcp + 12] >> 4) * 4
        return tcpHeader >= 20 ? following - tcpHeader : nil
    }

    @inlinable @inline(__always)
    func carriesSynFinOrRst(_ raw: UnsafeRawBufferPointer, at: (tcp: Int, ipHeader: Int, v6: Bool)) -> Bool {
        raw[at.tcp + 13] & (0x01 | 0x02 | 0x04) != 0
    }

    /// Nil for a bare ACK (`isBareTCPAck`); otherwise `prefixForSegmentFields(raw, payload:)`
    /// and, for a data segment over IPv4 (payload on the wire, none of SYN, FIN and RST), its
    /// connection one way (addresses, ports) packed in two words, zeros for anything else; from
    /// the same reading of the headers. For the pass that passes bare ACKs by, hands the rest on,
    /// and lets a connection's next data segment take the place of the one before it.
    @inlinable @inline(__always)
    public func prefixAndDataFlow(_ raw: UnsafeRawBufferPointer, payload: Int) -> (kept: Int, addresses: UInt64, ports: UInt32)? {
        guard let at = plainTCP(raw, captured: 14) else { return (raw.count, 0, 0) }
        let carried = payloadOnTheWire(raw, at: at)
        if carried == 0, !carriesSynFinOrRst(raw, at: at) { return nil }
        let kept = prefix(raw, at: at, payload: payload)
        guard !at.v6, let carried, carried > 0, !carriesSynFinOrRst(raw, at: at), kept >= at.tcp + 20 else { return (kept, 0, 0) }
        return (kept, UInt64(raw.u32(26)) << 32 | UInt64(raw.u32(30)), raw.u32(at.tcp))
    }

    /// How many of a packet's bytes give what `quickTCPSegment` (and `decode`, but for how much
    /// payload was captured) reads of it, with its first `payload` payload bytes: a plain TCP
    /// segment whose IP header states its length is cut after them; anything else is kept whole
    /// (its fields may be read from anywhere in it).
    @inlinable @inline(__always)
    public func prefixForSegmentFields(_ raw: UnsafeRawBufferPointer, payload: Int) -> Int {
        guard let at = plainTCP(raw, captured: 20) else { return raw.count }
        return prefix(raw, at: at, payload: payload)
    }

    /// `prefixForSegmentFields` of a segment `plainTCP` found.
    @inlinable @inline(__always)
    func prefix(_ raw: UnsafeRawBufferPointer, at: (tcp: Int, ipHeader: Int, v6: Bool), payload: Int) -> Int {
        guard raw.count >= at.tcp + 20 else { return raw.count }
        let tcpHeader = Int(raw[at.tcp + 12] >> 4) * 4
        // The readers take where the segment ends from the capture's length when the IP header
        // gives none (0: TSO, jumbograms) or too little.
        let stated = at.v6 ? Int(raw.u16(18)) > 0 : Int(raw.u16(16)) >= at.ipHeader
        guard tcpHeader >= 20, stated else { return raw.count }
        return min(raw.count, at.tcp + tcpHeader + payload)
    }

    /// `quickTCPEndpoints`, and `prefixForSegmentFields(raw, payload: 0)` from the same reading:
    /// for the pass that hands most segments to a thread that analyses their headers only.
    @inlinable @inline(__always)
    public func quickTCPEndpointsAndHeaders(_ raw: UnsafeRawBufferPointer)
        -> (source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, headers: Int)? {
        guard let at = plainTCP(raw, captured: 4) else { return nil }
        let (source, destination) = addresses(raw, v6: at.v6)
        return (source, raw.u16(at.tcp), destination, raw.u16(at.tcp + 2), prefix(raw, at: at, payload: 0))
    }

    /// A plain TCP segment's fields (`plainTCP`, its whole 20-byte header captured), read straight
    /// from its bytes: what `decode` gives for them, without filling a `DecodedPacket`. Nil for
    /// anything else, and for a TCP header length under 20, which `decode` reads its own way.
    @inlinable @inline(__always)
    public func quickTCPSegment(_ raw: UnsafeRawBufferPointer) -> TCPSegmentFields? {
        guard let at = plainTCP(raw, captured: 20) else { return nil }
        let tcpHeader = Int(raw[at.tcp + 12] >> 4) * 4
        guard tcpHeader >= 20 else { return nil }
        // Where the IP header says the segment ends; as `decode` does when it says 0 (TSO, jumbograms).
        let end: Int
        if at.v6 {
            let length = Int(raw.u16(18))
            end = length > 0 ? 54 + length : raw.count
        } else {
            let total = Int(raw.u16(16))
            end = total >= at.ipHeader ? 14 + total : 14 + max(raw.count - 14, at.ipHeader)
        }
        let (source, destination) = addresses(raw, v6: at.v6)
        let payloadOffset = at.tcp + tcpHeader
        return TCPSegmentFields(
            source: source, sourcePort: raw.u16(at.tcp), destination: destination, destinationPort: raw.u16(at.tcp + 2),
            identification: at.v6 ? 0 : UInt32(raw.u16(18)), ttl: at.v6 ? raw[21] : raw[22],
            sequence: raw.u32(at.tcp + 4), acknowledgment: raw.u32(at.tcp + 8), flags: raw[at.tcp + 13],
            payloadLength: max(0, end - payloadOffset), payloadOffset: payloadOffset,
            capturedPayloadLength: max(0, min(end, raw.count) - payloadOffset))
    }
}

/// Big-endian reads at offsets the quick readers have checked are captured.
extension UnsafeRawBufferPointer {
    @inlinable @inline(__always) func u16(_ at: Int) -> UInt16 { loadUnaligned(fromByteOffset: at, as: UInt16.self).bigEndian }
    @inlinable @inline(__always) func u32(_ at: Int) -> UInt32 { loadUnaligned(fromByteOffset: at, as: UInt32.self).bigEndian }
    @inlinable @inline(__always) func u64(_ at: Int) -> UInt64 { loadUnaligned(fromByteOffset: at, as: UInt64.self).bigEndian }
}

/// The fields of a TCP segment that passes following packets across points use: read straight
/// from a plain segment's bytes (`PacketDecoder.quickTCPSegment`) or taken from a decoded packet.
public struct TCPSegmentFields: Sendable, Equatable {
    public var source: IPAddress
    public var sourcePort: UInt16
    public var destination: IPAddress
    public var destinationPort: UInt16
    public var identification: UInt32
    public var ttl: UInt8
    public var sequence: UInt32
    public var acknowledgment: UInt32
    public var flags: UInt8
    /// On the wire, from the IP lengths; where the payload starts in the bytes, and how much was captured.
    public var payloadLength: Int
    public var payloadOffset: Int
    public var capturedPayloadLength: Int

    @inlinable
    public init(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, identification: UInt32, ttl: UInt8,
                sequence: UInt32, acknowledgment: UInt32, flags: UInt8, payloadLength: Int, payloadOffset: Int, capturedPayloadLength: Int) {
        (self.source, self.sourcePort, self.destination, self.destinationPort) = (source, sourcePort, destination, destinationPort)
        (self.identification, self.ttl, self.sequence, self.acknowledgment, self.flags) = (identification, ttl, sequence, acknowledgment, flags)
        (self.payloadLength, self.payloadOffset, self.capturedPayloadLength) = (payloadLength, payloadOffset, capturedPayloadLength)
    }
}

extension TCPSegmentFields {
    public init(_ packet: DecodedPacket) {
        self.init(source: packet.source, sourcePort: packet.sourcePort, destination: packet.destination,
                  destinationPort: packet.destinationPort, identification: packet.ipIdentification, ttl: packet.ttl,
                  sequence: packet.tcp.sequence, acknowledgment: packet.tcp.acknowledgment, flags: packet.tcp.flags,
                  payloadLength: packet.payloadLength, payloadOffset: packet.payloadOffset,
                  capturedPayloadLength: packet.capturedPayloadLength)
    }
}
