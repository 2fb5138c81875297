import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a pcapng file block by block, keeping which interface each packet came from (libpcap
/// hides it, and refuses interfaces of different link types). Every length is checked against
/// the block that holds it, so a malformed or cut file ends with an error, never a crash.
/// Sections after the first add their interfaces after the earlier ones'. Blocks are read in
/// large chunks and handed out in place: one read(2) per 256 KB, no copy per packet.
public final class PcapngReader: CaptureFileReader {
    public let path: String
    /// The interfaces described so far (all of them once the first packet is read, as writers put them first).
    // This and the fields below are touched per packet by the reading thread alone: no dynamic exclusivity checks.
    @exclusivity(unchecked) public private(set) var interfaces: [PcapngInterface] = []
    /// The first section's comment.
    public private(set) var sectionComment: String?
    /// What the name resolution blocks read so far say: each address with its names.
    public private(set) var names: [(address: IPAddress, names: [String])] = []
    public var linkType: Int32 { interfaces.first?.linkType ?? 1 }
    public var snaplen: Int { interfaces.map(\.snaplen).max() ?? 0 }

    @exclusivity(unchecked) private var descriptor: Int32 = -1
    @exclusivity(unchecked) private var swapped = false
    /// Index of the current section's interface 0 in `interfaces`.
    @exclusivity(unchecked) private var sectionBase = 0
    /// Per interface: the timestamp unit.
    @exclusivity(unchecked) private var units: [TickUnit] = []
    /// The file's bytes read and not yet taken are buffer[position..<filled]; `body` is the current
    /// block's body (between its length fields), inside the buffer until the next read.
    @exclusivity(unchecked) private var buffer: UnsafeMutableRawPointer
    @exclusivity(unchecked) private var capacity = PcapngReader.chunk
    @exclusivity(unchecked) private var position = 0
    @exclusivity(unchecked) private var filled = 0
    @exclusivity(unchecked) private var atEnd = false
    @exclusivity(unchecked) private var body: UnsafeMutableRawPointer
    /// As the classic pcap reader's (`PcapRecords.chunk`, which says why).
    static let chunk = PcapRecords.chunk
    /// The first packet block, read ahead by `init` to learn the interfaces.
    @exclusivity(unchecked) private var pending = false
    /// Blocks larger than this are taken as damage rather than allocated.
    static let blockLimit = 1 << 28

    public init(path: String) throws(PcapError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw PcapError("open", String(cString: strerror(errno)), path: path) }
        self.path = path
        self.descriptor = descriptor
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        body = buffer
        guard try readBlock() == Self.sectionHeader else { throw PcapError("pcapng", "not a pcapng file", path: path) }
        // Read up to the first packet, so the interfaces (and their link types) are known.
        while let type = try readBlock() {
            if Self.isPacket(type) { pending = true; break }
        }
        if interfaces.isEmpty { throw PcapError("pcapng", "the file describes no interface", path: path) }
    }

    deinit {
        close()
        buffer.deallocate()
    }

    public func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    static let sectionHeader: UInt32 = 0x0A0D_0D0A
    /// Enhanced, simple and obsolete packet blocks.
    @inline(__always) static func isPacket(_ type: UInt32) -> Bool { type == 6 || type == 2 || type == 3 }

    /// Whether the file at `path` starts like a pcapng file.
    public static func looksLikePcapng(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4)) ?? Data()
        return head.elementsEqual([0x0A, 0x0D, 0x0D, 0x0A])
    }

    public func next() throws(PcapError) -> RawPacket? {
        while true {
            if pending {
                pending = false
                if let packet = try packet() { return packet }
                continue
            }
            if takeEnhancedPacketBlock() {
                if let packet = try packet() { return packet }
                continue
            }
            guard let type = try readBlock() else { return nil }
            if Self.isPacket(type), let packet = try packet() { return packet }
        }
    }

    /// The first packet as `next()` reads it, then the enhanced packet blocks already whole in the
    /// buffer: reading more would move what the buffer holds under the packets handed out.
    public func next(into packets: inout [RawPacket], limit: Int) throws(PcapError) {
        packets.removeAll(keepingCapacity: true)
        if let failure = deferred {
            deferred = nil
            throw failure
        }
        guard let first = try next() else { return }
        packets.append(first)
        if swapped {
            takeEnhancedPackets(SwappedWords.self, into: &packets, limit: limit)
        } else {
            takeEnhancedPackets(NativeWords.self, into: &packets, limit: limit)
        }
    }

    /// The enhanced packet blocks wholly in the buffer whose two lengths agree, as
    /// `takeEnhancedPacketBlock` takes them, into `packets`; anything else is left to `next()`.
    /// Made once for each byte order, so that reading a field is a load (and a swap), not a test
    /// of the order; what it reads of the reader is in locals, as fields of `self` are loaded again
    /// after every store. 82 instructions a packet (callgrind), against 118 before.
    private func takeEnhancedPackets<Words: WordOrder>(_: Words.Type, into packets: inout [RawPacket], limit: Int) {
        // No interface is described within a run of enhanced packet blocks: the section's interfaces
        // are counted and their units taken once for the run, not looked up in arrays per packet.
        let described = interfaces.count &- sectionBase, base = sectionBase
        let buffer = self.buffer, filled = self.filled
        guard descriptor >= 0 else { return }
        var position = self.position
        defer { self.position = position }
        units.withUnsafeBufferPointer { units in
            while packets.count < limit, let length = Self.wholeEnhancedPacketBlock(Words.self, buffer, at: position, filled: filled) {
                // Every offset formed here lies in the block, which lies in the buffer: no sum overflows.
                let body = position &+ 8
                let interface = Int(Words.word(buffer, body)), captured = Int(Words.word(buffer, body &+ 12))
                guard interface < described, captured <= length &- 32 else {
                    // An interface the section does not describe, or a length past the block's:
                    // the careful reading says what it is.
                    self.position = position
                    take(6, length: length)
                    defer { position = self.position }
                    do throws(PcapError) {
                        if let packet = try packet() { packets.append(packet) }
                    } catch {
                        deferred = error
                        return
                    }
                    continue
                }
                let ticks = UInt64(Words.word(buffer, body &+ 4)) << 32 | UInt64(Words.word(buffer, body &+ 8))
                packets.append(RawPacket(timestamp: Timestamp(nanoseconds: units[base &+ interface].nanoseconds(ticks)),
                                         originalLength: Int(Words.word(buffer, body &+ 16)),
                                         bytes: UnsafeRawBufferPointer(start: buffer + (body &+ 20), count: captured), source: base &+ interface))
                position = position &+ length
            }
        }
    }

    /// A damaged block found after some packets of a batch: thrown by the next call.
    @exclusivity(unchecked) private var deferred: PcapError?

    /// Takes the next block the way `readBlock` would when it is what most of a file is: an
    /// enhanced packet block wholly in the buffer, whose two lengths agree. False for anything
    /// else, which `readBlock` then takes with all its checks and reading.
    @inline(__always)
    private func takeEnhancedPacketBlock() -> Bool {
        guard descriptor >= 0 else { return false }
        let whole = swapped ? Self.wholeEnhancedPacketBlock(SwappedWords.self, buffer, at: position, filled: filled)
                            : Self.wholeEnhancedPacketBlock(NativeWords.self, buffer, at: position, filled: filled)
        guard let length = whole else { return false }
        take(6, length: length)
        return true
    }

    /// The length of the block at `position` when it is an enhanced packet block wholly in the
    /// buffer (which ends at `filled`) whose two lengths agree; nil for anything else.
    @inline(__always)
    private static func wholeEnhancedPacketBlock<Words: WordOrder>(_: Words.Type, _ buffer: UnsafeMutableRawPointer, at position: Int,
                                                                  filled: Int) -> Int? {
        guard filled &- position >= 32, Words.word(buffer, position) == 6 else { return nil }
        let length = Int(Words.word(buffer, position &+ 4))
        guard length >= 32, length & 3 == 0, length <= filled &- position,
              Words.word(buffer, position &+ length &- 4) == UInt32(length) else { return nil }
        return length
    }

    // MARK: blocks

    @exclusivity(unchecked) private var blockType: UInt32 = 0
    @exclusivity(unchecked) private var blockLength = 0

    /// Takes the next block (its body: the bytes between the length fields) and takes in what it
    /// describes; nil at a clean end of file.
    private func readBlock() throws(PcapError) -> UInt32? {
        guard descriptor >= 0 else { return nil }
        guard try available(8) else {
            if filled == position { return nil }
            throw cut("a block header")
        }
        var type = swap(buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self))
        if type == Self.sectionHeader || type.byteSwapped == Self.sectionHeader {
            type = Self.sectionHeader
            guard try available(12) else { throw cut("a section header") }
            let magic = buffer.loadUnaligned(fromByteOffset: position + 8, as: UInt32.self)
            guard magic == 0x1A2B_3C4D || magic.byteSwapped == 0x1A2B_3C4D else {
                throw PcapError("pcapng", "a section header with an unknown byte-order magic", path: path)
            }
            swapped = magic != 0x1A2B_3C4D
        }
        let length = Int(swap(buffer.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self)))
        guard length >= (type == Self.sectionHeader ? 16 : 12), length % 4 == 0, length <= Self.blockLimit else {
            throw PcapError("pcapng", "a block with an impossible length \(length)", path: path)
        }
        guard try available(length) else { throw cut("a block") }
        guard swap(buffer.loadUnaligned(fromByteOffset: position + length - 4, as: UInt32.self)) == UInt32(length) else {
            throw PcapError("pcapng", "a block whose two length fields differ", path: path)
        }
        take(type, length: length)
        try takeIn(type)
        return type
    }

    /// Makes the block at `position`, of `length` bytes in all, the current one and moves past it.
    @inline(__always)
    private func take(_ type: UInt32, length: Int) {
        body = buffer + position + 8
        blockLength = length - 12
        position += length
        blockType = type
    }

    /// Whether `count` bytes from `position` are in the buffer, reading on (and moving what is
    /// left to the front, or into a larger buffer for a block larger than it) until they are;
    /// false at the end of the file with fewer.
    private func available(_ count: Int) throws(PcapError) -> Bool {
        if filled - position >= count { return true }
        if count > capacity {
            let larger = UnsafeMutableRawPointer.allocate(byteCount: count + Self.chunk, alignment: 8)
            larger.copyMemory(from: buffer + position, byteCount: filled - position)
            buffer.deallocate()
            buffer = larger
            capacity = count + Self.chunk
        } else if position > 0 {
            buffer.copyMemory(from: buffer + position, byteCount: filled - position)
        }
        filled -= position
        position = 0
        body = buffer
        while filled < count, !atEnd {
            let got = read(descriptor, buffer + filled, capacity - filled)
            if got < 0, errno == EINTR { continue }
            if got < 0 { throw PcapError("read", String(cString: strerror(errno)), path: path) }
            if got == 0 { atEnd = true } else { filled += got }
        }
        return filled >= count
    }

    private func cut(_ what: String) -> PcapError {
        PcapError("pcapng", "truncated dump file; the file ends inside \(what)", path: path)
    }

    private func takeIn(_ type: UInt32) throws(PcapError) {
        switch type {
        case Self.sectionHeader:
            sectionBase = interfaces.count
            if interfaces.isEmpty, blockLength >= 16 { sectionComment = options(from: 16)[1] }
        case 1:
            guard blockLength >= 8 else { throw damaged("interface description") }
            let found = options(from: 8)
            var interface = PcapngInterface(name: found[2] ?? "interface \(interfaces.count)", description: found[3], comment: found[1],
                                            linkType: Int32(u16(0)), snaplen: Int(u32(4)))
            if interface.linkType == 101 { interface.linkType = 12 }  // LINKTYPE_RAW as libpcap's DLT_RAW
            interfaces.append(interface)
            units.append(TickUnit(tsresol))
        case 4:
            readNames()
        default:
            break
        }
    }

    /// The records of a name resolution block; one that runs past the block ends the reading of it.
    private func readNames() {
        var at = 0
        while at + 4 <= blockLength, names.count < Self.nameLimit {
            let type = u16(at), length = Int(u16(at + 2))
            guard type != 0, at + 4 + length <= blockLength else { break }
            let size = type == 1 ? 4 : type == 2 ? 16 : 0
            if size > 0, length > size {
                let value = UnsafeRawBufferPointer(start: body + at + 4, count: length)
                let address = size == 4 ? IPAddress(ipv4: value.prefix(4).reduce(0) { $0 << 8 | UInt32($1) })
                    : IPAddress(ipv6High: value.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }, low: value[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
                let texts = value.dropFirst(size).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                names.append((address, texts))
            }
            at += 4 + (length + 3) & ~3
        }
    }

    static let nameLimit = 100_000

    private func damaged(_ what: String) -> PcapError { PcapError("pcapng", "a damaged \(what) block", path: path) }

    /// The current block's packet, nil for a block that holds none.
    private func packet() throws(PcapError) -> RawPacket? {
        let interface: Int, ticks: UInt64, captured: Int, original: Int, start: Int
        switch blockType {
        case 6:
            guard blockLength >= 20 else { throw damaged("packet") }
            interface = Int(u32(0))
            ticks = UInt64(u32(4)) << 32 | UInt64(u32(8))
            (captured, original, start) = (Int(u32(12)), Int(u32(16)), 20)
        case 2:
            guard blockLength >= 20 else { throw damaged("packet") }
            interface = Int(u16(0))
            ticks = UInt64(u32(4)) << 32 | UInt64(u32(8))
            (captured, original, start) = (Int(u32(12)), Int(u32(16)), 20)
        case 3:
            guard blockLength >= 4 else { throw damaged("simple packet") }
            interface = 0
            ticks = 0
            original = Int(u32(0))
            (captured, start) = (min(original, blockLength - 4), 4)
        default:
            return nil
        }
        let index = sectionBase + interface
        guard index < interfaces.count else { throw PcapError("pcapng", "a packet on interface \(interface), which no block described", path: path) }
        guard captured <= blockLength - start else { throw damaged("packet") }
        return RawPacket(timestamp: Timestamp(nanoseconds: units[index].nanoseconds(ticks)), originalLength: original,
                         bytes: UnsafeRawBufferPointer(start: body + start, count: captured), source: index)
    }

    /// An interface's timestamp unit, with how many nanoseconds one tick is when that is a whole
    /// number (microseconds, nanoseconds...): worked out once, not for every packet.
    struct TickUnit {
        var decimal: Bool
        var exponent: Int
        var nanosecondsPerTick: Int64

        init(_ unit: (decimal: Bool, exponent: Int)) {
            (decimal, exponent) = unit
            nanosecondsPerTick = unit.decimal && unit.exponent <= 9 ? PcapngReader.nanoseconds(1, unit) : 0
        }

        @inline(__always)
        func nanoseconds(_ ticks: UInt64) -> Int64 {
            guard nanosecondsPerTick > 0 else { return PcapngReader.nanoseconds(ticks, (decimal, exponent)) }
            let (result, overflow) = Int64(clamping: ticks).multipliedReportingOverflow(by: nanosecondsPerTick)
            return overflow ? .max : result
        }
    }

    static func nanoseconds(_ ticks: UInt64, _ unit: (decimal: Bool, exponent: Int)) -> Int64 {
        let signed = Int64(clamping: ticks)
        if unit.decimal {
            if unit.exponent <= 9 {
                let scale = (0..<(9 - unit.exponent)).reduce(Int64(1)) { value, _ in value * 10 }
                let (result, overflow) = signed.multipliedReportingOverflow(by: scale)
                return overflow ? .max : result
            }
            let scale = (0..<min(unit.exponent - 9, 18)).reduce(Int64(1)) { value, _ in value * 10 }
            return signed / scale
        }
        let perSecond = Double(sign: .plus, exponent: min(unit.exponent, 1000), significand: 1)
        return Int64(clamping: Int64(exactly: (Double(ticks) / perSecond * 1e9).rounded(.down)) ?? .max)
    }

    // MARK: fields of the current block

    private func u32(_ offset: Int) -> UInt32 { swap(body.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    private func u16(_ offset: Int) -> UInt16 {
        let value = body.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        return swapped ? value.byteSwapped : value
    }
    private func swap(_ value: UInt32) -> UInt32 { swapped ? value.byteSwapped : value }

    /// The last interface's timestamp unit, read by `options(from:)`.
    private var tsresol: (decimal: Bool, exponent: Int) = (true, 6)

    /// The text options (by code) of the current block's options from `offset`; notes `if_tsresol`.
    private func options(from offset: Int) -> [UInt16: String] {
        var found: [UInt16: String] = [:]
        var at = offset
        tsresol = (true, 6)
        while at + 4 <= blockLength {
            let code = u16(at), length = Int(u16(at + 2))
            if code == 0 { break }
            guard at + 4 + length <= blockLength else { break }
            if code == 9, length >= 1 {
                let raw = body.load(fromByteOffset: at + 4, as: UInt8.self)
                tsresol = (raw & 0x80 == 0, Int(raw & 0x7F))
            } else if [1, 2, 3].contains(code) || blockType == Self.sectionHeader && code == 4 {
                let bytes = UnsafeRawBufferPointer(start: body + at + 4, count: length)
                found[code] = found[code] ?? String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            at += 4 + (length + 3) & ~3
        }
        return found
    }
}
