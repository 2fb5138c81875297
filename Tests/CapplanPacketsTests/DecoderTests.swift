import CapplanPackets
import CapplanTestSupport
import Testing

/// The decoder on hand-built frames of every link type and header it knows.
struct DecoderTests {
    static let tcp = Crafter.tcpHeader(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: SYN, seq: 7,
                                                   options: [2, 4, 0x05, 0xB4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0]))
    static let ipv4 = Crafter.ipv4(Crafter.client.ip, Crafter.server.ip, proto: 6, body: tcp)

    static func decode(_ bytes: [UInt8], link: Int32) throws -> DecodedPacket {
        let decoder = try PacketDecoder(linkType: link)
        return bytes.withUnsafeBytes { decoder.decode($0) }
    }

    static func expectClientSYN(_ packet: DecodedPacket, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(packet.network == .ipv4 && packet.transport == .tcp, sourceLocation: sourceLocation)
        #expect(packet.source.description == Crafter.client.ip && packet.destination.description == Crafter.server.ip, sourceLocation: sourceLocation)
        #expect(packet.sourcePort == 40000 && packet.destinationPort == 443, sourceLocation: sourceLocation)
        #expect(packet.tcp.sequence == 7 && packet.tcp.has(TCPHeader.syn), sourceLocation: sourceLocation)
        #expect(packet.truncated == nil, sourceLocation: sourceLocation)
    }

    @Test func ethernetWithTCPOptions() throws {
        let packet = try Self.decode(Crafter.ethernet(Self.ipv4), link: 1)
        Self.expectClientSYN(packet)
        #expect(packet.tcp.mss == 1460 && packet.tcp.windowScale == 7 && packet.tcp.sackPermitted)
        #expect(packet.tcp.hasTimestamps && packet.tcp.timestampValue == 9)
        #expect(packet.vlanTags == 0)
    }

    /// Linux's options on an established connection (NOP, NOP, timestamps) are read in one go: the
    /// same fields as the same option in another order, and a cut one is still a cut.
    @Test func timestampsReadTheSameInAnyLayout() throws {
        func decoded(_ options: [UInt8], cutBy cut: Int = 0) throws -> DecodedPacket {
            let tcp = Crafter.tcpHeader(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: ACK, seq: 7, ack: 9, options: options))
            let frame = Crafter.ethernet(Crafter.ipv4(Crafter.client.ip, Crafter.server.ip, proto: 6, body: tcp))
            return try Self.decode(Array(frame.dropLast(cut)), link: 1)
        }
        let stamps: [UInt8] = [8, 10, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0]
        let linux = try decoded([1, 1] + stamps), other = try decoded(stamps + [1, 1])
        #expect(linux.tcp.hasTimestamps && linux.tcp.timestampValue == 0x1234_5678 && linux.tcp.timestampEcho == 0x9ABC_DEF0)
        #expect(linux.tcp == other.tcp)
        #expect(linux.truncated == nil)
        let cut = try decoded([1, 1] + stamps, cutBy: 3)
        #expect(cut.truncated == .transport && !cut.tcp.hasTimestamps)
    }

    @Test func vlanAndQinQ() throws {
        #expect(try Self.decode(Crafter.ethernet(Self.ipv4, vlans: [10]), link: 1).vlanTags == 1)
        let qinq = try Self.decode(Crafter.ethernet(Self.ipv4, vlans: [10, 20]), link: 1)
        Self.expectClientSYN(qinq)
        #expect(qinq.vlanTags == 2)
    }

    @Test func linuxCookedV1AndV2() throws {
        let sll = [0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + Crafter.be16(0x0800) + Self.ipv4
        let v1 = try Self.decode(sll, link: 113)
        Self.expectClientSYN(v1)
        #expect(v1.packetType == 4)
        let sll2 = Crafter.be16(0x0800) + [0, 0] + Crafter.be32(3) + [0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0] + Self.ipv4
        let v2 = try Self.decode(sll2, link: 276)
        Self.expectClientSYN(v2)
        #expect(v2.interfaceIndex == 3 && v2.packetType == 4)
    }

    @Test func rawIPAndLoopback() throws {
        Self.expectClientSYN(try Self.decode(Self.ipv4, link: 101))
        Self.expectClientSYN(try Self.decode(Self.ipv4, link: 12))
        Self.expectClientSYN(try Self.decode([2, 0, 0, 0] + Self.ipv4, link: 0))  // DLT_NULL, little-endian AF_INET
        Self.expectClientSYN(try Self.decode([0, 0, 0, 2] + Self.ipv4, link: 108))  // DLT_LOOP, network order
    }

    @Test func ipv4OptionsAndFragments() throws {
        let withOptions = Crafter.ipv4(Crafter.client.ip, Crafter.server.ip, proto: 6, options: [1, 1, 1, 0], body: Self.tcp)
        let packet = try Self.decode(withOptions, link: 101)
        Self.expectClientSYN(packet)
        #expect(packet.hasIPOptions)
        let later = try Self.decode(Crafter.ipv4(Crafter.client.ip, Crafter.server.ip, proto: 6, fragment: 0x0010, body: [1, 2, 3]), link: 101)
        #expect(later.isFragment && later.isLaterFragment && later.transport == .none)
        let first = try Self.decode(Crafter.ipv4(Crafter.client.ip, Crafter.server.ip, proto: 6, fragment: 0x2000, body: Self.tcp), link: 101)
        #expect(first.isFragment && !first.isLaterFragment && first.transport == .tcp)
    }

    @Test func ipv6WithExtensionHeaders() throws {
        // hop-by-hop (8 bytes) -> destination options (8 bytes) -> TCP
        let hopByHop: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0]
        let destination: [UInt8] = [6, 0, 1, 4, 0, 0, 0, 0]
        let bytes = Crafter.ipv6("2001:db8::1", "2001:db8::2", next: 0, hopLimit: 63, body: hopByHop + destination + Self.tcp)
        let packet = try Self.decode(bytes, link: 101)
        #expect(packet.network == .ipv6 && packet.transport == .tcp && packet.ipProtocol == 6)
        #expect(packet.source.description == "2001:db8::1" && packet.ttl == 63)
        #expect(packet.sourcePort == 40000 && packet.tcp.mss == 1460)
        let fragment: [UInt8] = [6, 0, 0, 8, 0, 0, 0, 42]  // offset 1 (in 8-byte units): a later fragment
        let later = try Self.decode(Crafter.ipv6("2001:db8::1", "2001:db8::2", next: 44, body: fragment + [1, 2, 3]), link: 101)
        #expect(later.isFragment && later.isLaterFragment && later.transport == .none && later.ipIdentification == 42)
    }

    @Test func icmpErrorsQuoteTheirFlow() throws {
        let quoted = Crafter.ipv4(Crafter.client.ip, Crafter.server.ip, proto: 17, body: Crafter.udpHeader(5353, 53, payload: []))
        let icmp: [UInt8] = [3, 3, 0, 0, 0, 0, 0, 0] + quoted
        let packet = try Self.decode(Crafter.ipv4(Crafter.server.ip, Crafter.client.ip, proto: 1, body: icmp), link: 101)
        #expect(packet.transport == .icmp && packet.icmp.isError && packet.icmp.type == 3 && packet.icmp.code == 3)
        #expect(packet.icmp.hasQuotedPorts && packet.icmp.quotedDestinationPort == 53 && packet.icmp.quotedProtocol == 17)
        #expect(packet.icmp.quotedSource.description == Crafter.client.ip)

        let quoted6 = Crafter.ipv6("2001:db8::1", "2001:db8::2", next: 6, body: Self.tcp)
        let tooBig: [UInt8] = [2, 0, 0, 0] + Crafter.be32(1280) + quoted6
        let packet6 = try Self.decode(Crafter.ipv6("2001:db8::ff", "2001:db8::1", next: 58, body: tooBig), link: 101)
        #expect(packet6.transport == .icmpv6 && packet6.icmp.isError && packet6.icmp.mtu == 1280)
        #expect(packet6.icmp.quotedDestination.description == "2001:db8::2" && packet6.icmp.quotedDestinationPort == 443)
    }

    @Test func dnsQuestionAndResponseCode() throws {
        let name: [UInt8] = [7] + Array("missing".utf8) + [4] + Array("test".utf8) + [0]
        let dns = Crafter.be16(0xBEEF) + Crafter.be16(0x8183) + Crafter.be16(1) + Crafter.be16(0) + [0, 0, 0, 0] + name + Crafter.be16(28) + Crafter.be16(1)
        let bytes = Crafter.ipv4(Crafter.server.ip, Crafter.client.ip, proto: 17, body: Crafter.udpHeader(53, 5353, payload: dns))
        let packet = try Self.decode(bytes, link: 101)
        let message = try #require(packet.dns)
        #expect(message.id == 0xBEEF && message.isResponse && message.responseCode == 3 && message.questionType == 28)
        #expect(bytes.withUnsafeBytes { message.name(in: $0) } == "missing.test")
    }

    /// Every prefix of a packet decodes without a crash, and is flagged as cut short.
    @Test func everyTruncationIsSafe() throws {
        let frames: [(Int32, [UInt8])] = [(1, Crafter.ethernet(Self.ipv4, vlans: [5])), (276, Crafter.be16(0x0800) + [UInt8](repeating: 0, count: 18) + Self.ipv4),
                                          (101, Crafter.ipv6("2001:db8::1", "2001:db8::2", next: 0, body: [6, 0, 1, 4, 0, 0, 0, 0] + Self.tcp))]
        for (link, frame) in frames {
            for length in 0..<frame.count {
                let packet = try Self.decode(Array(frame.prefix(length)), link: link)
                #expect(packet.truncated != nil || packet.network == .none, "link \(link) cut at \(length)")
            }
        }
    }

    @Test func unknownLinkTypeIsAClearError() {
        #expect(throws: PcapError.self) { try PacketDecoder(linkType: 147) }
    }
}

/// Each encapsulation around the same client SYN, decoded to it, the tunnel named and the outer
/// header kept; tshark, reading the same frames, finds the same inner packet.
struct TunnelDecoderTests {
    static let outerA = "203.0.113.1", outerB = "203.0.113.2"
    static let innerFrame = Crafter.ethernet(DecoderTests.ipv4)

    static let cases: [(String, Tunnel, [UInt8])] = [
        ("vxlan", .vxlan, Crafter.ethernet(Crafter.ipv4(outerA, outerB, proto: 17, body: Crafter.udpHeader(51000, 4789,
            payload: [0x08, 0, 0, 0, 0, 0, 42, 0] + innerFrame)))),
        ("geneve", .geneve, Crafter.ethernet(Crafter.ipv4(outerA, outerB, proto: 17, body: Crafter.udpHeader(51000, 6081,
            payload: [0x01, 0, 0x65, 0x58, 0, 0, 43, 0] + [0x01, 0x02, 0x80, 0x01] + innerFrame)))),  // one 4-byte option
        ("ipip", .ipip, Crafter.ethernet(Crafter.ipv4(outerA, outerB, proto: 4, body: DecoderTests.ipv4))),
        ("gre with key", .gre, Crafter.ethernet(Crafter.ipv4(outerA, outerB, proto: 47, body: [0x20, 0, 0x08, 0] + Crafter.be32(7) + DecoderTests.ipv4))),
        ("mpls two labels", .mpls, Crafter.ethernet([0, 0x10, 0x00, 0x40, 0, 0x20, 0x01, 0x40] + DecoderTests.ipv4, type: 0x8847)),
        ("pppoe", .pppoe, Crafter.ethernet([0x11, 0, 0, 0x01] + Crafter.be16(UInt16(DecoderTests.ipv4.count + 2)) + [0, 0x21] + DecoderTests.ipv4,
                                           type: 0x8864)),
    ]

    @Test(arguments: cases.indices)
    func theInnerPacketIsTheConnection(_ index: Int) throws {
        let (name, tunnel, frame) = Self.cases[index]
        let packet = try DecoderTests.decode(frame, link: 1)
        DecoderTests.expectClientSYN(packet)
        #expect(packet.tunnel == tunnel, "\(name)")
        if tunnel == .mpls || tunnel == .pppoe {
            #expect(packet.outer == nil, "\(name) has no outer IP header")
        } else {
            #expect(packet.outer?.source.description == Self.outerA && packet.outer?.destination.description == Self.outerB, "\(name)")
        }
        // tshark on the same frame finds the same inner SYN (its last ip.src and tcp ports).
        var crafter = Crafter()
        crafter.raw(frame)
        let row = try #require(try Tshark.fields(try crafter.write(), filter: "tcp", ["ip.src", "tcp.srcport", "tcp.dstport"]).first, "\(name)")
        #expect(row[0].split(separator: ",").last.map(String.init) == Crafter.client.ip && row[1] == "40000" && row[2] == "443", "\(name): \(row)")
    }

    /// PPP link type (DLT 9): address and control, then IPv4.
    @Test func pppLinkType() throws {
        DecoderTests.expectClientSYN(try DecoderTests.decode([0xFF, 0x03, 0x00, 0x21] + DecoderTests.ipv4, link: 9))
    }

    /// A tunnel inside a tunnel inside a tunnel... stops at the depth limit, never loops.
    @Test func nestingIsBounded() throws {
        var body = DecoderTests.ipv4
        for _ in 0..<50 { body = Crafter.ipv4(Self.outerA, Self.outerB, proto: 4, body: body) }
        let packet = try DecoderTests.decode(Crafter.ethernet(body), link: 1)
        #expect(packet.tunnel == .ipip && packet.tunnelDepth == 3)
    }
}
