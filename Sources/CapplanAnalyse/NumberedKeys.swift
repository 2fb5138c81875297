/// A key the analysis's open-addressing tables can hash with their secret (`TableSecret`).
protocol SecretHashable: Equatable {
    func hash(with secret: TableSecret) -> UInt64
}

/// Keys numbered 0, 1, 2… in the order they were first seen, each found again by open addressing
/// over the numbers (kept at most half full). For tables that look a key up for every packet or
/// connection and keep what they learn about it in arrays by number: the path's connection views,
/// the top talkers.
struct NumberedKeys<Key: SecretHashable> {
    private(set) var keys: [Key] = []
    /// Number + 1; 0 is empty.
    private var slots: [Int32]
    private let secret = TableSecret()

    init(slots: Int = 1024) {
        var size = 16
        while size < slots { size <<= 1 }
        self.slots = [Int32](repeating: 0, count: size)
    }

    var count: Int { keys.count }

    /// The key's number, and whether it was numbered just now; nil for a new key once `limit` are
    /// numbered.
    @inline(__always)
    mutating func number(_ key: Key, limit: Int = .max) -> (number: Int, isNew: Bool)? {
        let mask = slots.count - 1
        var slot = home(key) & mask
        while slots[slot] != 0 {
            let number = Int(slots[slot]) - 1
            if keys[number] == key { return (number, false) }
            slot = (slot + 1) & mask
        }
        guard keys.count < limit, keys.count < Int(Int32.max) - 1 else { return nil }
        slots[slot] = Int32(keys.count + 1)
        keys.append(key)
        if keys.count * 2 > slots.count { grow() }
        return (keys.count - 1, true)
    }

    mutating func reserve(_ count: Int) { keys.reserveCapacityInHugePages(count) }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (number, key) in keys.enumerated() {
            var slot = home(key) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(number + 1)
        }
    }

    @inline(__always)
    private func home(_ key: Key) -> Int { Int(truncatingIfNeeded: key.hash(with: secret)) }
}

extension NumberedKeys: Sendable where Key: Sendable {}
