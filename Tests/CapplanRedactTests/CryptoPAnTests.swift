import CapplanPackets
@testable import CapplanRedact
import CapplanTestSupport
import Testing

struct CryptoPAnTests {
    /// The key of the reference distribution's sample.
    static let key: [UInt8] = [21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
                               216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2]

    /// Pairs from the reference distribution's sample trace (sample_trace_raw.dat → sample_trace_sanitized.dat).
    static let vectors: [(String, String)] = [
        ("128.11.68.132", "135.242.180.132"), ("24.5.0.80", "100.9.15.210"),
        ("129.118.74.4", "134.136.186.123"), ("130.132.252.244", "133.68.164.234"),
        ("141.223.7.43", "141.167.8.160"), ("141.233.145.108", "141.129.237.235"),
        ("152.163.225.39", "151.140.114.167"), ("156.29.3.236", "147.225.12.42"),
        ("165.247.96.84", "162.9.99.234"), ("166.107.77.190", "160.132.178.185"),
        ("192.102.249.13", "252.138.62.131"), ("192.215.32.125", "252.43.47.189"),
    ]

    @Test func reproducesTheReferenceMapping() throws {
        let pan = try CryptoPAn(key: Self.key)
        for (original, expected) in Self.vectors {
            let anonymized = pan.anonymize(try #require(IPAddress(original)))
            #expect(anonymized.description == expected, "\(original)")
        }
    }

    /// Prefix preservation on random pairs: a shared n-bit prefix stays exactly n bits.
    @Test(arguments: [false, true])
    func preservesPrefixes(_ ipv6: Bool) throws {
        var random = SplitMix64(seed: ipv6 ? 6 : 4)
        let pan = try CryptoPAn(key: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
        for _ in 0..<(ipv6 ? 60 : 400) {
            let a = ipv6 ? IPAddress(ipv6High: random.next(), low: random.next()) : IPAddress(ipv4: UInt32(truncatingIfNeeded: random.next()))
            // b shares a random-length prefix with a, then differs in the next bit.
            let shared = Int(random.next() % UInt64(a.bitCount))
            var b = a.masked(to: shared)
            let tail = ipv6 ? IPAddress(ipv6High: random.next(), low: random.next()) : IPAddress(ipv4: UInt32(truncatingIfNeeded: random.next()))
            b.high |= tail.high & ~a.masked(to: shared).high & (shared >= 64 ? ~0 : UInt64.max >> UInt64(shared))
            b = Self.flip(b, bit: shared, from: a)
            let (x, y) = (pan.anonymize(a), pan.anonymize(b))
            #expect(Self.commonPrefix(a, b) == shared)
            #expect(Self.commonPrefix(x, y) == shared, "\(a) \(b) -> \(x) \(y)")
        }
    }

    static func commonPrefix(_ a: IPAddress, _ b: IPAddress) -> Int {
        let (x, y) = (a.bytes, b.bytes)
        for bit in 0..<(x.count * 8) where (x[bit / 8] ^ y[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 { return bit }
        return x.count * 8
    }

    /// `address` with bit `bit` set opposite to `reference`'s, and the bits before it equal to reference's.
    static func flip(_ address: IPAddress, bit: Int, from reference: IPAddress) -> IPAddress {
        var bytes = reference.bytes
        let other = address.bytes
        for index in 0..<(bytes.count * 8) where index > bit {
            let mask = UInt8(0x80) >> UInt8(index % 8)
            bytes[index / 8] = (bytes[index / 8] & ~mask) | (other[index / 8] & mask)
        }
        bytes[bit / 8] ^= UInt8(0x80) >> UInt8(bit % 8)
        if bytes.count == 4 { return IPAddress(ipv4: bytes.reduce(0) { $0 << 8 | UInt32($1) }) }
        return IPAddress(ipv6High: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }
}
