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

    /// Endpoints are ordered word by word (for speed) exactly as the tuple `(address, port)` orders
    /// them: IPv4 before IPv6, then the address, then the port; equal addresses come up often.
    @Test func endpointsOrderAsTheirAddressAndPortTuples() {
        var random = SplitMix64(seed: 5)
        func endpoint() -> Endpoint {
            let word = random.next() % 6
            let address = random.next() % 2 == 0 ? IPAddress(ipv4: UInt32(word)) : IPAddress(ipv6High: random.next() % 3, low: word)
            return Endpoint(address: address, port: UInt16(random.next() % 4))
        }
        for _ in 0..<20_000 {
            let (a, b) = (endpoint(), endpoint())
            #expect((a < b) == ((a.address, a.port) < (b.address, b.port)), "\(a) \(b)")
        }
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

    /// Keys crafted to share a hash: IPv6 servers whose address halves cancel in a hash that
    /// combines the key's words linearly before mixing them, as the table's did until 2026-12
    /// (`lowHalf * 0x27D4EB2F165667C5 ^ highHalf`, the same for every key here). A per-run seed
    /// xored into such a hash does not part them: every key took the same home, each lookup
    /// walked all the keys before it, and a capture of such flows took quadratic time. Each key
    /// must still be found in a few probes.
    @Test func keysCraftedToCollideDoNotPileUp() {
        let client = Endpoint(address: IPAddress(ipv6High: 0x2001_0DB8 << 32, low: 1), port: 40000)
        let keys = (1...4000 as ClosedRange<UInt64>).map { half in
            let server = IPAddress(ipv6High: 0x2001_0DB8_0000_0000 ^ half &* 0x27D4_EB2F_1656_67C5, low: half)
            return FlowKey(source: client, destination: Endpoint(address: server, port: 443), proto: 6)
        }
        var table = FlowTable()
        for (slot, key) in keys.enumerated() { table.insert(key, slot) }
        let probes = keys.map { table.probes($0) }
        #expect(keys.enumerated().allSatisfy { table.find($1) == $0 })
        // At most half full, a good hash averages under two probes a key.
        #expect(Double(probes.reduce(0, +)) / Double(keys.count) < 4, "mean probes")
        #expect(probes.max() ?? 0 < 64, "longest probe run")
    }

    /// The hash the path's tables use as well (connection views, key packets): pairs of words
    /// that a linear hash with known multipliers sends to one value spread over 8192 homes about
    /// as 4000 random keys would (3160 distinct ones on average).
    @Test func theKeyedHashSpreadsPairsALinearHashJoins() {
        let secret = TableSecret()
        let homes = Set((1...4000 as ClosedRange<UInt64>).map { a in
            secret.hash(a, 0x9E37_79B9_7F4A_7C15 ^ a &* 0xC2B2_AE3D_27D4_EB4F, 0, 0, 0) & 8191
        })
        #expect(homes.count > 2900)
    }

    /// The keys of an ordinary busy capture (many clients in one subnet, ports counting up, one
    /// server) spread as well.
    @Test func orderlyKeysSpread() {
        let server = Endpoint(address: IPAddress(ipv4: 0xCB00_7114), port: 443)
        let keys = (0..<20_000 as Range<UInt32>).map { n in
            FlowKey(source: Endpoint(address: IPAddress(ipv4: 0x0AF4_0000 | n >> 4), port: UInt16(32768 + n % 16)), destination: server, proto: 6)
        }
        var table = FlowTable()
        for (slot, key) in keys.enumerated() { table.insert(key, slot) }
        let probes = keys.map { table.probes($0) }
        #expect(Double(probes.reduce(0, +)) / Double(keys.count) < 4, "mean probes")
        #expect(probes.max() ?? 0 < 64, "longest probe run")
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
