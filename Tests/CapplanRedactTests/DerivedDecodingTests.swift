@testable import CapplanPackets
@testable import CapplanRedact
import CapplanTestSupport
import Foundation
import Testing

/// `apply` analyses what it writes, and most packets are decoded once: `redactDecoded` works out
/// what the redacted bytes decode to from the decode the redaction made (`PacketDecoder.deriveDecoding`).
/// Checked on every packet of both corpora (real traffic, and tcpdump's malformed captures) under
/// rules that cut, rename and mask: what it hands back is exactly what decoding the redacted bytes
/// gives, so the summary's addresses and lengths stay the pcap's.
struct DerivedDecodingTests {
    static let ruleSets: [(String, RedactionRules)] = [
        ("payload dropped", RedactionRules(payload: .drop)),
        ("payload kept, addresses renamed", RedactionRules(payload: .keep, pseudonymizeAddresses: true, key: CryptoPAnTests.key)),
        ("8 bytes kept, addresses renamed but 10/8's", RedactionRules(payload: .truncate(8), pseudonymizeAddresses: true,
                                                                      keepNetworks: [try? CIDR.parse("10.0.0.0/8").get()].compactMap { $0 },
                                                                      key: CryptoPAnTests.key)),
        ("MACs renamed, a pattern masked", RedactionRules(payload: .keep, macs: .pseudonymize, scrub: ["[Hh][Oo][Ss][Tt]: [^\\r\\n]*"],
                                                          key: CryptoPAnTests.key)),
    ]

    @Test(arguments: 0..<ruleSets.count)
    func theDecodingHandedBackIsTheRedactedBytesDecoding(_ index: Int) throws {
        let (name, rules) = Self.ruleSets[index]
        var packets = 0, derived = 0, disagreements = 0
        for folder in ["zeek", "tcpdump-tests"] {
            for file in try Corpus.captures(in: folder) {
                guard let reader = try? openCaptureFile(file), let decoder = try? PacketDecoder(linkType: reader.linkType),
                      let redactor = try? Redactor(rules: rules, linkType: reader.linkType, snaplen: 65_535) else { continue }
                while let packet = try? reader.next() {
                    packets += 1
                    var decoded = DecodedPacket()
                    guard let redacted = redactor.redactDecoded(packet, into: &decoded) else { continue }
                    let again = decoder.decode(redacted.bytes)
                    if decoded != again {
                        disagreements += 1
                        // The first few in full; the count below says how many.
                        if disagreements <= 3 { #expect(decoded == again, "\(name): \(file) packet \(packets)") }
                    }
                    var derivable = decoder.decode(UnsafeRawBufferPointer(rebasing: packet.bytes.prefix(65_536 + 64)))
                    if decoder.deriveDecoding(&derivable, of: redacted.bytes, addressesRewritten: rules.pseudonymizeAddresses) {
                        derived += 1
                    }
                    if !rules.pseudonymizeAddresses, rules.macs == .keep, rules.scrub.isEmpty {
                        // Nothing rewritten: the redacted packet is the packet's own bytes, cut short.
                        #expect(redacted.bytes.baseAddress == packet.bytes.baseAddress && redacted.bytes.count <= packet.bytes.count)
                    }
                }
            }
        }
        #expect(disagreements == 0, "\(name): \(disagreements) of \(packets) packets")
        // Most packets of real traffic are TCP segments whose decoding is worked out, not redone.
        #expect(derived > packets / 3, "\(name): \(derived) of \(packets) packets derived")
    }

    /// The edges that must be decoded again: an IPv4 total length of 0 (TSO on the capturing host),
    /// where the segment ends where the capture does, so cutting the payload changes its length.
    @Test func aSegmentWhoseLengthComesFromTheCaptureIsDecodedAgain() throws {
        let decoder = try PacketDecoder(linkType: 1)
        var frame = [UInt8](repeating: 0, count: 14 + 20 + 20 + 100)
        frame[12] = 0x08
        frame[14] = 0x45  // IPv4, 20-byte header; total length left 0
        frame[14 + 9] = 6  // TCP
        frame[34 + 12] = 0x50  // 20-byte TCP header
        frame[34 + 13] = 0x18  // PSH ACK
        let rules = RedactionRules(payload: .drop)
        let redactor = try Redactor(rules: rules, linkType: 1, snaplen: 65_535)
        try frame.withUnsafeBytes { bytes in
            let packet = RawPacket(timestamp: Timestamp(nanoseconds: 0), originalLength: bytes.count, bytes: bytes)
            var before = decoder.decode(bytes)
            #expect(before.payloadLength == 100)
            var decoded = DecodedPacket()
            let redacted = try #require(redactor.redactDecoded(packet, into: &decoded))
            #expect(redacted.bytes.count == 54)
            #expect(!decoder.deriveDecoding(&before, of: redacted.bytes, addressesRewritten: false))
            #expect(decoded == decoder.decode(redacted.bytes) && decoded.payloadLength == 0)
        }
    }
}
