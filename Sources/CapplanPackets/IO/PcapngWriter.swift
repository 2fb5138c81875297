import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One capture point as a pcapng Interface Description Block.
public struct PcapngInterface: Sendable, Equatable {
    /// `if_name`: the point's name, `node/interface`.
    public var name: String
    /// `if_description`: what it serves, in words ("veth of pod myapp/web-1").
    public var description: String?
    /// An `opt_comment` on the block: what capplan needs to read the point back (see `PathPointCodec`).
    public var comment: String?
    /// libpcap's DLT number; written as the pcapng LINKTYPE.
    public var linkType: Int32
    public var snaplen: Int

    public init(name: String, description: String? = nil, comment: String? = nil, linkType: Int32, snaplen: Int) {
        self.name = name
        self.description = description
        self.comment = comment
        self.linkType = linkType
        self.snaplen = snaplen
    }
}

/// A place in a pcapng being written: the block after `packets` packets starts at `offset`.
public struct PcapngCheckpoint: Sendable, Equatable {
    public var packets: Int
    public var offset: Int64
}

/// Which way a packet went at its point, as the Enhanced Packet Block's `epb_flags` says it.
public enum PacketDirection: UInt32, Sendable {
    case inbound = 1, outbound = 2
}

/// Writes a pcapng file (one section) in the host's byte order: a Section Header Block with a
/// comment, one Interface Description Block per capture point with nanosecond timestamps,
/// Name Resolution Blocks, and an Enhanced Packet Block per packet with its interface, its
/// direction where known and an optional comment. libpcap writes only classic pcap, so this is
/// capplan's own; the block layout follows the pcapng specification (IETF draft-ietf-opsawg-pcapng).
public final class PcapngWriter {
    public let path: String
    /// Blocks are gathered up to this many bytes before each write(2); a larger one is written alone.
    public static let bufferSize = BlockOutput.capacity
    // Touched per packet by the writing thread alone: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var output: BlockOutput?
    @exclusivity(unchecked) private var packets = 0
    /// Where the file stood every `checkpointInterval` packets: how many packets come before, and
    /// the byte offset the next block starts at. Adding comments later copies the file up to the
    /// checkpoint before the first commented packet as it is, instead of reading it block by block.
    /// A few words per 65,536 packets by default.
    public private(set) var checkpoints: [PcapngCheckpoint] = []
    private let checkpointMask: Int

    /// `checkpointEvery`: packets between checkpoints, a power of two.
    public init(path: String, comment: String?, application: String?, interfaces: [PcapngInterface],
                checkpointEvery: Int = 1 << 16) throws(PcapError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw PcapError("open", String(cString: strerror(errno)), path: path) }
        self.path = path
        checkpointMask = checkpointEvery > 0 && checkpointEvery & (checkpointEvery - 1) == 0 ? checkpointEvery - 1 : (1 << 16) - 1
        output = BlockOutput(descriptor: descriptor)
        var options = PcapngOptions()
        options.add(text: 1, comment)
        options.add(text: 4, application)  // shb_userappl
        var body: [UInt8] = []
        body.append(u32: 0x1A2B_3C4D)  // byte-order magic
        body.append(u16: 1)
        body.append(u16: 0)
        body.append(u64: UInt64.max)  // section length: not given
        emit(type: 0x0A0D_0D0A, body + options.end())
        for interface in interfaces { emit(type: 1, Self.interfaceBody(interface)) }
    }

    deinit { close() }

    static func interfaceBody(_ interface: PcapngInterface) -> [UInt8] {
        var body: [UInt8] = []
        body.append(u16: UInt16(truncatingIfNeeded: PcapngLinkType.linktype(fromDLT: interface.linkType)))
        body.append(u16: 0)
        body.append(u32: UInt32(clamping: interface.snaplen))
        var options = PcapngOptions()
        options.add(text: 1, interface.comment)
        options.add(text: 2, interface.name)
        options.add(text: 3, interface.description)
        options.add(code: 9, [9])  // if_tsresol: 10^-9 s
        return body + options.end()
    }

    /// A Name Resolution Block: each address with its names. Addresses that are not IPv4 or IPv6 are skipped.
    public func writeNames(_ entries: [(address: IPAddress, names: [String])]) {
        guard !entries.isEmpty else { return }
        var body: [UInt8] = []
        for entry in entries where !entry.names.isEmpty {
            var value: [UInt8] = entry.address.bytes
            for name in entry.names { value += Array(name.utf8) + [0] }
            body.append(u16: entry.address.isIPv6 ? 2 : 1)
            body.append(u16: UInt16(clamping: value.count))
            body += value
            body += [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        body.append(u32: 0)  // nrb_record_end
        emit(type: 4, body)
    }

    /// One Enhanced Packet Block on interface `interface` (its index in the order given), assembled
    /// in place in the output buffer.
    public func write(interface: Int, timestamp: Timestamp, bytes: UnsafeRawBufferPointer, originalLength: Int,
                      direction: PacketDirection? = nil, comment: String? = nil) {
        guard output != nil else { return }
        if packets & checkpointMask == 0, packets > 0, let offset = output?.offset {
            checkpoints.append(PcapngCheckpoint(packets: packets, offset: offset))
        }
        packets += 1
        let text = comment.map { Array($0.utf8.prefix(65_000)) } ?? []
        let commentSize = text.isEmpty ? 0 : PcapngOption.size(text.count)
        let optionsSize = commentSize + (direction == nil ? 0 : PcapngOption.size(4))
        let padding = (4 - bytes.count & 3) & 3
        let size = 28 + bytes.count + padding + optionsSize + (optionsSize > 0 ? 4 : 0) + 4
        let total = UInt32(truncatingIfNeeded: size)
        let nanoseconds = UInt64(bitPattern: timestamp.nanoseconds)
        let header = (UInt32(6), total, UInt32(truncatingIfNeeded: interface), UInt32(truncatingIfNeeded: nanoseconds >> 32),
                      UInt32(truncatingIfNeeded: nanoseconds), UInt32(bytes.count), UInt32(clamping: max(originalLength, bytes.count)))
        output?.block(size) { out in
            out.storeBytes(of: header, as: type(of: header))
            if let packet = bytes.baseAddress { (out + 28).copyMemory(from: packet, byteCount: bytes.count) }
            var at = 28 + bytes.count
            (out + at).initializeMemory(as: UInt8.self, repeating: 0, count: padding)
            at += padding
            if !text.isEmpty {
                text.withUnsafeBytes { at = PcapngOption.store(1, $0, at: at, in: out) }
            }
            if let direction {
                withUnsafeBytes(of: direction.rawValue) { at = PcapngOption.store(2, $0, at: at, in: out) }
            }
            if optionsSize > 0 {
                out.storeBytes(of: UInt32(0), toByteOffset: at, as: UInt32.self)  // opt_endofopt
                at += 4
            }
            out.storeBytes(of: total, toByteOffset: at, as: UInt32.self)
        }
    }

    /// Pushes buffered blocks to the file, so an interrupted run leaves a readable capture; throws
    /// when a write to the file failed (since the last flush or before).
    public func flush() throws(PcapError) {
        guard output != nil else { return }
        output?.drain()
        if let failure = output?.failure, failure != 0 {
            throw PcapError("write", "cannot write \(path): \(String(cString: strerror(failure)))", path: path)
        }
    }

    /// Idempotent.
    public func close() {
        output?.drain()
        output?.close()
        output = nil
    }

    private func emit(type: UInt32, _ body: [UInt8]) {
        var bytes: [UInt8] = []
        bytes.append(u32: type)
        bytes.append(u32: UInt32(12 + body.count))
        bytes += body
        bytes.append(u32: UInt32(12 + body.count))
        bytes.withUnsafeBytes { output?.append($0) }
    }
}

/// The pcapng file and the blocks not yet written to it: each block is assembled in place in a
/// 64 KiB buffer that goes out with one write(2) when full or flushed. (Assembled apart and
/// handed to stdio, each packet was copied twice: fwrite was about 2% of apply's capture CPU.)
struct BlockOutput {
    private let descriptor: Int32
    private let buffer: UnsafeMutableRawPointer
    /// Small enough that the kernel's copy into the page cache reads it from the core's own cache:
    /// with a megabyte, that copy missed and took a third of apply's capture CPU (1.28-1.34x
    /// tcpdump's CPU a packet against 0.95-0.96x with 64 KiB, scripts/bench-apply-builds).
    static let capacity = 1 << 16
    private var used = 0
    /// Bytes the file has been given so far.
    private var written: Int64 = 0
    /// errno of the first write that failed; 0 while none did.
    private(set) var failure: Int32 = 0

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer = .allocate(byteCount: Self.capacity, alignment: 16)
    }

    /// The file offset the next block starts at.
    var offset: Int64 { written + Int64(used) }

    /// A block of `size` bytes that `fill` writes in place (in a buffer of its own for one larger than
    /// the output buffer).
    @inline(__always)
    mutating func block(_ size: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        if used + size > Self.capacity { drain() }
        if size <= Self.capacity {
            fill(buffer + used)
            used += size
        } else {
            let large = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            defer { large.deallocate() }
            fill(large)
            writeAll(large, size)
        }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let from = bytes.baseAddress else { return }
        block(bytes.count) { $0.copyMemory(from: from, byteCount: bytes.count) }
    }

    /// Writes out what the buffer holds.
    mutating func drain() {
        writeAll(buffer, used)
        used = 0
    }

    /// Frees the buffer and closes the file (after `drain`).
    mutating func close() {
        buffer.deallocate()
        if Glibc.close(descriptor) != 0, failure == 0 { failure = errno }
    }

    private mutating func writeAll(_ from: UnsafeRawPointer, _ count: Int) {
        let error = FileDescriptor.writeAll(descriptor, from, count)
        if failure == 0 { failure = error }
        written += Int64(count)
    }
}

extension PcapngWriter {
    /// Adds an `opt_comment` to the Enhanced Packet Blocks numbered in `comments` (1 = the file's first
    /// packet) of a pcapng this writer wrote: the findings that cite packets are known only once the
    /// capture has ended. The blocks from the first commented packet on (from the writer's last
    /// checkpoint before it, given `checkpoints`) are written anew. When they are at most half the
    /// file, they are written aside and spliced back in place (`PcapngTailSplice`), and the part
    /// before them is neither read nor written: the comments usually cite the end of a long capture.
    /// Otherwise the whole file is written anew beside it and renamed over.
    public static func addComments(path: String, _ comments: [Int: String], checkpoints: [PcapngCheckpoint] = []) throws(PcapError) {
        guard let first = comments.keys.min(), let last = comments.keys.max() else { return }
        guard let input = fopen(path, "rb") else { throw PcapError("fopen", String(cString: strerror(errno)), path: path) }
        defer { fclose(input) }
        var status = stat()
        guard fstat(fileno(input), &status) == 0 else { throw PcapError("fstat", String(cString: strerror(errno)), path: path) }
        let size = Int64(status.st_size)
        let (start, inPlace) = commentRewrite(from: first, size: size, checkpoints: checkpoints)
        let held = inPlace ? PcapngTailSplice.lock(path) : -1
        defer { PcapngTailSplice.unlock(held) }
        let temporary = inPlace ? PcapngTailSplice.partialPath(path) : path + ".comments"
        guard let output = fopen(temporary, "wb") else { throw PcapError("fopen", String(cString: strerror(errno)), path: temporary) }
        setvbuf(input, nil, _IOFBF, 1 << 20)
        setvbuf(output, nil, _IOFBF, 1 << 20)
        var failed = inPlace ? fseeko(input, off_t(start.offset), SEEK_SET) != 0 : !copy(input, output, from: 0, to: off_t(start.offset))
        // The blocks up to the last commented packet are walked in a large buffer, and the runs
        // between commented packets written whole: a read and a write per block cost more than
        // the copying on a capture of a million packets. The rest of the file is copied as it is.
        var walk = CommentWalk(input: input, output: output)
        failed = failed || !walk.run(comments, from: start.packets, through: last) || !copy(input, output, from: ftello(input), to: off_t(size))
        if ferror(input) != 0 { failed = true }
        // The new end is on disk before the file is cut for it.
        if inPlace, !failed { failed = fflush(output) != 0 || fsync(fileno(output)) != 0 }
        if fclose(output) != 0 || failed {
            unlink(temporary)
            throw PcapError("pcapng", "cannot add comments to \(path)", path: path)
        }
        if inPlace {
            try PcapngTailSplice.commit(path: path, partial: temporary, at: start.offset, replacing: size - start.offset)
        } else {
            guard rename(temporary, path) == 0 else { throw PcapError("rename", String(cString: strerror(errno)), path: path) }
        }
    }

    /// Where `addComments` starts writing anew for comments from packet `first` on, and whether
    /// it writes in place.
    static func commentRewrite(from first: Int, size: Int64, checkpoints: [PcapngCheckpoint]) -> (start: PcapngCheckpoint, inPlace: Bool) {
        let start = checkpoints.last(where: { $0.packets < first && $0.offset <= size }) ?? PcapngCheckpoint(packets: 0, offset: 0)
        return (start, start.offset > 0 && (size - start.offset) * 2 <= size)
    }

    /// The bytes `addComments` writes for comments from packet `first` on in a file of `size` bytes.
    public static func bytesRewritten(forCommentsFrom first: Int, size: Int64, checkpoints: [PcapngCheckpoint]) -> Int64 {
        let (start, inPlace) = commentRewrite(from: first, size: size, checkpoints: checkpoints)
        return inPlace ? size - start.offset : size
    }

    /// Copies `input`'s bytes from `offset` up to `end` to where `output` stands; both streams are
    /// left just past the copy.
    private static func copy(_ input: UnsafeMutablePointer<FILE>, _ output: UnsafeMutablePointer<FILE>, from offset: off_t, to end: off_t) -> Bool {
        guard offset >= 0, end >= offset, fflush(output) == 0,
              FileDescriptor.copy(fileno(input), from: Int64(offset), count: Int64(end - offset), to: fileno(output)) == 0 else { return false }
        return fseeko(input, end, SEEK_SET) == 0 && fseeko(output, lseek(fileno(output), 0, SEEK_CUR), SEEK_SET) == 0
    }

    /// An Enhanced Packet Block with a comment put first among its options.
    static func commented(_ block: [UInt8], _ comment: String) -> [UInt8] {
        let captured = Int(block.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 20, as: UInt32.self) })
        let optionsStart = 28 + (captured + 3) & ~3
        guard optionsStart <= block.count - 4 else { return block }
        var options = PcapngOptions()
        options.add(text: 1, comment)
        let existing = Array(block[optionsStart..<(block.count - 4)])
        let body = Array(block[8..<optionsStart]) + options.bytes + (existing.isEmpty ? [0, 0, 0, 0] : existing)
        var rebuilt: [UInt8] = []
        rebuilt.append(u32: 6)
        rebuilt.append(u32: UInt32(12 + body.count))
        rebuilt += body
        rebuilt.append(u32: UInt32(12 + body.count))
        return rebuilt
    }
}

/// The block walk of `PcapngWriter.addComments`: blocks read into a buffer in large pieces and
/// written out, each commented packet's block rebuilt with its comment, the blocks in between
/// written in runs as they are.
private struct CommentWalk {
    let input: UnsafeMutablePointer<FILE>
    let output: UnsafeMutablePointer<FILE>
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    /// buffer[written..<position] is walked and not yet written; buffer[position..<filled] not yet walked.
    private var written = 0, position = 0, filled = 0
    /// A write failed (the disk is full, say): the walk fails however it ends.
    private var writeFailed = false

    init(input: UnsafeMutablePointer<FILE>, output: UnsafeMutablePointer<FILE>) {
        (self.input, self.output) = (input, output)
    }

    /// Walks from the packet numbered `number` (those before it passed) through packet `last`,
    /// and writes everything it read, the unwalked rest included; false on a damaged block or
    /// a failed read or write.
    mutating func run(_ comments: [Int: String], from number: Int, through last: Int) -> Bool {
        var number = number
        let targets = comments.keys.sorted().drop { $0 <= number }
        var next = targets.startIndex
        while number < last {
            guard available(8) else { break }
            let type = load(position), length = Int(load(position + 4))
            guard length >= 12, length % 4 == 0, length <= PcapngReader.blockLimit, available(length) else { return false }
            if type == 6 { number += 1 }
            if type == 6, next < targets.endIndex, targets[next] == number, let comment = comments[number] {
                next += 1
                guard flush(upTo: position) else { return false }
                let rebuilt = PcapngWriter.commented(Array(buffer[position..<position + length]), comment)
                guard rebuilt.withUnsafeBytes({ fwrite_unlocked($0.baseAddress, 1, $0.count, output) }) == rebuilt.count else { return false }
                written = position + length
            }
            position += length
        }
        return flush(upTo: filled) && !writeFailed
    }

    private func load(_ offset: Int) -> UInt32 { buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) } }

    /// Writes buffer[written..<end].
    private mutating func flush(upTo end: Int) -> Bool {
        guard end > written else { return true }
        let count = end - written
        let done = buffer.withUnsafeBytes { fwrite_unlocked($0.baseAddress.map { $0 + written }, 1, count, output) } == count
        written = end
        if !done { writeFailed = true }
        return done
    }

    /// Whether `count` bytes from `position` are in the buffer, reading on until they are (what
    /// was walked is written first, to make room); false at the end of the file with fewer.
    private mutating func available(_ count: Int) -> Bool {
        if filled - position >= count { return true }
        guard flush(upTo: position) else { return false }
        let left = filled - position
        buffer.withUnsafeMutableBytes { raw in
            if left > 0, position > 0, let base = raw.baseAddress { memmove(base, base + position, left) }
        }
        (written, position, filled) = (0, 0, left)
        if count > buffer.count { buffer += [UInt8](repeating: 0, count: count - buffer.count) }
        while filled < count {
            let got = buffer.withUnsafeMutableBytes { fread_unlocked($0.baseAddress.map { $0 + filled }, 1, $0.count - filled, input) }
            if got == 0 { break }
            filled += got
        }
        return filled >= count
    }
}

/// A block's options, each padded to 32 bits, ended by `opt_endofopt`.
struct PcapngOptions {
    private(set) var bytes: [UInt8] = []

    var isEmpty: Bool { bytes.isEmpty }

    mutating func add(code: UInt16, _ value: [UInt8]) {
        value.withUnsafeBytes { bytes.append(option: code, $0) }
    }

    mutating func add(text code: UInt16, _ text: String?) {
        guard let text, !text.isEmpty else { return }
        add(code: code, Array(text.utf8.prefix(65_000)))
    }

    mutating func add(code: UInt16, u32 value: UInt32) {
        withUnsafeBytes(of: value) { bytes.append(option: code, $0) }
    }

    /// The options with their end marker (nothing at all when there are none).
    func end() -> [UInt8] { bytes.isEmpty ? [] : bytes + [0, 0, 0, 0] }
}

/// libpcap's DLT numbers differ from the LINKTYPE numbers files carry for a few types (raw IP above all).
enum PcapngLinkType {
    static func linktype(fromDLT dlt: Int32) -> Int32 {
        switch dlt {
        case 12, 14: 101  // DLT_RAW (BSD / OpenBSD) → LINKTYPE_RAW
        default: dlt
        }
    }
}

extension [UInt8] {
    mutating func append(u16 value: UInt16) { Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) } }
    mutating func append(u32 value: UInt32) { Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) } }
    mutating func append(u64 value: UInt64) { Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) } }

    /// One pcapng option (`PcapngOption`).
    mutating func append(option code: UInt16, _ value: UnsafeRawBufferPointer) {
        let at = count
        append(contentsOf: repeatElement(0, count: PcapngOption.size(value.count)))
        withUnsafeMutableBytes { out in
            if let base = out.baseAddress { _ = PcapngOption.store(code, value, at: at, in: base) }
        }
    }
}

/// One pcapng option's layout, for the header blocks' arrays and the packet blocks built in place:
/// its code, its length, its value padded to 32 bits.
enum PcapngOption {
    static func size(_ valueCount: Int) -> Int { 4 + (valueCount + 3) & ~3 }

    /// Stores the option at `at` in `out`, which has room for `size(value.count)` bytes there; returns where the next goes.
    static func store(_ code: UInt16, _ value: UnsafeRawBufferPointer, at: Int, in out: UnsafeMutableRawPointer) -> Int {
        out.storeBytes(of: code, toByteOffset: at, as: UInt16.self)
        out.storeBytes(of: UInt16(clamping: value.count), toByteOffset: at + 2, as: UInt16.self)
        if let from = value.baseAddress { (out + at + 4).copyMemory(from: from, byteCount: value.count) }
        let next = at + size(value.count)
        (out + at + 4 + value.count).initializeMemory(as: UInt8.self, repeating: 0, count: next - at - 4 - value.count)
        return next
    }
}
