/// Encapsulations a node's uplink carries pod traffic in (VXLAN and Geneve for Flannel and
/// Cilium, IP-in-IP for Calico, GRE) and link layers of other networks (MPLS, PPPoE, PPP).
/// The decoder follows them to the innermost IP packet, which is the packet's connection; the
/// outermost header is kept in `outer` (for redaction, which rewrites both) and the tunnel named.
public enum Tunnel: UInt8, Sendable, CaseIterable, BitwiseCopyable {
    case none, vxlan, geneve, ipip, gre, mpls, pppoe

    public var name: String {
        switch self {
        case .none: "none"
        case .vxlan: "VXLAN"
        case .geneve: "Geneve"
        case .ipip: "IP-in-IP"
        case .gre: "GRE"
        case .mpls: "MPLS"
        case .pppoe: "PPPoE"
        }
    }
}

/// The outermost IP header of a tunnelled packet, and its UDP header when it has one.
public struct OuterHeader: Sendable, Equatable {
    public var network: DecodedPacket.Network
    public var networkOffset: Int
    public var source: IPAddress
    public var destination: IPAddress
    /// The outer UDP header (VXLAN, Geneve), -1 when there is none.
    public var udpOffset: Int
}

extension PacketDecoder {
    /// Tunnels inside tunnels are followed this deep, no deeper (a crafted packet cannot loop).
    static let maximumTunnelDepth = 3

    /// VXLAN's IANA port and Linux's old default (Flannel); Geneve's.
    static let vxlanPorts: Set<UInt16> = [4789, 8472]
    static let genevePort: UInt16 = 6081

    /// Notes the outer header (once, for the outermost tunnel) and clears what the inner packet sets.
    @inline(__always)
    func enterTunnel(_ tunnel: Tunnel, udp: Bool, into packet: inout DecodedPacket) -> Bool {
        guard packet.tunnelDepth < Self.maximumTunnelDepth else { return false }
        if packet.outer == nil, packet.network == .ipv4 || packet.network == .ipv6 {
            packet.outer = OuterHeader(network: packet.network, networkOffset: packet.networkOffset, source: packet.source,
                                       destination: packet.destination, udpOffset: udp ? packet.transportOffset : -1)
        }
        if packet.tunnel == .none { packet.tunnel = tunnel }
        packet.tunnelDepth += 1
        packet.transport = .none
        packet.transportOffset = -1
        packet.sourcePort = 0
        packet.destinationPort = 0
        packet.payloadOffset = 0
        packet.payloadLength = 0
        packet.capturedPayloadLength = 0
        packet.truncated = nil
        return true
    }

    /// A UDP payload that is VXLAN (flags with the I bit, then an Ethernet frame) or Geneve
    /// (version 0; its options' length; an Ethernet frame or an IP packet).
    func decodeUDPTunnel(_ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) -> Bool {
        if Self.vxlanPorts.contains(packet.destinationPort), let flags = bytes.u8(offset), flags & 0x08 != 0, bytes.has(offset, 8 + 14) {
            guard enterTunnel(.vxlan, udp: true, into: &packet) else { return false }
            decodeEthernet(bytes, at: offset + 8, into: &packet)
            return true
        }
        if packet.destinationPort == Self.genevePort, let first = bytes.u8(offset), first >> 6 == 0, let type = bytes.u16(offset + 2) {
            let inner = offset + 8 + Int(first & 0x3F) * 4
            guard [0x6558, 0x0800, 0x86DD].contains(type), bytes.has(inner, 1), enterTunnel(.geneve, udp: true, into: &packet) else { return false }
            if type == 0x6558 { decodeEthernet(bytes, at: inner, into: &packet) } else { decodeEtherType(type, bytes, at: inner, into: &packet) }
            return true
        }
        return false
    }

    /// IP protocol 4 (IPv4 inside), 41 (IPv6 inside) or 47 (GRE).
    func decodeIPTunnel(_ proto: UInt8, _ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        switch proto {
        case 4, 41:
            guard enterTunnel(.ipip, udp: false, into: &packet) else { return }
            if proto == 4 { decodeIPv4(bytes, at: offset, into: &packet) } else { decodeIPv6(bytes, at: offset, into: &packet) }
        default:
            // GRE (RFC 2784, 2890): checksum, key and sequence number present by their flags; version 0 only.
            guard let flags = bytes.u16(offset), flags & 0x0007 == 0, let type = bytes.u16(offset + 2) else {
                packet.transport = .other
                return
            }
            let inner = offset + 4 + (flags & 0x8000 != 0 ? 4 : 0) + (flags & 0x2000 != 0 ? 4 : 0) + (flags & 0x1000 != 0 ? 4 : 0)
            guard [0x0800, 0x86DD, 0x6558, 0x8847].contains(type), enterTunnel(.gre, udp: false, into: &packet) else {
                packet.transport = .other
                return
            }
            if type == 0x6558 { decodeEthernet(bytes, at: inner, into: &packet) } else { decodeEtherType(type, bytes, at: inner, into: &packet) }
        }
    }

    /// MPLS label stack entries (4 bytes each) up to the bottom of the stack, then IP by its version.
    func decodeMPLS(_ bytes: Bytes, at start: Int, into packet: inout DecodedPacket) {
        var offset = start
        for _ in 0..<16 {
            guard let entry = bytes.u32(offset) else {
                packet.truncated = .link
                return
            }
            offset += 4
            if entry & 0x100 != 0 {
                guard enterTunnel(.mpls, udp: false, into: &packet) else { return }
                decodeIP(bytes, at: offset, into: &packet)
                return
            }
        }
        packet.network = .other
    }

    /// A PPPoE session frame: 6 bytes of PPPoE header, then PPP.
    func decodePPPoE(_ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        guard let protocolField = bytes.u16(offset + 6) else {
            packet.truncated = .link
            return
        }
        guard enterTunnel(.pppoe, udp: false, into: &packet) else { return }
        decodePPPProtocol(protocolField, bytes, at: offset + 8, into: &packet)
    }

    /// PPP's protocol field: IPv4 (0x0021) or IPv6 (0x0057); anything else (LCP, IPCP...) is not IP.
    func decodePPPProtocol(_ type: UInt16, _ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        switch type {
        case 0x0021: decodeIPv4(bytes, at: offset, into: &packet)
        case 0x0057: decodeIPv6(bytes, at: offset, into: &packet)
        default: packet.network = .other
        }
    }

    /// Link type PPP (DLT 9) and PPP in HDLC-like framing (DLT 50): address and control
    /// (0xFF 0x03) when present, then the protocol.
    func decodePPP(_ bytes: Bytes, into packet: inout DecodedPacket) {
        let start = bytes.u8(0) == 0xFF && bytes.u8(1) == 0x03 ? 2 : 0
        guard let type = bytes.u16(start) else {
            packet.truncated = .link
            return
        }
        decodePPPProtocol(type, bytes, at: start + 2, into: &packet)
    }
}
