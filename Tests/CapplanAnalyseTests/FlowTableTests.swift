@testable import CapplanAnalyse
import CapplanPackets
import CapplanTestSupport
import Testing

/// The open-addressing flow table agrees with Dictionary over random inserts and removals,
/// growth included (backward-shift deletion is the part that is easy to get wrong), and so does
/// `findRecent`'s remembered answer across removals and new slots for the same key.
struct FlowTableTests {
    /// A probe reads one entry, key and slot: 48 bytes, no larger than a key alone.
    @Test func anEntryIsTheSizeOfAKey() {
        #expect(FlowTable.entryStride == 48)
        #expect(FlowTable.entryStride <= MemoryLayout<FlowKey>.stride)
    }

    @Test func agreesWithDictionary() {
        var table = FlowTable(capacity: 4)
        var reference: [FlowKey: Int] = [:]
        var random = SplitMix64(seed: 7)
        for step in 0..<20_000 {
            let candidate = Self.key(random.next())
            if reference[candidate] != nil, random.next() % 3 == 0 {
                table.remove(candidate)
                reference[candidate] = nil
            } else if reference[candidate] == nil {
                table.insert(candidate, step)
                reference[candidate] = step
            }
            let probe = Self.key(random.next())
            #expect(table.find(probe) == reference[probe], "step \(step)")
            // The remembered answer: the key just changed, asked twice, and again after the probe.
            #expect(table.findRecent(candidate) == reference[candidate], "step \(step), recent")
            #expect(table.findRecent(candidate) == reference[candidate], "step \(step), recent again")
            #expect(table.findRecent(probe) == reference[probe], "step \(step), recent probe")
        }
        #expect(table.count == reference.count)
        #expect(table.entries().count == reference.count)
        #expect(Dictionary(table.entries().map { ($0.key, $0.slot) }, uniquingKeysWith: { first, _ in first }) == reference)
    }

    /// Small tables, so that keys alike but for one field often share a probe run: each is told apart.
    @Test func keysAlikeButForOneFieldAreToldApart() {
        var random = SplitMix64(seed: 11)
        for round in 0..<500 {
            var table = FlowTable(capacity: 4)
            var reference: [FlowKey: Int] = [:]
            for slot in 0..<7 {
                let key = Self.key(random.next())
                if reference[key] == nil {
                    table.insert(key, slot)
                    reference[key] = slot
                }
            }
            for n in 0..<270 {
                let key = Self.key(UInt64(n))
                #expect(table.find(key) == reference[key], "round \(round), \(key)")
            }
        }
    }

    // 270 keys, each a choice of source address (0.0.0.s, ::s or 2001:db8::s), port, server
    // (IPv4, or one of two IPv6 addresses that differ in their upper half) and protocol: each
    // field an entry packs, in either endpoint, tells some two keys apart.
    static func key(_ random: UInt64) -> FlowKey {
        var n = random % 270
        func digit(_ base: UInt64) -> UInt64 {
            defer { n /= base }
            return n % base
        }
        let s = digit(5)
        let sources = [IPAddress(ipv4: UInt32(s)), IPAddress(ipv6High: 0, low: s), IPAddress(ipv6High: 0x2001_0DB8 << 32, low: s)]
        let source = sources[Int(digit(3))]
        let port = UInt16(digit(3))
        let servers = [IPAddress(ipv4: 0xCB00_7114), IPAddress(ipv6High: 0x2001_0DB8 << 32, low: 0xCB00_7114),
                       IPAddress(ipv6High: 0x2001_0DB8 << 32 | 1, low: 0xCB00_7114)]
        let server = servers[Int(digit(3))]
        return FlowKey(source: Endpoint(address: source, port: port), destination: Endpoint(address: server, port: 443),
                       proto: digit(2) == 0 ? 6 : 17)
    }
}
