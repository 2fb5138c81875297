/// TCP (with options), UDP, ICMP and ICMPv6 (with the quoted packet of an error), and DNS over UDP.
extension PacketDecoder {
    @inline(__always)
    func decodeTransport(_ proto: UInt8, _ bytes: Bytes, at offset: Int, end: Int, into packet: inout DecodedPacket) {
        packet.transportOffset = offset
        switch proto {
        case 6: decodeTCP(bytes, at: offset, end: end, into: &packet)
        case 17: decodeUDP(bytes, at: offset, end: end, into: &packet)
        case 1: decodeICMP(bytes, at: offset, end: end, into: &packet, version6: false)
        case 58: decodeICMP(bytes, at: offset, end: end, into: &packet, version6: true)
        case 4, 41, 47: decodeIPTunnel(proto, bytes, at: offset, into: &packet)
        default: packet.transport = .other
        }
    }

    /// The snaplen (or a truncated file) kept less of the payload than was on the wire.
    @inline(__always)
    func markPayloadCut(_ packet: inout DecodedPacket) {
        if packet.truncated == nil, packet.capturedPayloadLength < packet.payloadLength { packet.truncated = .application }
    }

    func decodeTCP(_ bytes: Bytes, at offset: Int, end: Int, into packet: inout DecodedPacket) {
        packet.transport = .tcp
        // Ports to the window: 16 bytes, checked once for all the fields read from them.
        guard bytes.has(offset, 16) else {
            // Ports alone still tie the packet to its flow when the snaplen cut the rest.
            if let sourcePort = bytes.u16(offset), let destinationPort = bytes.u16(offset + 2) {
                packet.sourcePort = sourcePort
                packet.destinationPort = destinationPort
            }
            packet.truncated = .transport
            return
        }
        packet.sourcePort = bytes.checkedU16(offset)
        packet.destinationPort = bytes.checkedU16(offset + 2)
        let sequence = bytes.checkedU32(offset + 4), acknowledgment = bytes.checkedU32(offset + 8)
        let offsetByte = bytes.checkedU8(offset + 12), flags = bytes.checkedU8(offset + 13), window = bytes.checkedU16(offset + 14)
        let headerLength = Int(offsetByte >> 4) * 4
        packet.tcp.sequence = sequence
        packet.tcp.acknowledgment = acknowledgment
        packet.tcp.flags = flags
        packet.tcp.window = window
        packet.tcp.headerLength = UInt8(headerLength)
        packet.payloadLength = max(0, end - offset - headerLength)
        packet.payloadOffset = offset + headerLength
        packet.capturedPayloadLength = max(0, min(end, bytes.count) - packet.payloadOffset)
        if headerLength > 20 { decodeTCPOptions(bytes, from: offset + 20, to: offset + headerLength, into: &packet) }
        if packet.truncated == nil, !bytes.has(offset, headerLength) { packet.truncated = .transport }
        markPayloadCut(&packet)
    }

    private func decodeTCPOptions(_ bytes: Bytes, from start: Int, to end: Int, into packet: inout DecodedPacket) {
        // What Linux puts on every segment of an established connection, read in one go: NOP,
        // NOP, timestamps (the same fields the loop below would set).
        if end - start == 12, bytes.has(start, 12), bytes.checkedU32(start) == 0x0101_080A {
            packet.tcp.hasTimestamps = true
            packet.tcp.timestampValue = bytes.checkedU32(start + 4)
            packet.tcp.timestampEcho = bytes.checkedU32(start + 8)
            return
        }
        var offset = start
        while offset < end {
            guard let kind = bytes.u8(offset) else {
                packet.truncated = .transport
                return
            }
            if kind == 0 { return }  // end of options
            if kind == 1 {  // no-operation
                offset += 1
                continue
            }
            guard let length = bytes.u8(offset + 1), length >= 2, bytes.has(offset, Int(length)) else {
                // A malformed length ends the options; one that runs past the captured bytes is a cut.
                if !bytes.has(offset, 2) || (bytes.u8(offset + 1) ?? 0) >= 2 { packet.truncated = .transport }
                return
            }
            switch (kind, length) {
            case (2, 4): packet.tcp.mss = Int32(bytes.u16(offset + 2) ?? 0)
            case (3, 3): packet.tcp.windowScale = Int8(min(bytes.u8(offset + 2) ?? 0, 14))
            case (4, 2): packet.tcp.sackPermitted = true
            case (5, _): packet.tcp.sackBlocks = (length - 2) / 8
            case (8, 10):
                packet.tcp.hasTimestamps = true
                packet.tcp.timestampValue = bytes.u32(offset + 2) ?? 0
                packet.tcp.timestampEcho = bytes.u32(offset + 6) ?? 0
            default: break
            }
            offset += Int(length)
        }
    }

    func decodeUDP(_ bytes: Bytes, at offset: Int, end: Int, into packet: inout DecodedPacket) {
        packet.transport = .udp
        guard let sourcePort = bytes.u16(offset), let destinationPort = bytes.u16(offset + 2), bytes.has(offset, 8) else {
            packet.truncated = .transport
            return
        }
        packet.sourcePort = sourcePort
        packet.destinationPort = destinationPort
        packet.payloadOffset = offset + 8
        packet.payloadLength = max(0, end - offset - 8)
        packet.capturedPayloadLength = max(0, min(end, bytes.count) - packet.payloadOffset)
        markPayloadCut(&packet)
        if destinationPort >= 4789, decodeUDPTunnel(bytes, at: offset + 8, into: &packet) { return }
        if sourcePort == 53 || destinationPort == 53 || sourcePort == 5353 || destinationPort == 5353 {
            decodeDNS(bytes, at: offset + 8, into: &packet)
        }
    }

    func decodeICMP(_ bytes: Bytes, at offset: Int, end: Int, into packet: inout DecodedPacket, version6: Bool) {
        packet.transport = version6 ? .icmpv6 : .icmp
        guard let type = bytes.u8(offset), let code = bytes.u8(offset + 1) else {
            packet.truncated = .transport
            return
        }
        packet.icmp.type = type
        packet.icmp.code = code
        packet.payloadOffset = offset + 8
        packet.payloadLength = max(0, end - offset - 8)
        packet.capturedPayloadLength = max(0, min(end, bytes.count) - packet.payloadOffset)
        // Errors: v4 unreachable 3, source quench 4, redirect 5, time exceeded 11, parameter problem 12;
        // v6 unreachable 1, packet too big 2, time exceeded 3, parameter problem 4.
        markPayloadCut(&packet)
        packet.icmp.isError = version6 ? (1...4).contains(type) : [3, 4, 5, 11, 12].contains(type)
        guard packet.icmp.isError else { return }
        if version6 ? type == 2 : (type == 3 && code == 4) {
            packet.icmp.mtu = version6 ? (bytes.u32(offset + 4) ?? 0) : UInt32(bytes.u16(offset + 6) ?? 0)
        }
        // The quoted packet is decoded with the same code into a scratch packet.
        var quoted = DecodedPacket()
        if version6 { decodeIPv6(bytes, at: offset + 8, into: &quoted) } else { decodeIPv4(bytes, at: offset + 8, into: &quoted) }
        guard quoted.network == .ipv4 || quoted.network == .ipv6, quoted.truncated != .network else {
            if !bytes.has(offset + 8, 20) { packet.truncated = .application }
            return
        }
        packet.icmp.hasQuotedPacket = true
        packet.icmp.quotedNetworkOffset = quoted.networkOffset
        packet.icmp.quotedTransportOffset = quoted.transportOffset
        packet.icmp.quotedSource = quoted.source
        packet.icmp.quotedDestination = quoted.destination
        packet.icmp.quotedProtocol = quoted.ipProtocol
        if quoted.sourcePort != 0 || quoted.destinationPort != 0 {
            packet.icmp.hasQuotedPorts = true
            packet.icmp.quotedSourcePort = quoted.sourcePort
            packet.icmp.quotedDestinationPort = quoted.destinationPort
        }
    }
}
