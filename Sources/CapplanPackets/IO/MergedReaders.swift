/// Several capture files read as one stream in time order: each file's next packet is held and the
/// earliest goes first (the first file on a tie). A file that fails to read ends there; the first
/// such error is kept and the others read on.
public final class MergedReaders {
    /// One packet of the merged stream and the index of its file.
    public typealias Merged = (index: Int, packet: RawPacket)

    private let readers: [any CaptureFileReader]
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks. Each file's
    // packets are read in batches (`CaptureFileReader.next(into:limit:)`): one call through the
    // protocol per batch, not per packet. Internal to the module but for `next`, which the
    // caller's loop inlines.
    @usableFromInline @exclusivity(unchecked) var batches: [[RawPacket]]
    /// Per file, where its next packet is in its batch.
    @usableFromInline @exclusivity(unchecked) var taken: UnsafeMutableBufferPointer<Int>
    /// Per file, its next packet's time (the latest there is once it ended): the comparison reads
    /// the times alone, and the packet itself is read from its batch only when it goes out. A file
    /// has ended (or failed) when its batch is empty after `refill`.
    @usableFromInline @exclusivity(unchecked) var times: UnsafeMutableBufferPointer<Int64>
    /// The file whose batch gave out its last packet: refilled at the next call (that packet was
    /// in use until then).
    @usableFromInline @exclusivity(unchecked) var spent = -1
    /// The first read error, in libpcap's or the pcapng reader's words.
    public private(set) var readError: String?

    public init(_ readers: [any CaptureFileReader]) {
        self.readers = readers
        batches = Array(repeating: [], count: readers.count)
        taken = .allocate(capacity: readers.count)
        taken.initialize(repeating: 0)
        times = .allocate(capacity: readers.count)
        times.initialize(repeating: 0)
        for index in readers.indices { refill(index) }
    }

    deinit {
        taken.deallocate()
        times.deallocate()
    }

    /// The next packet in time order and its file's index, nil once every file has ended. It stays
    /// valid until the next call. Inlined into the caller's loop: with the packets handed out in
    /// runs (copied into a buffer, then read again by the caller's loop), merging and handing out
    /// took about 100 instructions a packet; inlined, about 75.
    @inlinable @inline(__always)
    public func next() -> Merged? {
        if spent >= 0 {
            refill(spent)
            spent = -1
        }
        // In locals, so that the scan does not load them from the object again after each store.
        let times = self.times, taken = self.taken
        guard times.count > 0 else { return nil }
        // An ended file's time is the latest there is, so the scan need not ask which have ended.
        var best = 0
        var bestTime = times[0]
        for index in 1..<times.count where times[index] < bestTime {
            best = index
            bestTime = times[index]
        }
        if bestTime == .max {
            // Every file ended, or the only ones left hold a packet of the latest time there is.
            guard let first = batches.firstIndex(where: { !$0.isEmpty }) else { return nil }
            best = first
        }
        let at = taken[best]
        let batch = batches[best]
        let packet = batch[at]
        if at + 1 < batch.count {
            taken[best] = at + 1
            times[best] = batch[at + 1].timestamp.nanoseconds
        } else {
            // Refilled at the next call: this packet's bytes are in that batch.
            spent = best
        }
        return (best, packet)
    }

    /// Reads the file's next batch; a file with none left (or that failed) has ended.
    @usableFromInline func refill(_ index: Int) {
        do {
            try readers[index].next(into: &batches[index], limit: captureBatchLimit)
        } catch {
            batches[index].removeAll()
            readError = readError ?? error.message
        }
        guard let first = batches[index].first else {
            times[index] = .max
            return
        }
        taken[index] = 0
        times[index] = first.timestamp.nanoseconds
    }
}
