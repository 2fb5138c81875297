/// Several capture files read as one stream in time order: each file's next packet is held and the
/// earliest goes first (the first file on a tie). A file that fails to read ends there; the first
/// such error is kept and the others read on.
public final class MergedReaders {
    /// Held so the unretained `sources` stay valid.
    private let readers: [any CaptureFileReader]
    /// The same readers by their class, for per-packet reads without reference counting: a call
    /// through the protocol retains and releases the reader every time.
    private enum Source {
        case pcap(Unmanaged<PcapReader>)
        case pcapng(Unmanaged<PcapngReader>)
        case other(any CaptureFileReader)

        init(_ reader: any CaptureFileReader) {
            if let pcap = reader as? PcapReader {
                self = .pcap(.passUnretained(pcap))
            } else if let pcapng = reader as? PcapngReader {
                self = .pcapng(.passUnretained(pcapng))
            } else {
                self = .other(reader)
            }
        }

        @inline(__always)
        func next() throws(PcapError) -> RawPacket? {
            switch self {
            case .pcap(let reader): try Self.next(reader)
            case .pcapng(let reader): try Self.next(reader)
            case .other(let reader): try reader.next()
            }
        }

        /// `_withUnsafeGuaranteedRef` rethrows untyped errors: the reader's is carried out beside it.
        @inline(__always)
        private static func next<Reader: CaptureFileReader>(_ reader: Unmanaged<Reader>) throws(PcapError) -> RawPacket? {
            var failure: PcapError?
            let packet = reader._withUnsafeGuaranteedRef { reader -> RawPacket? in
                do throws(PcapError) { return try reader.next() } catch { failure = error; return nil }
            }
            if let failure { throw failure }
            return packet
        }
    }
    private let sources: [Source]
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks. Each file's
    // next packet (nil once it ended or failed) is kept in flat storage: an array checked its
    // buffer's uniqueness on every store.
    @exclusivity(unchecked) private var heads: UnsafeMutableBufferPointer<RawPacket?>
    @exclusivity(unchecked) private var held = -1
    /// The first read error, in libpcap's or the pcapng reader's words.
    public private(set) var readError: String?

    public init(_ readers: [any CaptureFileReader]) {
        self.readers = readers
        sources = readers.map(Source.init)
        heads = .allocate(capacity: readers.count)
        heads.initialize(repeating: nil)
        for index in readers.indices { advance(index) }
    }

    deinit { heads.deallocate() }

    /// The earliest packet held and the index of its file, nil when every file has ended. The
    /// packet stays valid until the next call.
    public func next() -> (index: Int, packet: RawPacket)? {
        if held >= 0 { advance(held) }
        var best = -1
        var bestTime = Int64.max
        for index in heads.indices {
            guard let time = heads[index]?.timestamp.nanoseconds else { continue }
            if best < 0 || time < bestTime {
                best = index
                bestTime = time
            }
        }
        held = best
        guard best >= 0, let packet = heads[best] else { return nil }
        return (best, packet)
    }

    private func advance(_ index: Int) {
        do {
            heads[index] = try sources[index].next()
        } catch {
            heads[index] = nil
            readError = readError ?? error.message
        }
    }
}
