public import CapplanPackets

/// The path tracer, fed packets as read and run where it does not hold up the reading: on a
/// thread of its own (`HandOff`) when `threads` > 1, which decodes each point's packets and follows
/// them in the order they were handed over; otherwise on the caller's thread. The reading thread
/// only copies the bytes, so reading three points, the tracer and the veth's analysis run side by
/// side. The result is the same either way: one tracer sees every packet in order.
public final class TracingThread: @unchecked Sendable {
    // `tracer` and `report` are touched by the tracing thread alone until `waitForReport` (HandOff
    // hands them back), `batch` by the caller's: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var tracer: PathTracer
    /// The tracer's state and the batch being filled are written by different threads for every
    /// packet: kept off each other's cache lines.
    private let apart = CacheLinePadding()
    @exclusivity(unchecked) private var batch = Batch()
    @exclusivity(unchecked) private var latestData = LatestData()
    @exclusivity(unchecked) private var report: PathReport?
    private let decoders: [PacketDecoder]
    @exclusivity(unchecked) private var thread: HandOff<Batch>?
    static let batchSize = 2048

    /// `decoders`: one per point, in the points' order.
    public init(points: [PathPoint], decoders: [PacketDecoder], threads: Int) {
        tracer = PathTracer(points: points)
        self.decoders = decoders
        if threads > 1 {
            let thread = HandOff<Batch>(name: "capplan path", inFlight: Threads.inFlightBesideAnotherConsumer) { [unowned self] batch in self.trace(&batch) }
            thread.start()
            self.thread = thread
        }
    }

    /// One packet as read at `point`; its bytes are copied, so the reader may reuse its buffer.
    public func add(_ raw: UnsafeRawBufferPointer, point: Int, number: Int, timestamp: Timestamp) {
        // A bare ACK is nothing the tracer follows (`PathTracer.describe`): most of a bulk
        // transfer's return traffic, passed by here without a copy or a decode. Of a segment the
        // tracer reads the headers and the start of the payload: a full-size capture's 1,500-byte
        // segments are not copied whole to be hashed 16 bytes deep.
        guard let (kept, addresses, ports) = decoders[point].prefixAndDataFlow(raw, payload: PathTracer.hashedPayload) else { return }
        take(UnsafeRawBufferPointer(start: raw.baseAddress, count: kept), point: point, number: number, timestamp: timestamp,
             dataFlow: (addresses, ports))
    }

    /// A packet the tracer may follow. Out of line, so that passing a bare ACK by costs `add` no
    /// more than the check: with this inline, `add` saved and restored the registers this needs
    /// for every packet (17 instructions a call, on the reading thread). `dataFlow`: a data
    /// segment's connection one way (`prefixAndDataFlow`), zeros for anything else (`LatestData`).
    @inline(never)
    private func take(_ raw: UnsafeRawBufferPointer, point: Int, number: Int, timestamp: Timestamp, dataFlow: (addresses: UInt64, ports: UInt32)) {
        // Compared with nil, not bound, per packet: binding the thread would retain and release it each time.
        if thread == nil {
            follow(raw, point: point, number: number, timestamp: timestamp)
            return
        }
        if dataFlow.addresses != 0 {
            let slot = latestData.slot(point: point, dataFlow.addresses, dataFlow.ports)
            if let index = latestData.item(slot, point: point, dataFlow.addresses, dataFlow.ports),
               case let earlier = batch.packets.item(at: index), earlier.raw.count == raw.count {
                batch.packets.replace(at: index, with: Batch.Item(point: point, number: number, timestamp: timestamp, raw: earlier.raw),
                                      bytes: raw, at: earlier.raw)
                return
            }
            latestData.note(slot, point: point, dataFlow.addresses, dataFlow.ports, item: batch.packets.count)
        }
        batch.append(raw, point: point, number: number, timestamp: timestamp)
        if batch.packets.count >= Self.batchSize { handOver() }
    }

    private func handOver() {
        guard let thread else { return }
        thread.submit(batch)
        batch = thread.reuse() ?? Batch()
        latestData.forget()
    }

    /// After the last packet: the thread follows what is left and then builds the report
    /// (`start`: the time the report counts from), while the caller goes on with its own.
    public func finish(start: Timestamp?) {
        guard let thread else {
            report = tracer.report(start: start)
            return
        }
        batch.reportFrom = .some(start)
        thread.submit(batch)
        batch = Batch()
        latestData.forget()
    }

    /// Waits for the report `finish(start:)` asked for.
    public func waitForReport() -> PathReport {
        thread?.finish()
        return report ?? tracer.report(start: nil)
    }

    private func trace(_ batch: inout Batch) {
        let packets = batch.packets
        for item in packets.appended {
            follow(packets.bytes(item.raw), point: item.point, number: item.number, timestamp: item.timestamp)
        }
        if let start = batch.reportFrom { report = tracer.report(start: start) }
        batch.clear()
    }

    /// A plain TCP segment is read straight from its bytes, the rest decoded in full.
    @inline(__always)
    private func follow(_ raw: UnsafeRawBufferPointer, point: Int, number: Int, timestamp: Timestamp) {
        if let segment = decoders[point].quickTCPSegment(raw) {
            tracer.add(segment, point: point, number: number, timestamp: timestamp, raw: raw)
        } else {
            tracer.add(decoders[point].decode(raw), point: point, number: number, timestamp: timestamp, raw: raw)
        }
    }

    /// Packets for the tracing thread, copied out of the readers' buffers.
    struct Batch: Sendable {
        struct Item: Sendable {
            var point: Int
            var number: Int
            var timestamp: Timestamp
            var raw: Range<Int>
        }

        let packets = PacketBatch<Item>(items: TracingThread.batchSize, bytes: TracingThread.batchSize * 128)
        /// Set on the last batch: build the report, counting from this time, once it is followed.
        var reportFrom: Timestamp??

        /// Mutating, though it writes through a reference: called in place, not on a copy of the
        /// batch that would retain and release the storage for every packet.
        @inline(__always)
        mutating func append(_ bytes: UnsafeRawBufferPointer, point: Int, number: Int, timestamp: Timestamp) {
            packets.append(Item(point: point, number: number, timestamp: timestamp, raw: packets.append(bytes: bytes)))
        }

        mutating func clear() {
            packets.removeAll()
            reportFrom = nil
        }
    }
}

/// Where the batch being filled holds each connection's latest data segment, one way, at a point:
/// a data segment of a bulk transfer takes the place of the one before it in the batch (when
/// as many bytes were kept of both). The tracer keeps a connection's last data segment each way
/// at each point, and does with any other data segment only what depends on where it goes (its
/// connection's view, found or made at the earlier segment's place): the one in the earlier's
/// place leaves it as both would have. A bulk transfer's segments were most of what the tracer's
/// thread was handed. Direct-mapped, a hit checked against the connection; a batch handed over
/// makes every entry stale (`generation`), without clearing them.
struct LatestData {
    private struct Entry {
        var addresses: UInt64 = 0
        var ports: UInt32 = 0
        var point: Int32 = -1
        var item: Int32 = 0
        var generation: Int32 = -1
    }

    private var entries = [Entry](repeating: Entry(), count: 512)
    private var generation: Int32 = 0

    @inline(__always)
    func slot(point: Int, _ addresses: UInt64, _ ports: UInt32) -> Int {
        let mixed = (addresses ^ UInt64(ports) << 17 ^ UInt64(truncatingIfNeeded: point) << 41) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed >> 55)
    }

    /// Where in the batch the connection's latest data segment is, if the slot holds it.
    @inline(__always)
    func item(_ slot: Int, point: Int, _ addresses: UInt64, _ ports: UInt32) -> Int? {
        let entry = entries[slot]
        let holds = entry.generation == generation && entry.addresses == addresses && entry.ports == ports && Int(entry.point) == point
        return holds ? Int(entry.item) : nil
    }

    @inline(__always)
    mutating func note(_ slot: Int, point: Int, _ addresses: UInt64, _ ports: UInt32, item: Int) {
        entries[slot] = Entry(addresses: addresses, ports: ports, point: Int32(truncatingIfNeeded: point), item: Int32(item), generation: generation)
    }

    /// The batch was handed over: no entry points into the next one.
    mutating func forget() { generation &+= 1 }
}
