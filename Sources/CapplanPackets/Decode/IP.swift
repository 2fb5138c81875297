/// IPv4 (with options and fragments) and IPv6 (with extension headers).
extension PacketDecoder {
    func decodeIPv4(_ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        packet.network = .ipv4
        // The fixed 20 bytes, checked once for all the fields read from them.
        guard bytes.has(offset, 20) else {
            packet.truncated = .network
            return
        }
        let versionAndLength = bytes.checkedU8(offset), totalLength = bytes.checkedU16(offset + 2)
        let identification = bytes.checkedU16(offset + 4), fragment = bytes.checkedU16(offset + 6)
        let ttl = bytes.checkedU8(offset + 8), proto = bytes.checkedU8(offset + 9)
        let source = bytes.checkedU32(offset + 12), destination = bytes.checkedU32(offset + 16)
        let headerLength = Int(versionAndLength & 0x0F) * 4
        guard versionAndLength >> 4 == 4, headerLength >= 20 else {
            packet.network = .other
            return
        }
        packet.networkOffset = offset
        packet.source = IPAddress(ipv4: source)
        packet.destination = IPAddress(ipv4: destination)
        packet.ttl = ttl
        packet.ipProtocol = proto
        packet.ipIdentification = UInt32(identification)
        packet.hasIPOptions = headerLength > 20
        let moreFragments = fragment & 0x2000 != 0
        let fragmentOffset = fragment & 0x1FFF
        packet.isFragment = moreFragments || fragmentOffset != 0
        packet.isLaterFragment = fragmentOffset != 0
        // TSO on the capturing host can write 0 in total length; fall back to what was captured.
        let payloadEnd = totalLength >= UInt16(headerLength) ? offset + Int(totalLength) : offset + max(bytes.count - offset, headerLength)
        guard !packet.isLaterFragment else { return }
        decodeTransport(proto, bytes, at: offset + headerLength, end: payloadEnd, into: &packet)
    }

    func decodeIPv6(_ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        packet.network = .ipv6
        // The fixed 40 bytes, checked once for all the fields read from them.
        guard bytes.has(offset, 40) else {
            packet.truncated = .network
            return
        }
        let first = bytes.checkedU8(offset), payloadLength = bytes.checkedU16(offset + 4)
        var next = bytes.checkedU8(offset + 6)
        let hopLimit = bytes.checkedU8(offset + 7)
        let sourceHigh = bytes.checkedU64(offset + 8), sourceLow = bytes.checkedU64(offset + 16)
        let destinationHigh = bytes.checkedU64(offset + 24), destinationLow = bytes.checkedU64(offset + 32)
        guard first >> 4 == 6 else {
            packet.network = .other
            return
        }
        packet.networkOffset = offset
        packet.source = IPAddress(ipv6High: sourceHigh, low: sourceLow)
        packet.destination = IPAddress(ipv6High: destinationHigh, low: destinationLow)
        packet.ttl = hopLimit
        // A jumbogram says 0 here; fall back to what was captured.
        let end = payloadLength > 0 ? offset + 40 + Int(payloadLength) : bytes.count
        var header = offset + 40
        // Walk extension headers: hop-by-hop 0, routing 43, fragment 44, destination options 60,
        // authentication 51, mobility 135; a bounded number of them.
        for _ in 0..<8 {
            switch next {
            case 0, 43, 51, 60, 135:
                guard let inner = bytes.u8(header), let length = bytes.u8(header + 1) else {
                    packet.truncated = .network
                    return
                }
                // The authentication header counts 4-byte units less two; the others 8-byte units less one.
                header += next == 51 ? (Int(length) + 2) * 4 : (Int(length) + 1) * 8
                next = inner
            case 44:
                guard let inner = bytes.u8(header), let fragment = bytes.u16(header + 2), let identification = bytes.u32(header + 4) else {
                    packet.truncated = .network
                    return
                }
                packet.isFragment = true
                packet.isLaterFragment = fragment & 0xFFF8 != 0
                packet.ipIdentification = identification
                next = inner
                header += 8
            default:
                packet.ipProtocol = next
                guard !packet.isLaterFragment else { return }
                decodeTransport(next, bytes, at: header, end: end, into: &packet)
                return
            }
        }
        packet.ipProtocol = next
    }
}
