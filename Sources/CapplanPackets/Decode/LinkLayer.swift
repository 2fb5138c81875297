/// Ethernet with 802.1Q/802.1ad tags, Linux cooked captures v1 and v2 (what
/// `tcpdump -i any` writes), and BSD loopback.
extension PacketDecoder {
    static let maximumVLANTags = 4

    func decodeEthernet(_ bytes: Bytes, at start: Int = 0, into packet: inout DecodedPacket) {
        guard var type = bytes.u16(start + 12) else {
            packet.truncated = .link
            return
        }
        var offset = start + 14
        // 802.1Q (0x8100), 802.1ad QinQ (0x88A8) and the old QinQ 0x9100: 4 bytes each.
        while type == 0x8100 || type == 0x88A8 || type == 0x9100, packet.vlanTags < Self.maximumVLANTags {
            guard let inner = bytes.u16(offset + 2) else {
                packet.truncated = .link
                return
            }
            packet.vlanTags += 1
            type = inner
            offset += 4
        }
        decodeEtherType(type, bytes, at: offset, into: &packet)
    }

    /// SLL: 16 bytes, packet type at 0, protocol at 14.
    func decodeSLL(_ bytes: Bytes, into packet: inout DecodedPacket) {
        guard let type = bytes.u16(14), let packetType = bytes.u16(0) else {
            packet.truncated = .link
            return
        }
        packet.packetType = UInt8(truncatingIfNeeded: packetType)
        decodeEtherType(type, bytes, at: 16, into: &packet)
    }

    /// SLL2: 20 bytes, protocol at 0, interface index at 4, packet type at 10.
    func decodeSLL2(_ bytes: Bytes, into packet: inout DecodedPacket) {
        guard let type = bytes.u16(0), let index = bytes.u32(4), let packetType = bytes.u8(10), bytes.has(0, 20) else {
            packet.truncated = .link
            return
        }
        packet.interfaceIndex = Int32(bitPattern: index)
        packet.packetType = packetType
        decodeEtherType(type, bytes, at: 20, into: &packet)
    }

    /// DLT_NULL carries the address family in the capturing host's byte order, DLT_LOOP
    /// in network order; AF_INET6 differs between systems (10, 24, 28, 30).
    func decodeLoopback(_ bytes: Bytes, into packet: inout DecodedPacket) {
        guard let bigEndian = bytes.u32(0), let littleEndian = bytes.u32LittleEndian(0) else {
            packet.truncated = .link
            return
        }
        let family = link == .loop ? bigEndian : min(bigEndian, littleEndian)
        switch family {
        case 2: decodeIPv4(bytes, at: 4, into: &packet)
        case 10, 24, 28, 30: decodeIPv6(bytes, at: 4, into: &packet)
        default: packet.network = .other
        }
    }
}
