import CapplanPackets

/// Packets and bytes per address, for the top talkers: each connection adds its two ends as it is
/// summarised. A Dictionary hashed each address with SipHash, about 200 instructions a lookup and
/// two lookups a connection; here an address is two words, hashed with the table's secret
/// (`TableSecret`) and looked up by open addressing.
struct TalkerTable: Sendable {
    private var addresses: [IPAddress] = []
    private var sums: [ConnectionAnalyzer.Talker] = []
    /// Index + 1 into `addresses`; 0 is empty. At most half full.
    private var slots = [Int32](repeating: 0, count: 256)
    private let secret = TableSecret()

    mutating func add(_ address: IPAddress, packets: Int, bytes: Int64) {
        let index = self.index(of: address)
        sums[index].add(packets: packets, bytes: bytes)
    }

    /// Adds another table's sums to these.
    mutating func merge(_ other: TalkerTable) {
        for (address, sum) in zip(other.addresses, other.sums) { add(address, packets: sum.packets, bytes: sum.bytes) }
    }

    var dictionary: [IPAddress: ConnectionAnalyzer.Talker] { Dictionary(uniqueKeysWithValues: zip(addresses, sums)) }

    /// The address's place in `addresses`, added with nothing counted when it is new.
    private mutating func index(of address: IPAddress) -> Int {
        let mask = slots.count - 1
        var slot = home(address) & mask
        while slots[slot] != 0 {
            let index = Int(slots[slot]) - 1
            if addresses[index] == address { return index }
            slot = (slot + 1) & mask
        }
        slots[slot] = Int32(truncatingIfNeeded: addresses.count + 1)
        addresses.append(address)
        sums.append(ConnectionAnalyzer.Talker())
        if addresses.count * 2 > slots.count { grow() }
        return addresses.count - 1
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (index, address) in addresses.enumerated() {
            var slot = home(address) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(truncatingIfNeeded: index + 1)
        }
    }

    @inline(__always)
    private func home(_ address: IPAddress) -> Int {
        Int(truncatingIfNeeded: secret.hash(address.high, address.low, address.isIPv6 ? 1 : 0, 0, 0))
    }
}
