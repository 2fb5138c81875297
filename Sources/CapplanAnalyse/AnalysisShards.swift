public import CapplanPackets
import Foundation

/// The analysis on two cores. Each packet goes to one of two analyses by a hash of its flow that
/// is the same both ways, so every flow is wholly in one: the caller's thread (which also reads)
/// runs one, a worker thread the other, fed the packets' bytes in batches at most `inFlight` ahead.
/// The worker decodes what it analyses.
/// `finish` merges them into exactly what one analysis of every packet gives
/// (`ConnectionAnalyzer.absorb`), so the report is the same with one thread or two.
public final class AnalysisShards {
    // Touched for every packet by the caller's thread alone: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var local = ConnectionAnalyzer()
    @exclusivity(unchecked) private var batch = Batch()
    private let worker: Worker?
    private var begun = false
    /// The capture's first and last packets' times: the span, as one analysis would have it (a malformed capture's time may run backwards).
    private var first: Timestamp?
    private var last: Timestamp?
    /// The latest packet time so far, over every packet: both analyses expire flows by it.
    private var clock = Int64.min
    /// Of the `FlowBucket.count` shares of the flows, `workerBuckets` go to the worker: the caller's thread also
    /// reads. A few heavy flows make the split lumpy: each flow is wholly on one side.
    /// Measured on the benchmark capture once the worker decoded its own share: 5 and 6 of 8 took the same time,
    /// 4 and 7 longer (the other thread became the busier).
    static let workerBuckets: UInt64 = 6
    /// The worker's share here: `workerBuckets`, or every share when the caller's thread has other work
    /// running beside it (a path report's tracer thread).
    private let workerShare: UInt64
    static let batchSize = 2048

    /// `threads`: 1 analyses on the caller's thread alone; 2 (or more) adds the worker.
    /// `openFlowLimit`: as `ConnectionAnalyzer.openFlowLimit`, for the whole analysis.
    /// `recordLimit`: as `ConnectionAnalyzer.recordLimit`.
    /// `workerTakesAll`: with the worker, every flow is analysed there and none on the caller's thread.
    public init(threads: Int, openFlowLimit: Int? = nil, recordLimit: Int? = nil, workerTakesAll: Bool = false) {
        worker = threads > 1 ? Worker() : nil
        workerShare = workerTakesAll ? UInt64(FlowBucket.count) : Self.workerBuckets
        if let openFlowLimit {
            local.openFlowLimit = openFlowLimit
            worker?.analyzer.openFlowLimit = openFlowLimit
        }
        if let recordLimit {
            local.recordLimit = recordLimit
            worker?.analyzer.recordLimit = recordLimit
        }
    }

    /// The threads worth using here: two when the machine has them.
    public static var defaultThreads: Int { Threads.useful }

    /// One packet, as read. The worker's packets go to it as bytes, and it decodes them: most
    /// packets' bucket is read straight from their bytes, so this thread decodes only its own share.
    public func add(_ raw: UnsafeRawBufferPointer, decoder: PacketDecoder, number: Int, timestamp: Timestamp, originalLength: Int) {
        noteTime(timestamp)
        // The worker taking every flow, no packet's share needs working out.
        if worker != nil, workerShare == UInt64(FlowBucket.count) {
            toWorker(raw, kept: decoder.prefixForSegmentFields(raw, payload: 0), decoder: decoder, number: number, timestamp: timestamp,
                     originalLength: originalLength)
            return
        }
        guard worker != nil, let quick = decoder.quickTCPEndpointsAndHeaders(raw) else {
            place(raw, decoder: decoder, decoded: decoder.decode(raw), number: number, timestamp: timestamp, originalLength: originalLength)
            return
        }
        if FlowBucket.of(quick.source, quick.sourcePort, quick.destination, quick.destinationPort, ports: true) < workerShare {
            toWorker(raw, kept: quick.headers, decoder: decoder, number: number, timestamp: timestamp, originalLength: originalLength)
        } else {
            local.add(decoder.decode(raw), number: number, timestamp: timestamp, originalLength: originalLength, raw: raw, clock: clock)
        }
    }

    /// A packet its quick read could not place: decoded for its share, and kept decoded if it stays here.
    private func place(_ raw: UnsafeRawBufferPointer, decoder: PacketDecoder, decoded: DecodedPacket, number: Int, timestamp: Timestamp,
                       originalLength: Int) {
        if worker != nil, Self.bucket(decoded) < workerShare {
            toWorker(raw, kept: raw.count, decoder: decoder, number: number, timestamp: timestamp, originalLength: originalLength)
        } else {
            local.add(decoded, number: number, timestamp: timestamp, originalLength: originalLength, raw: raw, clock: clock)
        }
    }

    /// `kept`: the bytes the worker needs (`prefixForSegmentFields` with no payload). The analysis
    /// reads a plain TCP segment's headers and how much of its payload was captured, never the
    /// payload itself: a full-size capture's segments go over without it.
    private func toWorker(_ raw: UnsafeRawBufferPointer, kept: Int, decoder: PacketDecoder, number: Int, timestamp: Timestamp,
                          originalLength: Int) {
        batch.append(UnsafeRawBufferPointer(start: raw.baseAddress, count: kept), captured: raw.count, decoder: decoder, number: number, timestamp: timestamp,
                     originalLength: originalLength, clock: clock)
        if batch.count >= Self.batchSize, let worker {
            worker.submit(batch)
            batch = worker.spareBatch()
        }
    }

    private func noteTime(_ timestamp: Timestamp) {
        last = timestamp
        clock = max(clock, timestamp.nanoseconds)
        guard !begun else { return }
        begun = true
        first = timestamp
        local.begin(at: timestamp)
        worker?.start(at: timestamp)
    }

    /// Both analyses finished and merged.
    public func finish() -> ConnectionAnalyzer {
        // Without packets the worker never started: the analysis is the caller's alone.
        guard let worker, begun else {
            local.finish()
            return local
        }
        // The worker finishes its analysis on its own thread while this one finishes the other.
        batch.finishes = true
        worker.submit(batch)
        local.finish()
        // The worker holds most of the open flows: once it has analysed its last batch, half of
        // them are summarised here while it summarises the rest.
        worker.summariseCallersShare(into: &local)
        local.absorb(worker.finish())
        local.totals.first = first
        local.totals.last = last
        return local
    }

    /// Which share of the flows a packet belongs to (`FlowBucket`). ICMP goes by addresses alone,
    /// as do packets the analysis only counts.
    static func bucket(_ packet: DecodedPacket) -> UInt64 {
        guard packet.network == .ipv4 || packet.network == .ipv6 else { return 0 }
        let ports = (packet.transport == .tcp || packet.transport == .udp) && !packet.isLaterFragment
        return FlowBucket.of(packet.source, packet.sourcePort, packet.destination, packet.destinationPort, ports: ports)
    }

    /// Packets for the worker, copied out of the reader's buffer with the decoder for their link type.
    struct Batch: Sendable {
        struct Item: Sendable {
            var decoder: PacketDecoder
            var number: Int
            var timestamp: Timestamp
            var originalLength: Int
            var raw: Range<Int>
            /// The bytes captured, of which `raw` holds the first (a segment without its payload).
            var captured: Int
            var clock: Int64
        }

        let packets = PacketBatch<Item>(items: AnalysisShards.batchSize, bytes: AnalysisShards.batchSize * 128)
        /// The last batch: the worker finishes its analysis after it.
        var finishes = false

        var count: Int { packets.count }

        /// Mutating, though it writes through a reference: called in place, not on a copy of the
        /// batch that would retain and release the storage for every packet.
        @inline(__always)
        mutating func append(_ bytes: UnsafeRawBufferPointer, captured: Int, decoder: PacketDecoder, number: Int, timestamp: Timestamp,
                    originalLength: Int, clock: Int64) {
            let range = packets.append(bytes: bytes)
            packets.append(Item(decoder: decoder, number: number, timestamp: timestamp, originalLength: originalLength, raw: range, captured: captured,
                                clock: clock))
        }

        mutating func clear() {
            packets.removeAll()
            finishes = false
        }
    }

    /// The worker: a second thread (`HandOff`) that analyses the batches in order.
    final class Worker: @unchecked Sendable {
        /// The worker is allocated just after the caller's `AnalysisShards` (24 bytes after its
        /// `clock`, which the caller's thread writes for every packet), and the worker reads its
        /// analyser's first fields for every packet: without room between them the two threads
        /// shared cache lines (false sharing). Padded, a two-thread report used about 7% less CPU
        /// (80 alternating rounds on the benchmark capture).
        private let before = CacheLinePadding()
        /// Touched by the worker thread alone between `start` and `finish`: no dynamic exclusivity checks.
        @exclusivity(unchecked) var analyzer = ConnectionAnalyzer()
        /// And from whatever the heap puts after the worker.
        private let after = CacheLinePadding()
        private lazy var thread = HandOff<Batch>(name: "capplan analysis", inFlight: Threads.inFlightBesideAnotherConsumer) { [unowned self] batch in
            self.analyse(&batch)
        }

        func start(at first: Timestamp) {
            analyzer.begin(at: first)
            thread.start()
        }

        /// Waits while a few batches are already waiting: memory stays bounded.
        func submit(_ batch: Batch) { thread.submit(batch) }

        func spareBatch() -> Batch { thread.reuse() ?? Batch() }

        /// The worker's open flows when it reaches the last batch, for the caller's share of finishing them.
        private let held = Mailbox<FlowStore>()

        /// Waits for every batch to be analysed, the last one marked `finishes`; the worker's analysis, finished.
        func finish() -> ConnectionAnalyzer {
            thread.finish()
            return analyzer
        }

        /// Waits for the worker to reach the last batch, then summarises the caller's share of its
        /// open flows into `analysis` (the caller's own, finished) as the worker finishes the rest.
        func summariseCallersShare(into analysis: inout ConnectionAnalyzer) {
            let flows = held.take()
            analysis.summariseFinishing(flows, slots: Self.callersShare(of: flows.count))
        }

        /// The upper half of the slots: open flows lie about evenly through them.
        static func callersShare(of slots: Int) -> Range<Int> { slots / 2..<slots }

        private func analyse(_ batch: inout Batch) {
            let packets = batch.packets
            for item in packets.appended {
                let bytes = packets.bytes(item.raw)
                // Decoded straight into the call unless it needs mending: a copy of the decoded
                // packet costs about 60 instructions.
                guard bytes.count < item.captured else {
                    analyzer.add(item.decoder.decode(bytes), number: item.number, timestamp: item.timestamp, originalLength: item.originalLength,
                                 raw: bytes, clock: item.clock)
                    continue
                }
                // A segment sent without its payload: how much of that was captured, as decoding all of it says.
                var packet = item.decoder.decode(bytes)
                packet.capturedPayloadLength = max(0, min(packet.payloadLength, item.captured - packet.payloadOffset))
                analyzer.add(packet, number: item.number, timestamp: item.timestamp, originalLength: item.originalLength, raw: bytes, clock: item.clock)
            }
            if batch.finishes {
                let flows = analyzer.heldFlows
                held.put(flows)
                analyzer.finish(leaving: Self.callersShare(of: flows.count))
            }
            batch.clear()
        }
    }
}
