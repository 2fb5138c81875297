/// Several capture files read as one stream in time order: each file's next packet is held and the
/// earliest goes first (the first file on a tie). A file that fails to read ends there; the first
/// such error is kept and the others read on.
public final class MergedReaders {
    private let readers: [any CaptureFileReader]
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks. Each file's
    // packets are read in batches (`CaptureFileReader.next(into:limit:)`): one call through the
    // protocol per batch, not per packet.
    @exclusivity(unchecked) private var batches: [[RawPacket]]
    /// Per file, where its next packet is in its batch.
    @exclusivity(unchecked) private var taken: UnsafeMutableBufferPointer<Int>
    /// Per file, its next packet's time and whether it has one (false once it ended or failed):
    /// the comparison reads these alone, and the packet itself is read from its batch only when
    /// it goes out (copying each into a slot of its own cost as much again as the comparison).
    @exclusivity(unchecked) private var times: UnsafeMutableBufferPointer<Int64>
    @exclusivity(unchecked) private var live: UnsafeMutableBufferPointer<Bool>
    @exclusivity(unchecked) private var held = -1
    /// The first read error, in libpcap's or the pcapng reader's words.
    public private(set) var readError: String?

    public init(_ readers: [any CaptureFileReader]) {
        self.readers = readers
        batches = Array(repeating: [], count: readers.count)
        taken = .allocate(capacity: readers.count)
        taken.initialize(repeating: 0)
        times = .allocate(capacity: readers.count)
        times.initialize(repeating: 0)
        live = .allocate(capacity: readers.count)
        live.initialize(repeating: true)
        for index in readers.indices { refill(index) }
    }

    deinit {
        taken.deallocate()
        times.deallocate()
        live.deallocate()
    }

    /// The earliest packet held and the index of its file, nil when every file has ended. The
    /// packet stays valid until the next call.
    public func next() -> (index: Int, packet: RawPacket)? {
        if held >= 0 { advance(held) }
        var best = -1
        var bestTime = Int64.max
        for index in times.indices where live[index] && (best < 0 || times[index] < bestTime) {
            best = index
            bestTime = times[index]
        }
        held = best
        guard best >= 0 else { return nil }
        return (best, batches[best][taken[best]])
    }

    /// The file's next packet: the next of its batch, or the first of a new one once the last was
    /// handed out (and is no longer used: reading may move its bytes).
    private func advance(_ index: Int) {
        let next = taken[index] + 1
        guard next < batches[index].count else { return refill(index) }
        taken[index] = next
        times[index] = batches[index][next].timestamp.nanoseconds
    }

    private func refill(_ index: Int) {
        do {
            try readers[index].next(into: &batches[index], limit: captureBatchLimit)
        } catch {
            batches[index].removeAll()
            readError = readError ?? error.message
        }
        guard let first = batches[index].first else {
            live[index] = false
            return
        }
        taken[index] = 0
        times[index] = first.timestamp.nanoseconds
    }
}
