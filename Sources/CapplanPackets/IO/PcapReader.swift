internal import CPcap

/// One packet as libpcap returned it. `bytes` is libpcap's buffer: valid only until
/// the reader's next call, so consumers decode in place and copy nothing.
public struct RawPacket {
    public var timestamp: Timestamp
    public var originalLength: Int
    public var bytes: UnsafeRawBufferPointer
    /// Which of its source's interfaces or streams it came from (the index in `interfaces`).
    public var source = 0
}

/// A capture file read packet by packet: classic pcap through libpcap, pcapng through capplan's
/// own reader (which keeps each packet's interface).
public protocol CaptureFileReader: AnyObject {
    var path: String { get }
    /// libpcap's DLT value for the first interface's link type.
    var linkType: Int32 { get }
    var snaplen: Int { get }
    /// The file's interfaces, when it describes them (pcapng); `RawPacket.source` indexes them.
    var interfaces: [PcapngInterface] { get }
    /// The next packet, nil at the end; valid until the next call.
    func next() throws(PcapError) -> RawPacket?
    /// The next packets, at most `limit`, in `packets` (emptied first); none at the end. Their
    /// bytes stay valid until the next call of either method. A read error after some packets is
    /// thrown by the next call, so every packet before it is handed out first, as with `next()`.
    func next(into packets: inout [RawPacket], limit: Int) throws(PcapError)
}

/// Packets to read at a time with `next(into:limit:)`: a few hundred records, well within a
/// reader's chunk. Per packet, `next()` through the protocol retains and releases the reader and
/// returns the packet through memory. Read in batches, a two-thread report of the benchmark's
/// classic pcap took about 5% less time (60 alternating rounds, clean builds); one thread, a
/// pcapng and a path within the noise. (A closure called per packet was no faster than `next()`.)
public let captureBatchLimit = 256

/// Opens a capture file with the reader its first bytes call for. `-` is standard input, read by
/// libpcap (pcap or pcapng: a pipe cannot be looked at first).
public func openCaptureFile(_ path: String) throws(PcapError) -> any CaptureFileReader {
    if path == "-" { return try PcapReader(path: path) }
    return PcapngReader.looksLikePcapng(path) ? try PcapngReader(path: path) : try PcapReader(path: path)
}

/// Owns an offline libpcap handle over a pcap or pcapng file; frees it in deinit.
/// Timestamps are read at nanosecond precision (libpcap scales microsecond files).
public final class PcapReader: CaptureFileReader {
    public let path: String
    /// libpcap's DLT value for the file's link type.
    public let linkType: Int32
    public let snaplen: Int
    /// A classic pcap file describes one interface.
    public let interfaces: [PcapngInterface]
    private var handle: OpaquePointer?
    /// A well-formed file's records, read in chunks; nil once libpcap reads (from the first unusual record on).
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var records: PcapRecords?
    /// How many packets `records` handed out: libpcap skips that many when it takes over.
    @exclusivity(unchecked) private var served = 0

    /// `chunked: false` reads every record through libpcap (tests compare the two ways).
    public init(path: String, chunked: Bool = true) throws(PcapError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let opened = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer) else {
            throw PcapError("pcap_open_offline", Self.message(errorBuffer), path: path)
        }
        self.path = path
        handle = opened
        linkType = pcap_datalink(opened)
        snaplen = Int(pcap_snapshot(opened))
        interfaces = [PcapngInterface(name: "", linkType: linkType, snaplen: snaplen)]
        // libpcap has read and checked the file header; its records are read in chunks where they are plain.
        if chunked { records = PcapRecords(path: path, snaplen: snaplen) }
    }

    deinit { close() }

    /// Idempotent: later reads return nil.
    public func close() {
        if let handle { pcap_close(handle) }
        handle = nil
        records?.close()
        records = nil
    }

    /// The next packet, nil at the end of the file. A file cut mid-packet throws
    /// libpcap's "truncated dump file" after the last whole packet.
    public func next() throws(PcapError) -> RawPacket? {
        guard let handle else { return nil }
        if records != nil {
            switch records?.next() {
            case .packet(let packet)?:
                served += 1
                return packet
            case .end?:
                return nil
            case .unusual?, nil:
                try handOver(handle)
            }
        }
        return try libpcapNext(handle)
    }

    /// The records whole in the chunk read; one packet at a time once libpcap reads.
    public func next(into packets: inout [RawPacket], limit: Int) throws(PcapError) {
        packets.removeAll(keepingCapacity: true)
        guard let handle else { return }
        if records != nil {
            switch records?.next(into: &packets, limit: limit) {
            case .packets?:
                served += packets.count
                return
            case .end?:
                return
            case .unusual?, nil:
                try handOver(handle)
            }
        }
        if let packet = try libpcapNext(handle) { packets.append(packet) }
    }

    /// libpcap reads on from the record the chunked reader would not serve: it skips the ones served.
    private func handOver(_ handle: OpaquePointer) throws(PcapError) {
        records?.close()
        records = nil
        for _ in 0..<served where try libpcapNext(handle) == nil { break }
    }

    private func libpcapNext(_ handle: OpaquePointer) throws(PcapError) -> RawPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            guard let header, let data else { return nil }
            let captured = Int(header.pointee.caplen)
            let time = Int64(header.pointee.ts.tv_sec) * 1_000_000_000 + Int64(header.pointee.ts.tv_usec)
            return RawPacket(timestamp: Timestamp(nanoseconds: time), originalLength: Int(header.pointee.len),
                             bytes: UnsafeRawBufferPointer(start: data, count: captured))
        case PCAP_ERROR_BREAK:  // -2: end of file
            return nil
        default:
            throw PcapError("pcap_next_ex", String(cString: pcap_geterr(handle)), path: path)
        }
    }

    static func message(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
