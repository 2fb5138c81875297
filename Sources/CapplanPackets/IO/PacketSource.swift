/// Where a run's packets come from: libpcap on this machine's interfaces (`LiveCapture`) or
/// tcpdump streams out of helper pods (`PcapStreams`). The run's one pass (redact → write →
/// analyse) reads either the same way.
public protocol PacketSource: AnyObject {
    /// What each stream or interface is, for status lines and run.json.
    var interfaces: [String] { get }
    var linkType: Int32 { get }
    /// Captures until `shouldStop` says so (or every stream has ended), handing packets to
    /// `body` in timestamp order; packets still buffered at the stop are delivered too.
    func run(shouldStop: () -> Bool, _ body: (RawPacket) -> Void) throws(PcapError)
    /// Why the capture ended by itself before it was asked to stop, if it did.
    var endedEarly: String? { get }
}

/// Packets of several interfaces or streams, queued and passed on in timestamp order.
struct PacketMerger {
    struct Owned {
        var timestamp: Timestamp
        var originalLength: Int
        var bytes: [UInt8]
        /// When it reached capplan (monotonic nanoseconds).
        var arrival: Int64
    }

    var queues: [[Owned]]
    private var heads: [Int]

    init(count: Int) {
        queues = Array(repeating: [], count: count)
        heads = Array(repeating: 0, count: count)
    }

    mutating func append(_ packet: Owned, to index: Int) { queues[index].append(packet) }

    /// Passes on queued packets in timestamp order while the earliest one is `ready`.
    mutating func deliver(while ready: (Owned) -> Bool, _ body: (RawPacket) -> Void) {
        while true {
            var best = -1
            for index in queues.indices where heads[index] < queues[index].count {
                if best < 0 || queues[index][heads[index]].timestamp < queues[best][heads[best]].timestamp { best = index }
            }
            guard best >= 0, ready(queues[best][heads[best]]) else { break }
            let packet = queues[best][heads[best]]
            packet.bytes.withUnsafeBytes {
                body(RawPacket(timestamp: packet.timestamp, originalLength: packet.originalLength, bytes: $0, source: best))
            }
            heads[best] += 1
        }
        for index in queues.indices where heads[index] > 0 {
            queues[index].removeFirst(heads[index])
            heads[index] = 0
        }
    }
}
