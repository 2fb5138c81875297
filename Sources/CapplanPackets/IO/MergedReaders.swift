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
            // `_withUnsafeGuaranteedRef` rethrows untyped errors: the reader's is carried out beside it.
            var failure: PcapError?
            let packet: RawPacket?
            switch self {
            case .pcap(let reader):
                packet = reader._withUnsafeGuaranteedRef { reader -> RawPacket? in
                    do throws(PcapError) { return try reader.next() } catch { failure = error; return nil }
                }
            case .pcapng(let reader):
                packet = reader._withUnsafeGuaranteedRef { reader -> RawPacket? in
                    do throws(PcapError) { return try reader.next() } catch { failure = error; return nil }
                }
            case .other(let reader):
                return try reader.next()
            }
            if let failure { throw failure }
            return packet
        }
    }
    private let sources: [Source]
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks. Each file's
    // next packet is kept in flat storage, not an array of optionals, which checked its buffer's
    // uniqueness on every store.
    @exclusivity(unchecked) private var heads: UnsafeMutableBufferPointer<RawPacket>
    /// Whether each file has a packet in `heads` (false once it ended or failed).
    @exclusivity(unchecked) private var live: UnsafeMutableBufferPointer<Bool>
    @exclusivity(unchecked) private var held = -1
    /// The first read error, in libpcap's or the pcapng reader's words.
    public private(set) var readError: String?

    public init(_ readers: [any CaptureFileReader]) {
        self.readers = readers
        sources = readers.map(Source.init)
        heads = .allocate(capacity: readers.count)
        heads.initialize(repeating: RawPacket(timestamp: Timestamp(nanoseconds: 0), originalLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0)))
        live = .allocate(capacity: readers.count)
        live.initialize(repeating: false)
        for index in readers.indices { advance(index) }
    }

    deinit {
        heads.deallocate()
        live.deallocate()
    }

    /// The earliest packet held and the index of its file, nil when every file has ended. The
    /// packet stays valid until the next call.
    public func next() -> (index: Int, packet: RawPacket)? {
        if held >= 0 { advance(held) }
        var best = -1
        var bestTime = Int64.max
        for index in 0..<heads.count where live[index] {
            if best < 0 || heads[index].timestamp.nanoseconds < bestTime {
                best = index
                bestTime = heads[index].timestamp.nanoseconds
            }
        }
        held = best
        return best < 0 ? nil : (best, heads[best])
    }

    private func advance(_ index: Int) {
        do {
            if let packet = try sources[index].next() {
                heads[index] = packet
                live[index] = true
                return
            }
        } catch {
            readError = readError ?? error.message
        }
        live[index] = false
    }
}
