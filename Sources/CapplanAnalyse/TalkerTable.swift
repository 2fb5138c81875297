import CapplanPackets

/// Packets and bytes per address, for the top talkers: each connection adds its two ends as it is
/// summarised. A Dictionary hashed each address with SipHash, about 200 instructions a lookup and
/// two lookups a connection; here an address is two words, hashed with the table's secret
/// (`TableSecret`) and looked up by open addressing.
struct TalkerTable: Sendable {
    private var addresses = NumberedKeys<IPAddress>(slots: 256)
    /// By the address's number.
    private var sums: [ConnectionAnalyzer.Talker] = []

    mutating func add(_ address: IPAddress, packets: Int, bytes: Int64) {
        guard let (index, isNew) = addresses.number(address) else { return }
        if isNew { sums.append(ConnectionAnalyzer.Talker()) }
        sums[index].add(packets: packets, bytes: bytes)
    }

    /// Adds another table's sums to these.
    mutating func merge(_ other: TalkerTable) {
        for (address, sum) in zip(other.addresses.keys, other.sums) { add(address, packets: sum.packets, bytes: sum.bytes) }
    }

    var dictionary: [IPAddress: ConnectionAnalyzer.Talker] { Dictionary(uniqueKeysWithValues: zip(addresses.keys, sums)) }
}

extension IPAddress: SecretHashable {
    func hash(with secret: TableSecret) -> UInt64 { secret.hash(high, low, isIPv6 ? 1 : 0, 0, 0) }
}
