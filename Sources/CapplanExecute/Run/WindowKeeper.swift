import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import CapplanRedact
import Foundation

/// A window `capture.keep` kept, as run.json gives it.
public struct KeptWindow: Sendable, Codable, Equatable {
    /// The event that opened it, in words.
    public var event: String
    /// The event's packet, numbered as in the capture file.
    public var packet: Int
    /// When the event's packet was captured (RFC 3339), and in seconds from the first packet seen (as summary times count).
    public var time: String
    public var seconds: Double
    /// The window's span in seconds around the event: from -before to after (later, when other events extended it).
    public var startSeconds: Double
    public var endSeconds: Double
    /// Events of the same kind inside it (the first included); each one extended it.
    public var events = 1
    public var packets = 0
    /// Set when the ring's bound had already pushed out packets the window should start with.
    public var startLost: Bool = false
}

/// What `capture.keep` counted, for run.json, summary.md and the status line.
public struct KeptCounts: Sendable, Codable, Equatable {
    public var seenPackets = 0
    public var seenBytes: Int64 = 0
    public var keptPackets = 0
    public var keptBytes: Int64 = 0
    public var discardedPackets = 0
    public var discardedBytes: Int64 = 0
    /// Packets that left the ring because of its byte bound while still within `before`.
    public var pushedOutByMemory = 0
    /// Events after the last window (the `windows` bound), not kept.
    public var eventsNotKept = 0
    public var ringPeakBytes = 0
}

/// `capture.keep`: between the redactor and the file. Every packet has been analysed; this decides
/// which reach the file. Packets wait in a ring (the last `before` of them, at most `memory` bytes);
/// an event writes the ring's packets from `before` ago and opens a window that writes every packet
/// for `after` more. The file's packets keep the capture's order, so a packet's number in the file
/// is its rank among the kept ones (`fileNumber`).
final class WindowKeeper {
    let keep: KeepWindows

    private(set) var windows: [KeptWindow] = []
    private(set) var counts = KeptCounts()
    /// Where each packet of the file was captured (the file's packets, not every one seen).
    private(set) var origins: RunRecord.Origins
    /// Wall-clock time at which the last window closes, once the `windows` bound is reached.
    private(set) var closesLastWindowAt: Date?
    private var watch = EventCounts()
    private let ring: PacketRing
    private var openUntil = Int64.min
    /// The time of the event that opened the last window.
    private var windowEventTime = Int64.min
    /// The first packet's time: window times count from it.
    private var firstTime: Int64?
    /// The newest packet time pushed out by the ring's byte bound.
    private var lastPushedOut = Int64.min
    /// The packets written, by their number in the pass (ascending).
    private var kept: [Int] = []

    init(keep: KeepWindows, sources: [String]) {
        self.keep = keep
        origins = .init(sources: sources)
        ring = PacketRing(capacity: Int(keep.memory.bytes))
    }

    /// The trigger just completed by the packet the analysis saw last, if any.
    func trigger(_ analyzer: ConnectionAnalyzer, identities: IdentityMap) -> String? {
        watch.newEvent(keep.trigger, in: analyzer, identities: identities)
    }

    /// One redacted packet (valid only during the call), numbered as the analysis numbered it.
    func add(_ packet: RedactedPacket, interface: Int, direction: PacketDirection?, number: Int, event: String?, to writer: RedactingWriter) {
        let time = packet.timestamp.nanoseconds
        if firstTime == nil { firstTime = time }
        counts.seenPackets += 1
        counts.seenBytes += Int64(packet.bytes.count)
        if let event {
            if time <= openUntil, let last = windows.indices.last {
                windows[last].events += 1
                extend(to: time)
            } else if windows.count < keep.windows {
                open(event, at: packet.timestamp, writer: writer)
                write(packet, interface: interface, direction: direction, number: number, to: writer)
                windows[windows.count - 1].packet = writer.written
                return
            } else {
                counts.eventsNotKept += 1
            }
        }
        if time <= openUntil {
            write(packet, interface: interface, direction: direction, number: number, to: writer)
            return
        }
        ring.push(packet, number: number, interface: interface, direction: direction) { gone in
            counts.pushedOutByMemory += 1
            lastPushedOut = gone.timestamp.nanoseconds
            discard(gone)
        }
        pushOut(olderThan: time - keep.before.nanoseconds)
        counts.ringPeakBytes = max(counts.ringPeakBytes, ring.used)
    }

    /// Packets still in the ring when the capture stops are discarded.
    func finish() {
        pushOut(olderThan: Int64.max)
    }

    /// The number in the capture file of the packet the analysis numbered `number`; nil when it was not kept.
    func fileNumber(of number: Int) -> Int? {
        var low = 0, high = kept.count
        while low < high {
            let middle = (low + high) / 2
            if kept[middle] < number { low = middle + 1 } else { high = middle }
        }
        return low < kept.count && kept[low] == number ? low + 1 : nil
    }

    /// A new window: the ring's packets from `before` ago are written, the rest discarded.
    private func open(_ event: String, at timestamp: Timestamp, writer: RedactingWriter) {
        let time = timestamp.nanoseconds
        let start = time - keep.before.nanoseconds
        pushOut(olderThan: start)
        windows.append(KeptWindow(event: event, packet: 0, time: timestamp.description, seconds: Double(time - (firstTime ?? time)) / 1e9,
                                  startSeconds: -keep.before.seconds, endSeconds: keep.after.seconds, startLost: lastPushedOut >= start))
        windowEventTime = time
        extend(to: time)
        ring.drain { held, packet in
            write(packet, interface: held.interface, direction: held.direction, number: held.number, to: writer)
        }
    }

    /// The last window stays open until `after` past an event at `time`; once it is the last the
    /// plan allows, the run ends that long from now.
    private func extend(to time: Int64) {
        openUntil = time + keep.after.nanoseconds
        windows[windows.count - 1].endSeconds = Double(openUntil - windowEventTime) / 1e9
        if windows.count == keep.windows { closesLastWindowAt = Date().addingTimeInterval(keep.after.seconds) }
    }

    private func write(_ packet: RedactedPacket, interface: Int, direction: PacketDirection?, number: Int, to writer: RedactingWriter) {
        writer.append(packet, interface: interface, direction: direction)
        origins.add(interface)
        kept.append(number)
        counts.keptPackets += 1
        counts.keptBytes += Int64(packet.bytes.count)
        if let last = windows.indices.last { windows[last].packets += 1 }
    }

    /// Lets the packets older than `time` go.
    private func pushOut(olderThan time: Int64) {
        while let oldest = ring.oldest, oldest.timestamp.nanoseconds < time {
            ring.popOldest()
            discard(oldest)
        }
    }

    private func discard(_ entry: PacketRing.Entry) {
        counts.discardedPackets += 1
        counts.discardedBytes += Int64(entry.length)
    }
}
