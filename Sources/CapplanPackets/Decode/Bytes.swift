/// Bounds-checked, big-endian reads over a packet's captured bytes. A packet can be
/// cut short anywhere (snaplen, a truncated file): every read says whether it fit.
struct Bytes {
    let base: UnsafeRawBufferPointer

    var count: Int { base.count }

    @inline(__always) func has(_ offset: Int, _ length: Int) -> Bool {
        offset >= 0 && length >= 0 && offset <= base.count - length
    }

    @inline(__always) func u8(_ offset: Int) -> UInt8? {
        has(offset, 1) ? base[offset] : nil
    }

    @inline(__always) func u16(_ offset: Int) -> UInt16? {
        guard has(offset, 2) else { return nil }
        return UInt16(base[offset]) << 8 | UInt16(base[offset + 1])
    }

    @inline(__always) func u32(_ offset: Int) -> UInt32? {
        guard has(offset, 4) else { return nil }
        return UInt32(base[offset]) << 24 | UInt32(base[offset + 1]) << 16 | UInt32(base[offset + 2]) << 8 | UInt32(base[offset + 3])
    }

    @inline(__always) func u64(_ offset: Int) -> UInt64? {
        guard let high = u32(offset), let low = u32(offset + 4) else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    // Reads at offsets the caller has already checked with `has`: a header's fields read after
    // one check of its whole fixed part, not one check each (they were a third of decoding).
    @inline(__always) func checkedU8(_ offset: Int) -> UInt8 { base[offset] }
    @inline(__always) func checkedU16(_ offset: Int) -> UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inline(__always) func checkedU32(_ offset: Int) -> UInt32 { UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    @inline(__always) func checkedU64(_ offset: Int) -> UInt64 { UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }

    /// Little-endian 32-bit read (DLT_NULL's family field is in the capturing host's order).
    @inline(__always) func u32LittleEndian(_ offset: Int) -> UInt32? {
        guard has(offset, 4) else { return nil }
        return UInt32(base[offset + 3]) << 24 | UInt32(base[offset + 2]) << 16 | UInt32(base[offset + 1]) << 8 | UInt32(base[offset])
    }
}
