import CapplanPackets

/// Up to three checksum fields that cover a change, without an array.
struct ChecksumFields {
    var first = -1, second = -1, third = -1

    mutating func add(_ field: Int) {
        if first < 0 { first = field } else if second < 0 { second = field } else { third = field }
    }
}

/// A packet being rewritten in place, with the Internet checksums that cover each
/// changed 16-bit word updated incrementally (RFC 1624, eqn. 3). A checksum that was
/// valid stays valid; one that was already wrong (offload on the capturing host)
/// stays wrong by the same amount: nothing is recomputed over bytes not captured.
struct PacketBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    var count: Int
    var checksumsUpdated = 0

    @inline(__always) func has(_ offset: Int, _ length: Int) -> Bool { offset >= 0 && offset + length <= count }

    @inline(__always) func word(_ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    @inline(__always) mutating func setWord(_ offset: Int, _ value: UInt16) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(value & 0xFF)
    }

    /// Replaces the bytes at `offset` and updates every checksum field in `checksums`
    /// (offsets of 16-bit fields; those not captured are skipped). A byte's place in its
    /// 16-bit word is its parity relative to `base` (the network header: every header
    /// after it starts an even number of bytes in). `zeroMeansNone` is a checksum field
    /// for which 0 means "no checksum" (UDP over IPv4).
    mutating func replace(at offset: Int, with new: [UInt8], base: Int, checksums: [Int], zeroMeansNone: Int = -1) {
        guard has(offset, new.count) else { return }
        var oldSum: UInt32 = 0, newSum: UInt32 = 0
        for (index, byte) in new.enumerated() {
            let position = offset + index
            let shift: UInt32 = (position - base) & 1 == 0 ? 8 : 0
            oldSum += UInt32(bytes[position]) << shift
            newSum += UInt32(byte) << shift
            bytes[position] = byte
        }
        guard oldSum != newSum else { return }
        for field in checksums where has(field, 2) {
            adjust(field, oldSum: oldSum, newSum: newSum, zeroMeansNone: field == zeroMeansNone)
        }
    }

    /// Replaces an address (4 or 16 bytes, always at an even offset from `base`) without
    /// allocating: this runs for every packet when addresses are pseudonymized.
    mutating func replaceAddress(at offset: Int, with address: IPAddress, base: Int, checksums: ChecksumFields, zeroMeansNone: Int = -1) {
        let length = address.isIPv6 ? 16 : 4
        guard has(offset, length) else { return }
        var oldSum: UInt32 = 0, newSum: UInt32 = 0
        var index = 0
        while index < length {
            let new: UInt16
            if address.isIPv6 {
                let half = index < 8 ? address.high : address.low
                new = UInt16(truncatingIfNeeded: half >> UInt64(48 - 8 * (index % 8)))
            } else {
                new = UInt16(truncatingIfNeeded: address.low >> UInt64(16 - 8 * index))
            }
            oldSum += UInt32(word(offset + index))
            newSum += UInt32(new)
            setWord(offset + index, new)
            index += 2
        }
        guard oldSum != newSum else { return }
        if checksums.first >= 0, has(checksums.first, 2) {
            adjust(checksums.first, oldSum: oldSum, newSum: newSum, zeroMeansNone: checksums.first == zeroMeansNone)
        }
        if checksums.second >= 0, has(checksums.second, 2) {
            adjust(checksums.second, oldSum: oldSum, newSum: newSum, zeroMeansNone: checksums.second == zeroMeansNone)
        }
        if checksums.third >= 0, has(checksums.third, 2) {
            adjust(checksums.third, oldSum: oldSum, newSum: newSum, zeroMeansNone: checksums.third == zeroMeansNone)
        }
    }

    /// HC' = ~(~HC + ~m + m'), with m and m' the one's complement sums of the old and new words.
    mutating func adjust(_ field: Int, oldSum: UInt32, newSum: UInt32, zeroMeansNone: Bool = false) {
        let current = word(field)
        if zeroMeansNone && current == 0 { return }
        var sum = UInt32(~current) + Self.fold(~Self.fold(oldSum) & 0xFFFF) + Self.fold(newSum)
        sum = Self.fold(sum)
        var result = ~UInt16(truncatingIfNeeded: sum)
        if zeroMeansNone && result == 0 { result = 0xFFFF }
        setWord(field, result)
        checksumsUpdated += 1
    }

    @inline(__always) static func fold(_ value: UInt32) -> UInt32 {
        var sum = value
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return sum
    }
}
