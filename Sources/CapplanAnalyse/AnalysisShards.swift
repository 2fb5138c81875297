public import CapplanPackets
import Foundation

/// The analysis on two cores. Each packet goes to one of two analyses by a hash of its flow that
/// is the same both ways, so every flow is wholly in one: the caller's thread (which also reads
/// and decodes) runs one, a worker thread the other, fed in batches at most `inFlight` ahead.
/// `finish` merges them into exactly what one analysis of every packet gives
/// (`ConnectionAnalyzer.merged`), so the report is the same with one thread or two.
public final class AnalysisShards {
    // Touched for every packet by the caller's thread alone: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var local = ConnectionAnalyzer()
    @exclusivity(unchecked) private var batch = Batch()
    private let worker: Worker?
    private let split: Bool
    private var begun = false
    /// The capture's first and last packets' times: the span, as one analysis would have it (a malformed capture's time may run backwards).
    private var first: Timestamp?
    private var last: Timestamp?
    /// The latest packet time so far, over every packet: both analyses expire flows by it.
    private var clock = Int64.min
    /// Of every `buckets` flow hashes, `workerBuckets` go to the worker: the caller's thread also reads and decodes.
    /// A few heavy flows make the split lumpy: each flow is wholly on one side.
    static let buckets: UInt64 = 8
    /// Measured on the benchmark capture: 6 of 8 left the caller's thread (reading and decoding) the busier one still.
    static let workerBuckets: UInt64 = 6
    static let batchSize = 2048

    /// `threads`: 1 analyses on the caller's thread alone; 2 (or more) adds the worker.
    public init(threads: Int) {
        worker = threads > 1 ? Worker() : nil
        split = worker != nil
    }

    /// The threads worth using here: two when the machine has them.
    public static var defaultThreads: Int { min(2, ProcessInfo.processInfo.activeProcessorCount) }

    public func add(_ packet: DecodedPacket, number: Int, timestamp: Timestamp, originalLength: Int, raw: UnsafeRawBufferPointer) {
        last = timestamp
        clock = max(clock, timestamp.nanoseconds)
        if !begun {
            begun = true
            first = timestamp
            local.begin(at: timestamp)
            worker?.start(at: timestamp)
        }
        guard split, Self.bucket(packet) < Self.workerBuckets else {
            local.add(packet, number: number, timestamp: timestamp, originalLength: originalLength, raw: raw, clock: clock)
            return
        }
        batch.append(packet, number: number, timestamp: timestamp, originalLength: originalLength, raw: raw, clock: clock)
        if batch.count >= Self.batchSize, let worker {
            worker.submit(batch)
            batch = worker.spareBatch()
        }
    }

    /// Both analyses finished and merged.
    public func finish() -> ConnectionAnalyzer {
        local.finish()
        guard let worker else { return local }
        if batch.count > 0 { worker.submit(batch) }
        var whole = ConnectionAnalyzer.merged([local, worker.finish()])
        whole.totals.first = first
        whole.totals.last = last
        return whole
    }

    /// Which share of the flows a packet belongs to: a hash of its addresses (and, for TCP and UDP,
    /// ports) that does not depend on the direction. ICMP goes by addresses alone, as do packets
    /// the analysis only counts.
    static func bucket(_ packet: DecodedPacket) -> UInt64 {
        guard packet.network == .ipv4 || packet.network == .ipv6 else { return 0 }
        let ports = (packet.transport == .tcp || packet.transport == .udp) && !packet.isLaterFragment
        func endpoint(_ address: IPAddress, _ port: UInt16) -> UInt64 {
            var h = (address.low ^ address.high &* 0x9E37_79B9_7F4A_7C15) &+ (ports ? UInt64(port) << 48 : 0)
            h ^= h >> 31
            h &*= 0xBF58_476D_1CE4_E5B9
            return h ^ (h >> 29)
        }
        var h = endpoint(packet.source, packet.sourcePort) &+ endpoint(packet.destination, packet.destinationPort)
        h ^= h >> 32
        h &*= 0x94D0_49BB_1331_11EB
        h ^= h >> 29
        return h % buckets
    }

    /// Packets for the worker, copied out of the reader's buffer: the decoded packet, and its bytes
    /// only where the analysis reads them (DNS names).
    struct Batch: Sendable {
        struct Item: Sendable {
            var packet: DecodedPacket
            var number: Int
            var timestamp: Timestamp
            var originalLength: Int
            var raw: Range<Int>
            var clock: Int64
        }

        var items: [Item] = []
        var raw: [UInt8] = []

        var count: Int { items.count }

        mutating func append(_ packet: DecodedPacket, number: Int, timestamp: Timestamp, originalLength: Int, raw bytes: UnsafeRawBufferPointer,
                             clock: Int64) {
            let start = raw.count
            if packet.dns != nil { raw.append(contentsOf: bytes) }
            items.append(Item(packet: packet, number: number, timestamp: timestamp, originalLength: originalLength, raw: start..<raw.count, clock: clock))
        }

        mutating func clear() {
            items.removeAll(keepingCapacity: true)
            raw.removeAll(keepingCapacity: true)
        }
    }

    /// The worker thread: analyses the batches it is handed, in order; empties go back for reuse.
    final class Worker: @unchecked Sendable {
        private let condition = NSCondition()
        private var queue: [Batch] = []
        private var spare: [Batch] = []
        private var closed = false
        private var done = true  // until started

        private var analyzer = ConnectionAnalyzer()
        static let inFlight = 4

        func start(at first: Timestamp) {
            analyzer.begin(at: first)
            done = false
            let thread = Thread { [self] in run() }
            thread.name = "capplan analysis"
            thread.start()
        }

        /// Waits while `inFlight` batches are already waiting: memory stays bounded.
        func submit(_ batch: Batch) {
            condition.lock()
            while queue.count >= Self.inFlight { condition.wait() }
            queue.append(batch)
            condition.broadcast()
            condition.unlock()
        }

        func spareBatch() -> Batch {
            condition.lock()
            defer { condition.unlock() }
            return spare.popLast() ?? Batch()
        }

        /// Waits for every batch to be analysed; the worker's analysis, finished.
        func finish() -> ConnectionAnalyzer {
            condition.lock()
            closed = true
            condition.broadcast()
            while !done { condition.wait() }
            condition.unlock()
            analyzer.finish()
            return analyzer
        }

        private func run() {
            while true {
                condition.lock()
                while queue.isEmpty && !closed { condition.wait() }
                guard !queue.isEmpty else {
                    done = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                var batch = queue.removeFirst()
                condition.broadcast()
                condition.unlock()
                batch.raw.withUnsafeBytes { raw in
                    for item in batch.items {
                        analyzer.add(item.packet, number: item.number, timestamp: item.timestamp, originalLength: item.originalLength,
                                     raw: UnsafeRawBufferPointer(rebasing: raw[item.raw]), clock: item.clock)
                    }
                }
                batch.clear()
                condition.lock()
                spare.append(batch)
                condition.unlock()
            }
        }
    }
}
