import CapplanPackets

/// Flow key → flow slot, as an open-addressing table with linear probing and
/// backward-shift deletion. It replaces Dictionary on the per-packet path, where
/// SipHash over seven fields cost more than the rest of a lookup. Its hash is keyed by a
/// random secret per table (`TableSecret`), so a crafted capture cannot line its flows up.
struct FlowTable: Sendable {
    /// A key packed beside its slot: a probe reads one entry of 48 bytes, not a slot array and a
    /// key array apart (two cache misses when flows are many). A `FlowKey` alone takes 48 bytes.
    private struct Entry {
        var packed: PackedFlowKey
        var slot: Int32  // -1: empty

        init(_ key: FlowKey, slot: Int32) {
            packed = PackedFlowKey(key)
            self.slot = slot
        }

        var key: FlowKey { packed.key }
    }

    private var table: [Entry]
    /// An entry's size in the table.
    static var entryStride: Int { MemoryLayout<Entry>.stride }
    private var mask: Int
    private let secret = TableSecret()
    private(set) var count = 0
    /// The key `findRecent` found last and its slot (-1: none): a bulk transfer's packets come one
    /// flow's after another, and comparing a key costs less than hashing it and probing.
    private var recentKey = FlowTable.placeholder
    private var recentSlot: Int32 = -1

    private static let placeholder = FlowKey(source: Endpoint(address: .init(ipv4: 0), port: 0),
                                             destination: Endpoint(address: .init(ipv4: 0), port: 0), proto: 0)

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        table = Self.empty(size)
        mask = size - 1
    }

    private static func empty(_ size: Int) -> [Entry] { Array(repeating: Entry(placeholder, slot: -1), count: size) }

    @inline(__always)
    private func home(_ key: FlowKey) -> Int {
        let h = secret.hash(key.low.address.low, key.low.address.high, key.high.address.low, key.high.address.high,
                            UInt64(key.low.port) << 32 | UInt64(key.high.port) << 8 | UInt64(key.proto))
        return Int(truncatingIfNeeded: h) & mask
    }

    @inline(__always)
    func find(_ key: FlowKey) -> Int? {
        var index = home(key)
        let rest = PackedFlowKey.rest(key)
        while table[index].slot >= 0 {
            if table[index].packed.holds(key, rest: rest) { return Int(table[index].slot) }
            index = (index + 1) & mask
        }
        return nil
    }

    /// How many entries `find` reads for this key (the tests' measure of how well keys spread).
    func probes(_ key: FlowKey) -> Int {
        var (index, count) = (home(key), 1)
        let rest = PackedFlowKey.rest(key)
        while table[index].slot >= 0, !table[index].packed.holds(key, rest: rest) {
            index = (index + 1) & mask
            count += 1
        }
        return count
    }

    /// `find`, remembering the answer for the next packet.
    @inline(__always)
    mutating func findRecent(_ key: FlowKey) -> Int? {
        if recentSlot >= 0, key == recentKey { return Int(recentSlot) }
        guard let slot = find(key) else { return nil }
        (recentKey, recentSlot) = (key, Int32(truncatingIfNeeded: slot))
        return slot
    }

    /// Inserts a key that is not in the table.
    mutating func insert(_ key: FlowKey, _ slot: Int) {
        if (count + 1) * 2 > mask + 1 { grow() }
        place(Entry(key, slot: Int32(slot)), from: home(key))
        count += 1
    }

    /// Puts an entry in the first empty place from its home on.
    private mutating func place(_ entry: Entry, from home: Int) {
        var index = home
        while table[index].slot >= 0 { index = (index + 1) & mask }
        table[index] = entry
    }

    /// Removes a key, shifting later entries of its probe run back so lookups stay correct.
    mutating func remove(_ key: FlowKey) {
        if key == recentKey { recentSlot = -1 }
        var index = home(key)
        let rest = PackedFlowKey.rest(key)
        while table[index].slot >= 0, !table[index].packed.holds(key, rest: rest) { index = (index + 1) & mask }
        guard table[index].slot >= 0 else { return }
        table[index].slot = -1
        count -= 1
        var next = (index + 1) & mask
        while table[next].slot >= 0 {
            let natural = home(table[next].key)
            // Move the entry back if its home is not in (index, next] (cyclically).
            let between = index <= next ? (natural > index && natural <= next) : (natural > index || natural <= next)
            if !between {
                table[index] = table[next]
                table[next].slot = -1
                index = next
            }
            next = (next + 1) & mask
        }
    }

    /// Every (key, slot), in no particular order.
    func entries() -> [(key: FlowKey, slot: Int)] {
        table.compactMap { $0.slot >= 0 ? ($0.key, Int($0.slot)) : nil }
    }

    /// Twice the room, the entries moved straight from the old table: a list of them made first
    /// was as large again, and faulted in anew at every doubling.
    private mutating func grow() {
        let old = table
        table = Self.empty((mask + 1) * 2)
        mask = table.count - 1
        for entry in old where entry.slot >= 0 { place(entry, from: home(entry.key)) }
    }
}

/// A flow key in five words, as the tables keep and compare it: each address's two halves, and
/// the ports, the protocol and the two families in one word. Comparing these costs a fraction of
/// comparing `FlowKey`s field by field.
struct PackedFlowKey: Equatable {
    var lowAddress: (UInt64, UInt64)
    var highAddress: (UInt64, UInt64)
    /// The low endpoint's port, the high one's, the protocol and the two addresses' families.
    var rest: UInt64

    @inline(__always)
    init(_ key: FlowKey) {
        lowAddress = (key.low.address.high, key.low.address.low)
        highAddress = (key.high.address.high, key.high.address.low)
        rest = Self.rest(key)
    }

    @inline(__always)
    static func rest(_ key: FlowKey) -> UInt64 {
        UInt64(key.low.port) | UInt64(key.high.port) << 16 | UInt64(key.proto) << 32
            | (key.low.address.isIPv6 ? 1 << 40 : 0) | (key.high.address.isIPv6 ? 1 << 41 : 0)
    }

    /// Whether this is `key`, whose `rest` the caller worked out once for several probes.
    @inline(__always)
    func holds(_ key: FlowKey, rest: UInt64) -> Bool {
        self.rest == rest && lowAddress.1 == key.low.address.low && highAddress.1 == key.high.address.low
            && lowAddress.0 == key.low.address.high && highAddress.0 == key.high.address.high
    }

    @inline(__always)
    static func == (a: PackedFlowKey, b: PackedFlowKey) -> Bool {
        a.rest == b.rest && a.lowAddress.1 == b.lowAddress.1 && a.highAddress.1 == b.highAddress.1
            && a.lowAddress.0 == b.lowAddress.0 && a.highAddress.0 == b.highAddress.0
    }

    var key: FlowKey {
        func endpoint(_ parts: (UInt64, UInt64), v6: Bool, port: UInt64) -> Endpoint {
            var address = IPAddress(ipv4: 0)
            (address.high, address.low, address.isIPv6) = (parts.0, parts.1, v6)
            return Endpoint(address: address, port: UInt16(truncatingIfNeeded: port))
        }
        // Low and high come back in their order: the key is put together as it was.
        return FlowKey(source: endpoint(lowAddress, v6: rest >> 40 & 1 == 1, port: rest),
                       destination: endpoint(highAddress, v6: rest >> 41 & 1 == 1, port: rest >> 16),
                       proto: UInt8(truncatingIfNeeded: rest >> 32))
    }
}

/// Which of `count` shares of the flows a flow belongs to: a hash of its addresses and ports that
/// is the same both ways. The two-thread analysis splits flows by it (`AnalysisShards`), and the
/// open-flow limit is kept per share, so both decide the same for a flow whichever thread has it.
enum FlowBucket {
    static let count = 8

    /// ICMP flows go by addresses alone: their "ports" are message types, and an ICMP packet's share is decided before that.
    static func of(_ key: FlowKey) -> Int {
        let ports = key.proto == 6 || key.proto == 17
        return Int(of(key.low.address, key.low.port, key.high.address, key.high.port, ports: ports))
    }

    @inline(__always)
    static func of(_ source: IPAddress, _ sourcePort: UInt16, _ destination: IPAddress, _ destinationPort: UInt16, ports: Bool) -> UInt64 {
        func endpoint(_ address: IPAddress, _ port: UInt16) -> UInt64 {
            var h = (address.low ^ address.high &* 0x9E37_79B9_7F4A_7C15) &+ (ports ? UInt64(port) << 48 : 0)
            h ^= h >> 31
            h &*= 0xBF58_476D_1CE4_E5B9
            return h ^ (h >> 29)
        }
        var h = endpoint(source, sourcePort) &+ endpoint(destination, destinationPort)
        h ^= h >> 32
        h &*= 0x94D0_49BB_1331_11EB
        h ^= h >> 29
        return h % UInt64(count)
    }
}
