@testable import CapplanAnalyse
import CapplanPackets
import CapplanTestSupport
import Testing

/// The open-addressing flow table agrees with Dictionary over random inserts and removals,
/// growth included (backward-shift deletion is the part that is easy to get wrong), and so does
/// `findRecent`'s remembered answer across removals and new slots for the same key.
struct FlowTableTests {
    @Test func agreesWithDictionary() {
        var table = FlowTable(capacity: 4)
        var reference: [FlowKey: Int] = [:]
        var random = SplitMix64(seed: 7)
        func key(_ n: UInt64) -> FlowKey {
            FlowKey(source: Endpoint(address: IPAddress(ipv4: UInt32(truncatingIfNeeded: n % 50)), port: UInt16(truncatingIfNeeded: n % 7)),
                    destination: Endpoint(address: IPAddress(ipv4: 0xCB00_7114), port: 443), proto: 6)
        }
        for step in 0..<20_000 {
            let candidate = key(random.next() % 400)
            if reference[candidate] != nil, random.next() % 3 == 0 {
                table.remove(candidate)
                reference[candidate] = nil
            } else if reference[candidate] == nil {
                table.insert(candidate, step)
                reference[candidate] = step
            }
            let probe = key(random.next() % 400)
            #expect(table.find(probe) == reference[probe], "step \(step)")
            // The remembered answer: the key just changed, asked twice, and again after the probe.
            #expect(table.findRecent(candidate) == reference[candidate], "step \(step), recent")
            #expect(table.findRecent(candidate) == reference[candidate], "step \(step), recent again")
            #expect(table.findRecent(probe) == reference[probe], "step \(step), recent probe")
        }
        #expect(table.count == reference.count)
        #expect(Set(table.entries().map(\.slot)) == Set(reference.values))
    }
}
