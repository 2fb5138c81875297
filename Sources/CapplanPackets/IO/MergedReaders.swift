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

        func next() -> Result<RawPacket?, PcapError> {
            switch self {
            case .pcap(let reader): reader._withUnsafeGuaranteedRef { reader in Result { () throws(PcapError) in try reader.next() } }
            case .pcapng(let reader): reader._withUnsafeGuaranteedRef { reader in Result { () throws(PcapError) in try reader.next() } }
            case .other(let reader): Result { () throws(PcapError) in try reader.next() }
            }
        }
    }
    private let sources: [Source]
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var heads: [RawPacket?]
    @exclusivity(unchecked) private var held: Int?
    /// The first read error, in libpcap's or the pcapng reader's words.
    public private(set) var readError: String?

    public init(_ readers: [any CaptureFileReader]) {
        self.readers = readers
        sources = readers.map(Source.init)
        heads = Array(repeating: nil, count: readers.count)
        for index in readers.indices { advance(index) }
    }

    /// The earliest packet held and the index of its file, nil when every file has ended. The
    /// packet stays valid until the next call.
    public func next() -> (index: Int, packet: RawPacket)? {
        if let held { advance(held) }
        var best = -1
        var bestTime = Int64.max
        for index in heads.indices {
            guard let head = heads[index] else { continue }
            if best < 0 || head.timestamp.nanoseconds < bestTime {
                best = index
                bestTime = head.timestamp.nanoseconds
            }
        }
        guard best >= 0, let packet = heads[best] else {
            held = nil
            return nil
        }
        held = best
        return (best, packet)
    }

    private func advance(_ index: Int) {
        switch sources[index].next() {
        case .success(let packet):
            heads[index] = packet
        case .failure(let error):
            heads[index] = nil
            readError = readError ?? error.message
        }
    }
}
