#if canImport(Glibc)
import Glibc
#endif

/// The records of a well-formed classic pcap file, read in large chunks and handed out in place:
/// one read(2) per 256 KB instead of two freads and a copy per packet, which is most of what
/// libpcap costs on a file. It serves only what libpcap would return unchanged (version 2.4,
/// the four usual magics, each record whole and no longer than the snaplen); at anything else it
/// says `.unusual` and the caller lets libpcap go on from that record, so malformed and cut files
/// keep libpcap's exact behaviour and messages.
struct PcapRecords {
    enum Next {
        case packet(RawPacket)
        case end
        case unusual
    }

    private let descriptor: Int32
    /// The file was written big-endian (the magic is read as little-endian).
    private let swapped: Bool
    private let nanosecond: Bool
    private let snaplen: Int
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// The bytes read and not yet handed out are buffer[position..<filled].
    private var position = 0
    private var filled = 0
    private var atEnd = false

    /// Small enough that what read(2) just copied in is still in the core's cache (1 MiB of L2
    /// here) when the packets are taken: with a megabyte, most of a path report's reading time
    /// was the first load from each block (perf annotate), with three files read in turn.
    static let chunk = 1 << 18
    static let globalHeader = 24
    static let recordHeader = 16

    /// Nil when the file is not a plain classic pcap this reader serves (libpcap reads it then).
    init?(path: String, snaplen: Int) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        var header = [UInt8](repeating: 0, count: Self.globalHeader)
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG,
              read(descriptor, &header, Self.globalHeader) == Self.globalHeader else {
            _ = Glibc.close(descriptor)
            return nil
        }
        let magic = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24
        switch magic {
        case 0xA1B2_C3D4: (swapped, nanosecond) = (false, false)
        case 0xA1B2_3C4D: (swapped, nanosecond) = (false, true)
        case 0xD4C3_B2A1: (swapped, nanosecond) = (true, false)
        case 0x4D3C_B2A1: (swapped, nanosecond) = (true, true)
        default:
            _ = Glibc.close(descriptor)
            return nil
        }
        let major = swapped ? UInt16(header[4]) << 8 | UInt16(header[5]) : UInt16(header[5]) << 8 | UInt16(header[4])
        let minor = swapped ? UInt16(header[6]) << 8 | UInt16(header[7]) : UInt16(header[7]) << 8 | UInt16(header[6])
        guard major == 2, minor == 4, snaplen > 0 else {
            _ = Glibc.close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        self.snaplen = snaplen
        capacity = Self.chunk + max(snaplen, 1 << 16) + Self.recordHeader + Self.alignment
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: Self.alignment)
    }

    /// Frees the buffer and closes the file; the records handed out are invalid after it.
    func close() {
        _ = Glibc.close(descriptor)
        buffer.deallocate()
    }

    /// The next record; its bytes stay valid until the next call.
    mutating func next() -> Next {
        if filled - position < Self.recordHeader, !refill(Self.recordHeader) { return filled == position ? .end : .unusual }
        let captured = Int(word(buffer + position, 8)), length = Int(word(buffer + position, 12))
        guard captured <= snaplen, captured <= length else { return .unusual }
        if filled - position < Self.recordHeader + captured, !refill(Self.recordHeader + captured) { return .unusual }
        let packet = swapped ? Self.record(BigEndianWords.self, buffer, at: position, captured: captured, length: length, nanosecond: nanosecond)
                             : Self.record(LittleEndianWords.self, buffer, at: position, captured: captured, length: length, nanosecond: nanosecond)
        position += Self.recordHeader + captured
        return .packet(packet)
    }

    /// The record at `position`, whole in the buffer, with the lengths its header gives.
    @inline(__always)
    private static func record<Words: WordOrder>(_: Words.Type, _ buffer: UnsafeMutableRawPointer, at position: Int, captured: Int, length: Int,
                                                 nanosecond: Bool) -> RawPacket {
        let seconds = Words.word(buffer, position), fraction = Words.word(buffer, position &+ 4)
        // libpcap reads both as signed 32-bit numbers; their sum cannot overflow.
        let time = Int64(Int32(bitPattern: seconds)) &* 1_000_000_000 &+ Int64(Int32(bitPattern: fraction)) &* (nanosecond ? 1 : 1000)
        return RawPacket(timestamp: Timestamp(nanoseconds: time), originalLength: length,
                         bytes: UnsafeRawBufferPointer(start: buffer + (position &+ recordHeader), count: captured))
    }

    /// How a batch ended: `packets` holds some; `end` and `unusual` as for one record, with none.
    enum Batch {
        case packets, end, unusual
    }

    /// The next records, at most `limit`, in `packets` (emptied first). Only the first may read
    /// more (which moves what is left in the buffer), so the bytes of all stay where they are until
    /// the next call. An unusual record after some packets is said by the next call.
    mutating func next(into packets: inout [RawPacket], limit: Int) -> Batch {
        packets.removeAll(keepingCapacity: true)
        switch next() {
        case .packet(let packet): packets.append(packet)
        case .end: return .end
        case .unusual: return .unusual
        }
        if swapped {
            takeBuffered(BigEndianWords.self, into: &packets, limit: limit)
        } else {
            takeBuffered(LittleEndianWords.self, into: &packets, limit: limit)
        }
        return .packets
    }

    /// The records after the first that are whole in the buffer and that `next()` would hand out,
    /// into `packets`; at anything else it stops, and the next call's `next()` takes it. Made once
    /// for each byte order and read from locals, as `PcapngReader.takeEnhancedPackets` is.
    private mutating func takeBuffered<Words: WordOrder>(_: Words.Type, into packets: inout [RawPacket], limit: Int) {
        let buffer = self.buffer, filled = self.filled, snaplen = self.snaplen, nanosecond = self.nanosecond
        var position = self.position
        defer { self.position = position }
        while packets.count < limit, filled &- position >= Self.recordHeader {
            let captured = Int(Words.word(buffer, position &+ 8)), length = Int(Words.word(buffer, position &+ 12))
            guard captured <= snaplen, captured <= length, filled &- position &- Self.recordHeader >= captured else { return }
            packets.append(Self.record(Words.self, buffer, at: position, captured: captured, length: length, nanosecond: nanosecond))
            position = position &+ Self.recordHeader &+ captured
        }
    }

    @inline(__always)
    private func word(_ at: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 {
        let value = at.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return swapped ? UInt32(bigEndian: value) : UInt32(littleEndian: value)
    }

    /// Moves what is left to just before a 64-byte boundary, where the next read lands, and reads
    /// until `needed` bytes are there; false at the end of the file (or a read error) with fewer.
    /// The kernel's copy to whatever byte offset a record ended at took twice as long (perf: 5.8%
    /// of a one-thread report, 2.7% aligned; pcapng's blocks keep 4-byte alignment and copy as
    /// fast already).
    private mutating func refill(_ needed: Int) -> Bool {
        let left = filled - position
        let start = (Self.alignment - left % Self.alignment) % Self.alignment
        if position != start {
            if left > 0 { (buffer + start).copyMemory(from: buffer + position, byteCount: left) }
            (position, filled) = (start, start + left)
        }
        while filled - position < needed, !atEnd {
            let count = read(descriptor, buffer + filled, min(Self.chunk, capacity - filled))
            if count < 0, errno == EINTR { continue }
            if count <= 0 { atEnd = true } else { filled += count }
        }
        return filled - position >= needed
    }

    static let alignment = 64
}
