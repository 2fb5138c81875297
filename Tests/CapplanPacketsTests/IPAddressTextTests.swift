import CapplanPackets
import CapplanTestSupport
import Glibc
import Testing

/// An IPv4 address's text is written by hand rather than by inet_ntop: it agrees with inet_ntop
/// on every value of each octet in each position and on random addresses, and reads back.
struct IPAddressTextTests {
    @Test func ipv4TextIsInetNtopsText() {
        var random = SplitMix64(seed: 3)
        var addresses: [UInt32] = [0, 0xFFFF_FFFF]
        for position in 0..<4 {
            for octet in 0..<256 { addresses.append(UInt32(octet) << UInt32(8 * position) | 0x0A00_0001 & ~(0xFF << UInt32(8 * position))) }
        }
        addresses += (0..<2000).map { _ in UInt32(truncatingIfNeeded: random.next()) }
        for value in addresses {
            let address = IPAddress(ipv4: value)
            #expect(address.description == Self.inetNtop(value), "\(value)")
            #expect(IPAddress(address.description) == address)
        }
    }

    static func inetNtop(_ value: UInt32) -> String {
        var address = in_addr(s_addr: value.bigEndian)
        var text = [CChar](repeating: 0, count: 16)
        _ = inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
