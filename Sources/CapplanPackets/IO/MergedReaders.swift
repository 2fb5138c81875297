/// Several capture files read as one stream in time order: each file's next packet is held and the
/// earliest goes first (the first file on a tie). A file that fails to read ends there; the first
/// such error is kept and the others read on.
public final class MergedReaders {
    /// One packet of the merged stream and the index of its file.
    public typealias Merged = (index: Int, packet: RawPacket)

    private let readers: [any CaptureFileReader]
    // Touched per packet by the reading thread alone: no dynamic exclusivity checks. Each file's
    // packets are read in batches (`CaptureFileReader.next(into:limit:)`): one call through the
    // protocol per batch, not per packet.
    @exclusivity(unchecked) private var batches: [[RawPacket]]
    /// Per file, where its next packet is in its batch.
    @exclusivity(unchecked) private var taken: UnsafeMutableBufferPointer<Int>
    /// Per file, its next packet's time (the latest there is once it ended) and whether it has one
    /// (false once it ended or failed): the comparison reads the times alone, and the packet itself
    /// is read from its batch only when it goes out.
    @exclusivity(unchecked) private var times: UnsafeMutableBufferPointer<Int64>
    @exclusivity(unchecked) private var live: UnsafeMutableBufferPointer<Bool>
    /// The file whose batch ran out at the end of the last run: refilled at the start of the next
    /// (its packets were in use until then).
    @exclusivity(unchecked) private var spent = -1
    /// Where a run is put: room for every file's whole batch.
    @exclusivity(unchecked) private var run: UnsafeMutableBufferPointer<Merged>
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
        run = .allocate(capacity: max(1, readers.count * captureBatchLimit))
        for index in readers.indices { refill(index) }
    }

    deinit {
        taken.deallocate()
        times.deallocate()
        live.deallocate()
        run.deallocate()
    }

    /// The next packets in time order: as many as go out before one file's batch runs out, at
    /// least one, none once every file has ended. They stay valid until the next call. A run,
    /// not a packet, per call: the caller's loop over it costs no call and no optional a packet.
    public func nextRun() -> UnsafeBufferPointer<Merged> {
        if spent >= 0 { refill(spent) }
        spent = -1
        // In locals, so that the loop does not load them from the object again after each store.
        let times = self.times, taken = self.taken, run = self.run
        guard times.count > 0 else { return UnsafeBufferPointer(rebasing: run[..<0]) }
        var count = 0
        // A run holds at most each file's batch, which its reader keeps within `captureBatchLimit`.
        while count < run.count {
            // An ended file's time is the latest there is, so the scan need not ask which have ended.
            var best = 0
            var bestTime = times[0]
            for index in 1..<times.count where times[index] < bestTime {
                best = index
                bestTime = times[index]
            }
            if bestTime == .max {
                // Every file ended, or the only ones left hold a packet of the latest time there is.
                guard let first = live.firstIndex(of: true) else { break }
                best = first
            }
            let at = taken[best]
            let batch = batches[best]
            run[count] = (best, batch[at])
            count += 1
            guard at + 1 < batch.count else {
                spent = best
                break
            }
            taken[best] = at + 1
            times[best] = batch[at + 1].timestamp.nanoseconds
        }
        return UnsafeBufferPointer(rebasing: run[..<count])
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
            times[index] = .max
            return
        }
        taken[index] = 0
        times[index] = first.timestamp.nanoseconds
    }
}
