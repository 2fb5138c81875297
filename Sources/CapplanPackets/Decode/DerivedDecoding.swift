/// What rewritten bytes decode to, worked out from what the bytes they were made from decoded to.
extension PacketDecoder {
    /// Turns `packet`, the decoding of some bytes, into the decoding of `bytes`: those bytes with
    /// their IP addresses rewritten (when `addressesRewritten`) and perhaps cut short after the
    /// TCP header, as redaction leaves them. Exact for a TCP segment outside tunnels, with whole
    /// headers and its end taken from its IP length: then only the addresses, the captured
    /// payload length and `truncated` change. False for anything else (an IPv4 total length of 0
    /// from TSO, a jumbogram, UDP, ICMP, tunnels): the caller decodes `bytes` again.
    public func deriveDecoding(_ packet: inout DecodedPacket, of raw: UnsafeRawBufferPointer, addressesRewritten: Bool) -> Bool {
        let bytes = Bytes(base: raw), base = packet.networkOffset
        guard packet.transport == .tcp, packet.tunnel == .none, packet.outer == nil,
              packet.truncated == nil || packet.truncated == .application,
              packet.payloadOffset <= bytes.count, lengthIsFromHeader(packet.network, at: base, bytes) else { return false }
        if addressesRewritten {
            // `lengthIsFromHeader` checked that the fixed IP header is there.
            if packet.network == .ipv4 {
                packet.source = IPAddress(ipv4: bytes.checkedU32(base + 12))
                packet.destination = IPAddress(ipv4: bytes.checkedU32(base + 16))
            } else {
                packet.source = IPAddress(ipv6High: bytes.checkedU64(base + 8), low: bytes.checkedU64(base + 16))
                packet.destination = IPAddress(ipv6High: bytes.checkedU64(base + 24), low: bytes.checkedU64(base + 32))
            }
        }
        packet.capturedPayloadLength = min(packet.capturedPayloadLength, bytes.count - packet.payloadOffset)
        markPayloadCut(&packet)
        return true
    }

    /// Whether the fixed IP header is captured and gives the segment's end itself, as
    /// `decodeIPv4` and `decodeIPv6` read it, rather than leaving it to the captured length.
    private func lengthIsFromHeader(_ network: DecodedPacket.Network, at base: Int, _ bytes: Bytes) -> Bool {
        switch network {
        case .ipv4:
            guard bytes.has(base, 20) else { return false }
            return Int(bytes.checkedU16(base + 2)) >= Int(bytes.checkedU8(base) & 0x0F) * 4
        case .ipv6:
            return bytes.has(base, 40) && bytes.checkedU16(base + 4) > 0
        default:
            return false
        }
    }
}
