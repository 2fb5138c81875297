/// How a capture file's 32-bit fields are read in a reader's loop over a run of packets, made
/// once for each order so that a field is a load (and a swap), not a test of the order each time.
protocol WordOrder {
    static func word(_ buffer: UnsafeMutableRawPointer, _ offset: Int) -> UInt32
}

/// A pcapng section in the machine's order.
enum NativeWords: WordOrder {
    @inline(__always)
    static func word(_ buffer: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 { buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
}

/// A pcapng section in the other order.
enum SwappedWords: WordOrder {
    @inline(__always)
    static func word(_ buffer: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 {
        buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self).byteSwapped
    }
}

/// A classic pcap file written little-endian.
enum LittleEndianWords: WordOrder {
    @inline(__always)
    static func word(_ buffer: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// A classic pcap file written big-endian.
enum BigEndianWords: WordOrder {
    @inline(__always)
    static func word(_ buffer: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
