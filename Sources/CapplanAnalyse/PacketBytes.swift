/// Packets' bytes for a batch handed to another thread, end to end in one buffer. The buffer keeps
/// its length when the batch is emptied for reuse, so each packet's bytes are copied into place:
/// `append(contentsOf:)` of a raw buffer cost about 70 instructions a packet on the reading thread
/// (cachegrind); this costs about 20.
struct PacketBytes: Sendable {
    private var storage: [UInt8] = []
    private var used = 0

    /// Copies `bytes` in; where they are.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Range<Int> {
        let start = used, end = used + bytes.count
        if storage.count < end { storage += repeatElement(0, count: max(end - storage.count, storage.count)) }
        storage.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[start..<end]).copyMemory(from: bytes) }
        used = end
        return start..<end
    }

    /// Empties it, keeping the buffer.
    mutating func removeAll() { used = 0 }

    /// The bytes appended, read in place: a range `append` returned indexes them.
    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[..<used])) }
    }
}
