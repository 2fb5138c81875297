/// Several capture files read as one stream in time order: each file's next packet is held and the
/// earliest goes first (the first file on a tie). A file that fails to read ends there; the first
/// such error is kept and the others read on.
public final class MergedReaders {
    private let readers: [any CaptureFileReader]
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks. Each file's
    // packets are read in batches (`CaptureFileReader.next(into:limit:)`): one call through the
    // protocol per batch, not per packet.
    @exclusivity(unchecked) private var batches: [[RawPacket]]
    /// Per file, how many of its batch have been held.
    @exclusivity(unchecked) private var taken: UnsafeMutableBufferPointer<Int>
    /// Each file's next packet (nil once it ended or failed), in flat storage for the comparison:
    /// an array checked its buffer's uniqueness on every store.
    @exclusivity(unchecked) private var heads: UnsafeMutableBufferPointer<RawPacket?>
    @exclusivity(unchecked) private var held = -1
    /// The first read error, in libpcap's or the pcapng reader's words.
    public private(set) var readError: String?

    public init(_ readers: [any CaptureFileReader]) {
        self.readers = readers
        batches = Array(repeating: [], count: readers.count)
        taken = .allocate(capacity: readers.count)
        taken.initialize(repeating: 0)
        heads = .allocate(capacity: readers.count)
        heads.initialize(repeating: nil)
        for index in readers.indices { advance(index) }
    }

    deinit {
        taken.deallocate()
        heads.deallocate()
    }

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

    /// The file's next packet to its head: the next of its batch, or the first of a new one once
    /// the last was handed out (and is no longer used: reading may move its bytes).
    private func advance(_ index: Int) {
        if taken[index] < batches[index].count {
            heads[index] = batches[index][taken[index]]
            taken[index] += 1
            return
        }
        do {
            try readers[index].next(into: &batches[index], limit: captureBatchLimit)
            heads[index] = batches[index].first
            taken[index] = 1
        } catch {
            heads[index] = nil
            readError = readError ?? error.message
        }
    }
}
