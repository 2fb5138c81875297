import CapplanPackets

/// The one's complement sums (unfolded) of the 16-bit words a rewrite took out and put in.
struct WordSums {
    var old: UInt32 = 0
    var new: UInt32 = 0
}

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

    /// Writes an address (4 or 16 bytes, always at an even offset from the network header)
    /// without allocating, and adds the words it took out and put in to `sums`: the checksums
    /// that cover both of a packet's addresses are then adjusted once (`adjust(_:for:)`), not
    /// once per address. This runs for every packet when addresses are pseudonymized.
    @inline(__always)
    mutating func writeAddress(at offset: Int, _ address: IPAddress, sums: inout WordSums) {
        let length = address.isIPv6 ? 16 : 4
        guard has(offset, length) else { return }
        if !address.isIPv6 {
            // One 32-bit load and store: byte by byte, the two words cost more than the checksums.
            let old = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let new = UInt32(truncatingIfNeeded: address.low)
            sums.old += (old >> 16) + (old & 0xFFFF)
            sums.new += (new >> 16) + (new & 0xFFFF)
            bytes.storeBytes(of: new.bigEndian, toByteOffset: offset, as: UInt32.self)
            return
        }
        writeIPv6Address(at: offset, address, sums: &sums)
    }

    private mutating func writeIPv6Address(at offset: Int, _ address: IPAddress, sums: inout WordSums) {
        var index = 0
        while index < 16 {
            let half = index < 8 ? address.high : address.low
            let new = UInt16(truncatingIfNeeded: half >> UInt64(48 - 8 * (index % 8)))
            sums.old += UInt32(word(offset + index))
            sums.new += UInt32(new)
            setWord(offset + index, new)
            index += 2
        }
    }

    /// Adjusts each captured field of `checksums` for the words `sums` took out and put in.
    /// `zeroMeansNone` is a field for which 0 means "no checksum" (UDP over IPv4).
    mutating func adjust(_ checksums: ChecksumFields, for sums: WordSums, zeroMeansNone: Int = -1) {
        guard sums.old != sums.new else { return }
        // Three fields by name, not a loop over an array: that would allocate for every packet.
        adjustIfCaptured(checksums.first, for: sums, zeroMeansNone: zeroMeansNone)
        adjustIfCaptured(checksums.second, for: sums, zeroMeansNone: zeroMeansNone)
        adjustIfCaptured(checksums.third, for: sums, zeroMeansNone: zeroMeansNone)
    }

    @inline(__always)
    private mutating func adjustIfCaptured(_ field: Int, for sums: WordSums, zeroMeansNone: Int) {
        guard field >= 0, has(field, 2) else { return }
        adjust(field, oldSum: sums.old, newSum: sums.new, zeroMeansNone: field == zeroMeansNone)
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
