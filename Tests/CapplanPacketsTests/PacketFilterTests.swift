import CapplanPackets
import Testing

/// libpcap is the oracle: these pin how capplan reads its answers.
struct PacketFilterTests {
    @Test(arguments: LinkType.captured)
    func validFiltersAccept(_ linkType: LinkType) {
        for filter in ["", "tcp port 443", "host 203.0.113.12 and tcp", "tcp[tcpflags] & tcp-rst != 0", "icmp or icmp6", "udp port 53"] {
            #expect(PacketFilter.check(filter, linkType: linkType) == .accepts, "\(filter)")
        }
    }

    @Test func syntaxErrorsCarryLibpcapsMessage() {
        guard case .invalid(let message) = PacketFilter.check("tcp prot 443", linkType: .ethernet) else {
            Issue.record("tcp prot 443 compiled")
            return
        }
        #expect(message.contains("syntax error"))
    }

    @Test func contradictionsRejectEverything() {
        #expect(PacketFilter.check("udp and tcp", linkType: .ethernet) == .rejectsAll)
        #expect(PacketFilter.check("(udp port 53) and (tcp)", linkType: .linuxSLL2) == .rejectsAll)
        #expect(PacketFilter.check("(tcp port 443) and (tcp)", linkType: .linuxSLL2) == .accepts)
    }

    @Test func linkTypeMatters() {
        #expect(PacketFilter.check("vlan and tcp", linkType: .ethernet) == .accepts)
        #expect(PacketFilter.check("vlan and tcp", linkType: .linuxSLL2) != .accepts)
    }

    @Test func bytePatternsMatchBytes() throws {
        let pattern = try BytePattern("(?i)authorization: [^\\r\\n]*")
        let payload = Array("GET / HTTP/1.1\r\nAuthorization: Bearer abc\r\nHost: x\r\n".utf8)
        let ranges = payload.withUnsafeBytes { pattern.matches(in: $0) }
        #expect(ranges.count == 1)
        if let range = ranges.first {
            #expect(String(decoding: payload[range], as: UTF8.self) == "Authorization: Bearer abc")
        }
        #expect(throws: BytePattern.CompileError.self) { try BytePattern("(unclosed") }
    }

    @Test func bytePatternsSurviveNonUTF8AndEmptyMatches() throws {
        let pattern = try BytePattern("x*")
        let bytes: [UInt8] = [0xFF, 0x78, 0x78, 0x00, 0xC3]
        let ranges = bytes.withUnsafeBytes { pattern.matches(in: $0) }
        #expect(ranges == [1..<3])
    }
}
