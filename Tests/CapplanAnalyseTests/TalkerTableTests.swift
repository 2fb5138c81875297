@testable import CapplanAnalyse
import CapplanPackets
import CapplanTestSupport
import Testing

/// The top talkers' table sums as a Dictionary would, through its growth, telling an IPv4 address
/// from the IPv6 address with the same words, and merges as Dictionary's `merge` adds.
struct TalkerTableTests {
    @Test func sumsAsADictionaryWould() {
        var table = TalkerTable(), other = TalkerTable()
        var reference: [IPAddress: ConnectionAnalyzer.Talker] = [:], otherReference = reference
        var random = SplitMix64(seed: 11)
        for step in 0..<5_000 {
            // Few enough addresses that most come again; the tables grow several times.
            let word = random.next() % 700
            let address = word % 2 == 0 ? IPAddress(ipv4: UInt32(word)) : IPAddress(ipv6High: 0, low: word - 1)
            let (packets, bytes) = (Int(random.next() % 9) + 1, Int64(random.next() % 1_500))
            if step % 3 == 0 {
                other.add(address, packets: packets, bytes: bytes)
                otherReference[address, default: .init()].add(packets: packets, bytes: bytes)
            } else {
                table.add(address, packets: packets, bytes: bytes)
                reference[address, default: .init()].add(packets: packets, bytes: bytes)
            }
        }
        #expect(table.dictionary == reference)
        #expect(reference.keys.contains(IPAddress(ipv4: 2)) && reference.keys.contains(IPAddress(ipv6High: 0, low: 2)))
        table.merge(other)
        reference.merge(otherReference) { .init(packets: $0.packets + $1.packets, bytes: $0.bytes + $1.bytes) }
        #expect(table.dictionary == reference)
    }
}
