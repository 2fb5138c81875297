@testable import CapplanAnalyse
import CapplanTestSupport
import Testing

/// The ring that tells a copy of a packet (seen on a second interface) from the packet: it agrees
/// with a plain list of the last eight over random signatures, times and interfaces, with many
/// signatures that share the byte its quick look compares.
struct RecentPacketsTests {
    @Test func agreesWithTheLastEightKeptInAList() {
        var ring = RecentPackets()
        var kept: [(signature: UInt64, time: Int64, interface: Int32)] = []
        var random = SplitMix64(seed: 11)
        var found = 0
        for step in 0..<50_000 {
            // Few distinct signatures, so lookups hit; the high bits vary, so tags collide too.
            let signature = (random.next() % 24) << 40 | random.next() % 3
            let time = Int64(step) * 300_000 + Int64(random.next() % 200_000)
            let interface = Int32(random.next() % 3) - 1
            let expected = kept.contains { $0.signature == signature && abs(time - $0.time) < 1_000_000 && (interface < 0 || interface != $0.interface) }
            #expect(ring.contains(signature, time: time, interface: interface) == expected, "step \(step)")
            if expected { found += 1 }
            ring.add(signature, time: time, interface: interface)
            kept.append((signature, time, interface))
            if kept.count > RecentPackets.size { kept.removeFirst() }
        }
        #expect(found > 1000, "the walk found copies")
    }

    @Test func anEmptyRingHoldsNothingNotEvenSignatureZero() {
        #expect(!RecentPackets().contains(0, time: 0, interface: -1))
    }
}
