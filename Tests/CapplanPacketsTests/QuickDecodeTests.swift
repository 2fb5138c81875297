import CapplanPackets
import CapplanTestSupport
import Foundation
import Testing

/// The quick readers (`quickTCPEndpoints`, `isBareTCPAck`, `quickTCPSegment`, `prefixAndDataFlow`) let passes skip the full decode of
/// most packets; they may say "unsure", never something `decode` does not say. Checked on every
/// packet of both corpora (real traffic, and tcpdump's malformed captures) and on crafted edges.
struct QuickDecodeTests {
    static func expectAgreement(_ raw: UnsafeRawBufferPointer, decoder: PacketDecoder, _ where: String) -> (endpoints: Bool, bare: Bool, segment: Bool) {
        let decoded = decoder.decode(raw)
        let plainTCP = decoded.transport == .tcp && !decoded.isLaterFragment
        if let quick = decoder.quickTCPEndpoints(raw) {
            #expect(plainTCP && quick.source == decoded.source && quick.destination == decoded.destination
                    && quick.sourcePort == decoded.sourcePort && quick.destinationPort == decoded.destinationPort, "\(`where`)")
        }
        if let segment = decoder.quickTCPSegment(raw) {
            #expect(plainTCP && segment == TCPSegmentFields(decoded), "\(`where`)")
        }
        let bare = decoder.isBareTCPAck(raw)
        if bare {
            #expect(plainTCP && decoded.payloadLength == 0 && decoded.tcp.flags & (TCPHeader.syn | TCPHeader.fin | TCPHeader.rst) == 0,
                    "\(`where`)")
        }
        // A data segment's connection, which the path's hand-over lets the next segment's take the place of:
        // only where decode says a plain IPv4 segment with payload and none of SYN, FIN and RST, and read
        // whole enough to be read again quickly.
        let handed = decoder.prefixAndDataFlow(raw, payload: 16)
        #expect((handed == nil) == bare, "\(`where`)")
        if let handed, handed.addresses != 0 {
            let ports = UInt32(decoded.sourcePort) << 16 | UInt32(decoded.destinationPort)
            #expect(plainTCP && decoded.network == .ipv4 && decoded.payloadLength > 0
                    && decoded.tcp.flags & (TCPHeader.syn | TCPHeader.fin | TCPHeader.rst) == 0
                    && IPAddress(ipv4: UInt32(handed.addresses >> 32)) == decoded.source
                    && IPAddress(ipv4: UInt32(truncatingIfNeeded: handed.addresses)) == decoded.destination
                    && handed.ports == ports && handed.kept == decoder.prefixForSegmentFields(raw, payload: 16)
                    && decoder.quickTCPSegment(UnsafeRawBufferPointer(rebasing: raw[..<handed.kept])) != nil, "\(`where`)")
        }
        return (decoder.quickTCPEndpoints(raw) != nil, bare, decoder.quickTCPSegment(raw) != nil)
    }

    @Test func theQuickReadersNeverDisagreeWithTheDecoderOnEitherCorpus() throws {
        var packets = 0, quick = 0, bare = 0, segments = 0
        for folder in ["zeek", "tcpdump-tests"] {
            for name in try Corpus.captures(in: folder) {
                guard let reader = try? openCaptureFile(name), let decoder = try? PacketDecoder(linkType: reader.linkType) else { continue }
                while let packet = try? reader.next() {
                    let seen = Self.expectAgreement(packet.bytes, decoder: decoder, "\(name) packet \(packets)")
                    packets += 1
                    if seen.endpoints { quick += 1 }
                    if seen.bare { bare += 1 }
                    if seen.segment { segments += 1 }
                }
            }
        }
        // Most real TCP is read quickly, and many of its segments are bare ACKs.
        #expect(quick > packets / 4 && bare > 1000 && segments > packets / 4,
                "\(packets) packets: \(quick) read quickly, \(bare) bare ACKs, \(segments) segments read whole")
    }

    /// The edges the corpora may not hold: padding after a bare ACK, a payload the snaplen cut
    /// away, the flags and the lengths that make a segment not bare.
    @Test func crafted() throws {
        let decoder = try PacketDecoder(linkType: 1)
        func frame(flags: UInt8, payload: Int, padding: Int = 0, cut: Int = 0) -> [UInt8] {
            var crafter = Crafter()
            crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: flags, seq: 1, ack: 1, payload: payload))
            var bytes = (crafter.packets.first?.bytes ?? []) + [UInt8](repeating: 0, count: padding)
            bytes.removeLast(min(cut, bytes.count))
            return bytes
        }
        let cases: [(String, [UInt8], Bool)] = [
            ("bare ACK", frame(flags: ACK, payload: 0), true),
            ("bare ACK with Ethernet padding", frame(flags: ACK, payload: 0, padding: 6), true),
            ("data", frame(flags: ACK | PSH, payload: 100), false),
            ("data cut by the snaplen", frame(flags: ACK, payload: 100, cut: 100), false),
            ("SYN", frame(flags: SYN, payload: 0), false),
            ("FIN", frame(flags: FIN | ACK, payload: 0), false),
            ("RST", frame(flags: RST, payload: 0), false),
        ]
        for (name, bytes, expected) in cases {
            let seen = bytes.withUnsafeBytes { Self.expectAgreement($0, decoder: decoder, name) }
            #expect(seen.bare == expected, "\(name)")
            #expect(seen.segment, "\(name): read whole")
        }
        // A segment whose IPv4 total length says 0 (TSO on the capturing host) ends where the
        // capture does; one cut inside its TCP header is left to the decoder.
        var offloaded = frame(flags: ACK | PSH, payload: 100)
        offloaded[16] = 0
        offloaded[17] = 0
        let tso = offloaded.withUnsafeBytes { Self.expectAgreement($0, decoder: decoder, "TSO") }
        #expect(tso.segment)
        let cut = frame(flags: ACK, payload: 0, cut: 8).withUnsafeBytes { Self.expectAgreement($0, decoder: decoder, "cut header") }
        #expect(!cut.segment)
    }
}
