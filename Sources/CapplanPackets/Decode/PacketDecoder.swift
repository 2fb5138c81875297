/// Decodes packets of one link type, in place and without allocating.
public struct PacketDecoder: Sendable {
    public let link: LinkType

    public init(link: LinkType) { self.link = link }

    /// Throws when capplan cannot decode this link type (a DLT); the message names the ones it can.
    public init(linkType: Int32) throws(PcapError) {
        link = try LinkType(dlt: linkType)
    }

    @inline(__always)
    public func decode(_ raw: UnsafeRawBufferPointer) -> DecodedPacket {
        var packet = DecodedPacket()
        decode(raw, into: &packet)
        return packet
    }

    /// Decodes into a packet the caller holds, all of it overwritten: a caller that passes the
    /// decoding on through several calls saves copying it (it is over 300 bytes).
    @inline(__always)
    public func decode(_ raw: UnsafeRawBufferPointer, into packet: inout DecodedPacket) {
        packet = DecodedPacket()
        let bytes = Bytes(base: raw)
        switch link {
        case .ethernet: decodeEthernet(bytes, into: &packet)
        case .linuxSLL: decodeSLL(bytes, into: &packet)
        case .linuxSLL2: decodeSLL2(bytes, into: &packet)
        case .rawBSD, .rawOpenBSD, .rawLinktype: decodeIP(bytes, at: 0, into: &packet)
        case .ipv4: decodeIPv4(bytes, at: 0, into: &packet)
        case .ipv6: decodeIPv6(bytes, at: 0, into: &packet)
        case .null, .loop: decodeLoopback(bytes, into: &packet)
        case .ppp, .pppSerial: decodePPP(bytes, into: &packet)
        }
    }

    /// Dispatches on an EtherType.
    @inline(__always)
    func decodeEtherType(_ type: UInt16, _ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        switch type {
        case 0x0800: decodeIPv4(bytes, at: offset, into: &packet)
        case 0x86DD: decodeIPv6(bytes, at: offset, into: &packet)
        case 0x0806:
            packet.network = .arp
            packet.networkOffset = offset
        case 0x8847, 0x8848: decodeMPLS(bytes, at: offset, into: &packet)
        case 0x8864: decodePPPoE(bytes, at: offset, into: &packet)
        default: packet.network = .other
        }
    }

    /// Raw IP: the version nibble says which.
    func decodeIP(_ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        guard let first = bytes.u8(offset) else {
            packet.truncated = .network
            return
        }
        switch first >> 4 {
        case 4: decodeIPv4(bytes, at: offset, into: &packet)
        case 6: decodeIPv6(bytes, at: offset, into: &packet)
        default: packet.network = .other
        }
    }
}
