internal import CPcap
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Packets from pcap streams on file descriptors (`tcpdump -U -w -` over `kubectl exec`),
/// read by libpcap, merged in timestamp order. Each stream is read on its own thread, which
/// blocks on its pipe; the capture loop takes what they queued every `pollInterval`.
/// A packet is passed on once every stream still running has sent one at least as late (each
/// stream is in time order), or, past a stream that is quiet or slow, once the packet has waited
/// `mergeWindow` since it arrived here (by its arrival, not its timestamp: the nodes' clocks differ).
public final class PcapStreams: PacketSource {
    public let interfaces: [String]
    public private(set) var linkType: Int32 = 0
    public private(set) var snaplen = 0
    public var mergeWindow: Int64 = 2_000_000_000
    public var pollInterval: TimeInterval = 0.02
    /// Called once when the capture is asked to stop: it should make every stream's writer
    /// flush and exit (tcpdump on SIGINT), so that the rest is collected up to its end.
    public var onStop: () -> Void = {}
    /// How long to wait, after `onStop`, for every stream to end.
    public var collectTimeout: TimeInterval = 15
    /// True when even the collection should be given up (a second Ctrl-C).
    public var abandon: () -> Bool = { false }
    public private(set) var endedEarly: String?
    /// What to do about a stream that ended while the run goes on (`why` in libpcap's or plain
    /// words): read the point again from a new descriptor, try again later, or give it up. Unset,
    /// the capture ends once every stream has ended. Called on the capture loop.
    public var resume: ((_ index: Int, _ why: String) -> Resumption)?

    public enum Resumption {
        case reopen(Int32)
        case later
        case giveUp
    }

    private let streams: [Stream]
    private var merger: PacketMerger
    private var givenUp: Set<Int> = []

    /// One stream's reader thread and what it handed over.
    final class Stream: @unchecked Sendable {
        let name: String
        /// The descriptor the current reader reads (a new one when the point is read again).
        private var descriptor: Int32
        private let lock = NSLock()
        private let opened = DispatchSemaphore(value: 0)
        private var queue: [PacketMerger.Owned] = []
        private(set) var header: (linkType: Int32, snaplen: Int)?
        /// libpcap's message when the stream could not be read to its end.
        private(set) var failure: String?
        private(set) var ended = false
        private(set) var count = 0
        /// The time of the latest packet read: nothing earlier comes from this stream any more.
        private(set) var latest = Int64.min
        /// When the current reader got its writer's pcap header, and when the stream ended.
        private(set) var openedAt: Date?
        private(set) var endedAt: Date?

        init(name: String, descriptor: Int32) {
            self.name = name
            self.descriptor = descriptor
        }

        func start() {
            lock.lock()
            let descriptor = self.descriptor
            lock.unlock()
            let thread = Thread { [self] in read(descriptor) }
            thread.name = "capplan stream \(name)"
            thread.start()
        }

        /// Reads the point again from `descriptor` (its writer started anew), into the same queue.
        func reopen(_ descriptor: Int32) {
            lock.lock()
            self.descriptor = descriptor
            ended = false
            failure = nil
            endedAt = nil
            lock.unlock()
            start()
        }

        private func read(_ descriptor: Int32) {
            var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
            guard let file = fdopen(descriptor, "r") else {
                finish(failure: "fdopen: \(String(cString: strerror(errno)))", headerSeen: false)
                return
            }
            // Blocks until the writer sent the file header.
            guard let handle = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer) else {
                fclose(file)
                finish(failure: PcapReader.message(errorBuffer), headerSeen: false)
                return
            }
            lock.lock()
            let earlier = header
            header = earlier ?? (pcap_datalink(handle), Int(pcap_snapshot(handle)))
            openedAt = Date()
            lock.unlock()
            // A point read again must bring the same link type as before.
            if let earlier, earlier.linkType != pcap_datalink(handle) {
                pcap_close(handle)
                finish(failure: "read again, it brought link type \(pcap_datalink(handle)) instead of \(earlier.linkType)", headerSeen: true)
                return
            }
            opened.signal()
            var failure: String?
            while true {
                var packetHeader: UnsafeMutablePointer<pcap_pkthdr>?
                var data: UnsafePointer<UInt8>?
                let result = pcap_next_ex(handle, &packetHeader, &data)
                if result == PCAP_ERROR_BREAK { break }  // the end of the stream
                guard result == 1, let packetHeader, let data else {
                    failure = String(cString: pcap_geterr(handle))
                    break
                }
                let time = Int64(packetHeader.pointee.ts.tv_sec) * 1_000_000_000 + Int64(packetHeader.pointee.ts.tv_usec)
                let packet = PacketMerger.Owned(timestamp: Timestamp(nanoseconds: time), originalLength: Int(packetHeader.pointee.len),
                                                bytes: Array(UnsafeBufferPointer(start: data, count: Int(packetHeader.pointee.caplen))),
                                                arrival: PcapStreams.monotonic())
                lock.lock()
                queue.append(packet)
                count += 1
                latest = max(latest, time)
                lock.unlock()
            }
            pcap_close(handle)  // closes the FILE and the descriptor
            finish(failure: failure, headerSeen: true)
        }

        private func finish(failure: String?, headerSeen: Bool) {
            lock.lock()
            self.failure = failure
            ended = true
            endedAt = Date()
            lock.unlock()
            if !headerSeen { opened.signal() }
        }

        func waitForHeader(until deadline: DispatchTime) -> Bool { opened.wait(timeout: deadline) == .success }

        /// Everything queued so far, and whether the stream has ended.
        func take() -> (packets: [PacketMerger.Owned], ended: Bool) {
            lock.lock()
            defer { lock.unlock() }
            let packets = queue
            queue.removeAll(keepingCapacity: true)
            return (packets, ended)
        }

        var state: (header: (linkType: Int32, snaplen: Int)?, failure: String?, ended: Bool) {
            lock.lock()
            defer { lock.unlock() }
            return (header, failure, ended)
        }

        /// How far the stream has come: the latest packet's time while it runs, nil once it ended.
        var progress: Int64? {
            lock.lock()
            defer { lock.unlock() }
            return ended ? nil : latest
        }

        var times: (opened: Date?, ended: Date?) {
            lock.lock()
            defer { lock.unlock() }
            return (openedAt, endedAt)
        }

        var packets: Int {
            lock.lock()
            defer { lock.unlock() }
            return count
        }
    }

    /// Starts reading every stream and waits up to `headerTimeout` for each one's pcap header.
    /// `describeFailure` turns a stream's name into what its writer said (its stderr), for errors.
    public init(streams named: [(name: String, descriptor: Int32)], headerTimeout: TimeInterval,
                describeFailure: (String) -> String = { _ in "" }) throws(PcapError) {
        guard !named.isEmpty else { throw PcapError("pcap_fopen_offline", "no stream to read") }
        interfaces = named.map(\.name)
        streams = named.map { Stream(name: $0.name, descriptor: $0.descriptor) }
        merger = PacketMerger(count: named.count)
        for stream in streams { stream.start() }
        let deadline = DispatchTime.now() + headerTimeout
        var types: Set<Int32> = []
        for stream in streams {
            guard stream.waitForHeader(until: deadline), let header = stream.state.header else {
                let said = describeFailure(stream.name).trimmingCharacters(in: .whitespacesAndNewlines)
                let why = stream.state.failure.map { "the stream ended before its pcap header (\($0))" }
                    ?? "no pcap header within \(Int(headerTimeout)) s"
                throw PcapError("pcap_fopen_offline", why + (said.isEmpty ? "" : "; it said: \(said)"), path: stream.name)
            }
            types.insert(header.linkType)
            linkType = header.linkType
            snaplen = max(snaplen, header.snaplen)
        }
        guard types.count == 1 else {
            throw PcapError("pcap_datalink", "the streams \(interfaces.joined(separator: ", ")) have different link types; capture them one at a time, or use interfaces: any")
        }
    }

    public func run(shouldStop: () -> Bool, _ body: (RawPacket) -> Void) throws(PcapError) {
        while !shouldStop() {
            resumeEnded()
            // Taken before the queues are collected: a packet read after it is no earlier than it.
            let watermark = progress()
            // With `resume`, a stream that ended waits to be read again: only given-up ones end the run.
            if collect(), resume == nil || givenUp.count == streams.count {
                let names = streams.filter { $0.state.ended }.map(\.name)
                endedEarly = "the capture stream\(names.count == 1 ? "" : "s") \(names.joined(separator: ", ")) ended"
                    + (streams.compactMap { $0.state.failure }.first.map { " (\($0))" } ?? "")
                break
            }
            deliverReady(watermark, body)
            Thread.sleep(forTimeInterval: pollInterval)
        }
        if endedEarly == nil {
            onStop()
            let deadline = Date().addingTimeInterval(collectTimeout)
            var watermark = progress()
            while !collect(), Date() < deadline, !abandon() {
                deliverReady(watermark, body)
                Thread.sleep(forTimeInterval: pollInterval)
                watermark = progress()
            }
        }
        merger.deliver(while: { _ in true }, body)
    }

    /// The time no running stream can still send an earlier packet than (each is in time order).
    private func progress() -> Int64 {
        streams.compactMap(\.progress).min() ?? Int64.max
    }

    /// Passes on, in time order, the packets no running stream can still send an earlier one
    /// than (`watermark`), and those that waited `mergeWindow`.
    private func deliverReady(_ watermark: Int64, _ body: (RawPacket) -> Void) {
        let limit = Self.monotonic() - mergeWindow
        merger.deliver(while: { $0.timestamp.nanoseconds <= watermark || $0.arrival <= limit }, body)
    }

    /// Asks `resume` about each stream that ended (and was not given up) while the run goes on.
    private func resumeEnded() {
        guard let resume else { return }
        for (index, stream) in streams.enumerated() where !givenUp.contains(index) {
            let state = stream.state
            guard state.ended else { continue }
            switch resume(index, state.failure ?? "the stream ended") {
            case .reopen(let descriptor): stream.reopen(descriptor)
            case .later: continue
            case .giveUp: givenUp.insert(index)
            }
        }
    }

    /// Moves what the readers queued into the merger; true when every stream has ended.
    private func collect() -> Bool {
        var all = true
        for (index, stream) in streams.enumerated() {
            let (packets, ended) = stream.take()
            for packet in packets { merger.append(packet, to: index) }
            all = all && ended
        }
        return all
    }

    /// When each stream's current reader got its pcap header (a stream read again: the new one's), and when it ended, if it has.
    public var times: [(opened: Date?, ended: Date?)] { streams.map(\.times) }

    /// Packets read from each stream so far.
    public var counts: [(name: String, packets: Int)] { streams.map { ($0.name, $0.packets) } }

    /// Streams that ended with a read error, and libpcap's message.
    public var failures: [(name: String, message: String)] {
        streams.compactMap { stream in stream.state.failure.map { (stream.name, $0) } }
    }

    static func monotonic() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
