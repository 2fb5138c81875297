extension PacketDecoder {
    /// The endpoints of a TCP segment in plain Ethernet and IPv4 or IPv6 (no VLAN, no IPv6 extension
    /// header, not a later fragment), read straight from its bytes: what `decode` gives for them, for
    /// the passes that look at most packets only to pass them by. Nil for anything else.
    @inline(__always)
    public func quickTCPEndpoints(_ raw: UnsafeRawBufferPointer)
        -> (source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16)? {
        guard link == .ethernet, raw.count >= 14 + 20 + 4 else { return nil }
        func u16(_ at: Int) -> UInt16 { UInt16(raw[at]) << 8 | UInt16(raw[at + 1]) }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) << 16 | UInt32(u16(at + 2)) }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) << 32 | UInt64(u32(at + 4)) }
        switch u16(12) {
        case 0x0800:
            let header = Int(raw[14] & 0x0F) * 4
            guard raw[14] >> 4 == 4, header >= 20, raw[23] == 6, u16(20) & 0x1FFF == 0, raw.count >= 14 + header + 4 else { return nil }
            return (IPAddress(ipv4: u32(26)), u16(14 + header), IPAddress(ipv4: u32(30)), u16(16 + header))
        case 0x86DD:
            guard raw.count >= 14 + 40 + 4, raw[14] >> 4 == 6, raw[20] == 6 else { return nil }
            return (IPAddress(ipv6High: u64(22), low: u64(30)), u16(54), IPAddress(ipv6High: u64(38), low: u64(46)), u16(56))
        default:
            return nil
        }
    }

    /// Whether a TCP segment in plain Ethernet and IPv4 or IPv6 (as `quickTCPEndpoints` reads them)
    /// is a bare ACK: no payload on the wire and none of SYN, FIN and RST, read straight from its
    /// bytes. True only where `decode` says exactly that; false when unsure.
    @inline(__always)
    public func isBareTCPAck(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard link == .ethernet, raw.count >= 14 + 20 + 14 else { return false }
        func u16(_ at: Int) -> Int { Int(raw[at]) << 8 | Int(raw[at + 1]) }
        // The TCP header's length, against what the IP header says follows it, and the flags.
        func bare(_ tcp: Int, payloadAndHeader: Int) -> Bool {
            let header = Int(raw[tcp + 12] >> 4) * 4
            return header >= 20 && payloadAndHeader == header && raw[tcp + 13] & (0x01 | 0x02 | 0x04) == 0
        }
        switch u16(12) {
        case 0x0800:
            let header = Int(raw[14] & 0x0F) * 4
            guard raw[14] >> 4 == 4, header >= 20, raw[23] == 6, u16(20) & 0x1FFF == 0, raw.count >= 14 + header + 14 else { return false }
            return bare(14 + header, payloadAndHeader: u16(16) - header)
        case 0x86DD:
            guard raw.count >= 14 + 40 + 14, raw[14] >> 4 == 6, raw[20] == 6 else { return false }
            return bare(54, payloadAndHeader: u16(18))
        default:
            return false
        }
    }
}
