import CapplanPackets
import CapplanRedact
import CapplanReport
import CapplanTestSupport
import Foundation
import Testing

private let c = Crafter.client, s = Crafter.server

/// Redaction on crafted packets with valid checksums: every kind of place an address or a
/// secret can be, checked byte by byte and by tshark with every checksum check turned on.
struct RedactorTests {
    static let key = CryptoPAnTests.key

    static func redact(_ path: String, _ rules: RedactionRules) throws -> (path: String, stats: RedactionStats) {
        let reader = try PcapReader(path: path)
        let redactor = try Redactor(rules: rules, linkType: reader.linkType, snaplen: reader.snaplen)
        let output = Crafter.directory + "/redacted-\(UUID().uuidString).pcap"
        let writer = try PcapWriter(path: output, linkType: reader.linkType, snaplen: reader.snaplen)
        while let packet = try reader.next() {
            if let redacted = redactor.redact(packet) {
                writer.write(timestamp: redacted.timestamp, bytes: redacted.bytes, originalLength: redacted.originalLength)
            }
        }
        writer.close()
        return (output, redactor.stats)
    }

    /// A capture with an address in every place capplan rewrites, and checksums that are valid.
    static func everyPlace() throws -> String {
        var crafter = Crafter()
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: SYN | ACK, seq: 0, ack: 1))
        var request = Crafter.tcpHeader(Crafter.TCP(from: c, to: s, flags: ACK | PSH, seq: 1, ack: 1))
        request += Array("GET / HTTP/1.1\r\nAuthorization: Bearer t0ps3cret\r\nCookie: id=abc123\r\n\r\n".utf8)
        crafter.ip(Crafter.ipv4(c.ip, s.ip, proto: 6, body: request))
        // DNS answer with an A and an AAAA record for the planted addresses.
        let name: [UInt8] = [3] + Array("api".utf8) + [4] + Array("test".utf8) + [0]
        var dns = Crafter.be16(7) + Crafter.be16(0x8180) + Crafter.be16(1) + Crafter.be16(2) + [0, 0, 0, 0] + name + Crafter.be16(1) + Crafter.be16(1)
        dns += [0xC0, 12] + Crafter.be16(1) + Crafter.be16(1) + Crafter.be32(60) + Crafter.be16(4) + Crafter.address("198.51.100.77")
        dns += [0xC0, 12] + Crafter.be16(28) + Crafter.be16(1) + Crafter.be32(60) + Crafter.be16(16) + Crafter.address("2001:db8::77")
        crafter.ip(Crafter.ipv4(s.ip, c.ip, proto: 17, body: Crafter.udpHeader(53, 5353, payload: dns)))
        // An ICMP port unreachable quoting the client's UDP packet (with a valid quoted checksum).
        let quoted = Crafter.withChecksums(Crafter.ipv4(c.ip, s.ip, proto: 17, body: Crafter.udpHeader(5353, 9, payload: Array("hello".utf8))))
        crafter.ip(Crafter.ipv4(s.ip, c.ip, proto: 1, body: [3, 3, 0, 0, 0, 0, 0, 0] + quoted))
        // IPv6 TCP.
        crafter.ip(Crafter.ipv6("2001:db8::10", "2001:db8::20", next: 6,
                                body: Crafter.tcpHeader(Crafter.TCP(from: (ip: "2001:db8::10", port: 40000), to: (ip: "2001:db8::20", port: 443), flags: SYN, seq: 0))))
        // ARP request.
        let arp = Crafter.be16(1) + Crafter.be16(0x0800) + [6, 4] + Crafter.be16(1) + [2, 0, 0, 0, 0, 1] + Crafter.address(c.ip)
            + [0, 0, 0, 0, 0, 0] + Crafter.address(s.ip)
        crafter.raw(Crafter.ethernet(arp, type: 0x0806))
        return try crafter.write()
    }

    static let rules = RedactionRules(payload: .keep, pseudonymizeAddresses: true, macs: .zero,
                                      scrub: ["(?i)authorization: [^\\r\\n]*", "(?i)cookie: [^\\r\\n]*"], key: key)

    @Test func addressesAndSecretsAreGoneEverywhere() throws {
        let original = try Self.everyPlace()
        let (output, stats) = try Self.redact(original, Self.rules)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        for address in [c.ip, s.ip, "198.51.100.77", "2001:db8::77", "2001:db8::10", "2001:db8::20"] {
            let raw = try #require(IPAddress(address)).bytes
            #expect(!bytes.contains(sequence: raw), "\(address) is still in the output")
        }
        for secret in ["t0ps3cret", "abc123", "Authorization"] {
            #expect(!bytes.contains(sequence: Array(secret.utf8)), "\(secret) is still in the output")
        }
        #expect(bytes.contains(sequence: Array("GET / HTTP/1.1".utf8)), "what is not a secret stays")
        #expect(stats.scrubMatches == [1, 1])
        #expect(stats.dnsAnswersRewritten == 2)
        #expect(stats.arpRewritten == 1)
        #expect(stats.packetsIn == 7 && stats.packetsOut == 7)
    }

    /// tshark, with every checksum check on, finds no bad checksum before or after.
    @Test func checksumsStayValid() throws {
        let original = try Self.everyPlace()
        let (output, _) = try Self.redact(original, Self.rules)
        for file in [original, output] {
            let statuses = try Tshark.fields(file, filter: "frame", ["ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "icmp.checksum.status"],
                                             options: ["ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE"])
            #expect(statuses.count == 7)
            for (index, row) in statuses.enumerated() {
                // Wireshark: 0 bad, 1 good, 2 unverified; an ICMP error shows its quoted header's too.
                #expect(!row.joined(separator: ",").split(separator: ",").contains("0"), "\(file == original ? "original" : "redacted") packet \(index + 1): \(row)")
            }
        }
        let addresses = try Tshark.fields(output, filter: "ip", ["ip.src", "ip.dst"]).flatMap { $0 }
        #expect(addresses.contains("135.242.180.132") == false)  // not one of ours, just a sanity check of the key's map
        #expect(!addresses.contains(c.ip) && !addresses.contains(s.ip))
    }

    @Test func keepNetworksStayAsTheyAre() throws {
        var rules = Self.rules
        rules.keepNetworks = [try CIDR.parse("203.0.113.0/24").get()]
        let (output, _) = try Self.redact(try Self.everyPlace(), rules)
        let sources = try Tshark.fields(output, filter: "ip", ["ip.src"]).map { $0[0] }
        #expect(sources.contains(s.ip))
        #expect(!sources.contains(c.ip))
    }

    @Test func payloadIsCutButLengthsStay() throws {
        let original = try Self.everyPlace()
        let (dropped, stats) = try Self.redact(original, RedactionRules(payload: .drop))
        let lengths = try Tshark.fields(dropped, filter: "tcp.len > 0", ["frame.len", "frame.cap_len", "tcp.len"])
        let row = try #require(lengths.first)
        #expect(Int(row[0]) ?? 0 > Int(row[1]) ?? 0, "captured length shrinks, the original stays: \(row)")
        #expect(stats.payloadsCut >= 2)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dropped)))
        #expect(!bytes.contains(sequence: Array("GET /".utf8)))
        // The ICMP error keeps the header of the packet it quotes, so it still ties to its flow.
        let summary = try CaptureReport.analyse(path: dropped)
        #expect(summary.icmpErrors.first?.quotedDestination.port == 9)
        let (truncated, _) = try Self.redact(original, RedactionRules(payload: .truncate(4)))
        let truncatedBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: truncated)))
        #expect(truncatedBytes.contains(sequence: Array("GET ".utf8)) && !truncatedBytes.contains(sequence: Array("GET /".utf8)))
    }

    @Test func dropFilterLeavesPacketsOut() throws {
        let (output, stats) = try Self.redact(try Self.everyPlace(), RedactionRules(payload: .keep, dropFilter: "arp or udp port 53"))
        #expect(stats.droppedByFilter == 2)
        #expect(try Tshark.count(output, filter: "frame") == 5)
        #expect(throws: RedactionError.self) { try Redactor(rules: RedactionRules(dropFilter: "tcp prot 1"), linkType: 1, snaplen: 65535) }
    }

    @Test func macsArePseudonymizedConsistently() throws {
        let (output, stats) = try Self.redact(try Self.everyPlace(), RedactionRules(payload: .keep, macs: .pseudonymize, key: Self.key))
        let macs = try Tshark.fields(output, filter: "eth", ["eth.src", "eth.dst"]).flatMap { $0 }
        #expect(stats.macsRewritten == 7)
        #expect(!macs.contains("02:00:00:00:00:01") && !macs.contains("02:00:00:00:00:02"))
        #expect(Set(macs).count == 2, "one pseudonym per MAC: \(Set(macs))")
        // Addresses were to be kept: the key that pseudonymizes MACs must not touch them.
        let input = Set(try Tshark.fields(try Self.everyPlace(), filter: "ip", ["ip.src", "ip.dst"]).flatMap { $0 })
        let kept = Set(try Tshark.fields(output, filter: "ip", ["ip.src", "ip.dst"]).flatMap { $0 })
        #expect(kept == input && kept.contains(c.ip), "addresses kept: \(kept)")
        #expect(stats.addressesPseudonymized == 0)
    }
}

extension Array where Element == UInt8 {
    func contains(sequence: [UInt8]) -> Bool {
        guard !sequence.isEmpty, sequence.count <= count else { return false }
        return (0...(count - sequence.count)).contains { start in self[start..<(start + sequence.count)].elementsEqual(sequence) }
    }
}
