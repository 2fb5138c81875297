import CapplanPackets

/// Wireshark's TCP analysis counters ("TCP Analysis" in its user guide), per direction.
public struct ExpertCounts: Sendable, Codable, Equatable, BitwiseCopyable {
    public var retransmissions = 0
    public var outOfOrder = 0
    public var duplicateAcks = 0
    public var zeroWindows = 0
    public var keepAlives = 0
    /// "Previous segment not captured": a sequence number past the next expected one.
    public var segmentsNotCaptured = 0

    public init() {}

    static func + (a: ExpertCounts, b: ExpertCounts) -> ExpertCounts {
        var sum = a
        sum.retransmissions += b.retransmissions
        sum.outOfOrder += b.outOfOrder
        sum.duplicateAcks += b.duplicateAcks
        sum.zeroWindows += b.zeroWindows
        sum.keepAlives += b.keepAlives
        sum.segmentsNotCaptured += b.segmentsNotCaptured
        return sum
    }
}

/// A small ring of packet signatures with their time and interface, held inline: a flow holds it in
/// place and reading it copies nothing.
struct RecentPackets {
    static let size = 8
    private var signatures = InlineArray<8, UInt64>(repeating: 0)
    private var times = InlineArray<8, Int64>(repeating: 0)
    private var interfaces = InlineArray<8, Int32>(repeating: 0)
    /// A byte of each slot's signature (`tag`), slot i in byte i: every packet asks whether its
    /// signature is here, and the answer is almost always no. A look at all eight bytes at once (a
    /// byte of zero after the xor) says no in a few instructions; a loop over the slots cost 70 a packet.
    private var tags: UInt64 = 0
    /// A byte each: the ring is held twice by each of up to a million flows.
    private var next: UInt8 = 0
    private var count: UInt8 = 0

    /// Was a packet with this signature seen within 1 ms, on another interface when interfaces are known?
    @inline(__always)
    func contains(_ signature: UInt64, time: Int64, interface: Int32) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let differ = tags ^ (ones &* Self.tag(signature))
        // A byte of `differ` is zero only where a tag matches; this may also flag a byte next to a
        // matching one, never miss one, and the slots are checked in full then.
        guard (differ &- ones) & ~differ & (ones << 7) != 0 else { return false }
        for slot in 0..<Int(count) where signatures[slot] == signature {
            if abs(time - times[slot]) < 1_000_000, interface < 0 || interface != interfaces[slot] { return true }
        }
        return false
    }

    /// The top byte of a multiplicative hash: a signature's low bytes repeat from packet to packet
    /// of a flow (its acknowledgment and window), which made most packets look again in full.
    @inline(__always)
    private static func tag(_ signature: UInt64) -> UInt64 { (signature &* 0x9E37_79B9_7F4A_7C15) >> 56 }

    mutating func add(_ signature: UInt64, time: Int64, interface: Int32) {
        let slot = Int(next)
        signatures[slot] = signature
        times[slot] = time
        interfaces[slot] = interface
        let shift = UInt64(8 * slot)
        tags = tags & ~(0xFF << shift) | Self.tag(signature) << shift
        next = UInt8((slot + 1) % Self.size)
        count = UInt8(min(Int(count) + 1, Self.size))
    }
}

/// What one direction of a TCP connection has done so far. The fields run from the widest to the
/// narrowest, so none is padded to its alignment: a flow holds two, and the flows are most of a
/// report's memory (declared in the order they were written, a direction was 24 bytes larger).
struct Direction {
    var packets = 0
    /// Frame bytes on the wire (for top talkers) and payload bytes (retransmissions once).
    var frameBytes: Int64 = 0
    var payloadBytes: Int64 = 0
    var synCount = 0
    /// When `nextSequence` last advanced, and when this side last sent an ACK (Wireshark's
    /// nextseqtime and lastacktime), and its run of duplicate ACKs.
    var nextSequenceTime: Int64 = 0
    var lastAckTime: Int64 = 0
    var duplicateAckRun = 0
    var expert = ExpertCounts()
    var nextSequence: UInt32 = 0
    /// The start of sequence space this side skipped and has not filled since (a hole), if any.
    var holeStart: UInt32 = 0
    var lastAck: UInt32 = 0
    var lastWindow: UInt16 = 0
    var state = EndpointState.inactive
    var hasNextSequence = false
    var hasHole = false
    var hasAck = false
    var windowScale: Int8 = -1
    var lastTTL: UInt8 = 0
    var sentFin = false
    /// Closed by a FIN sent while established (Zeek's prev_state ESTABLISHED).
    var closedFromEstablished = false
    /// The last few packets' signatures, to drop copies of one packet seen on another
    /// interface (`-i any`, or a pcapng of several interfaces written in batches).
    var recent = RecentPackets()

    /// Established, or closed cleanly from there: the states in which Zeek notes a content gap.
    @inline(__always) var isClean: Bool { state == .established || state == .closed && closedFromEstablished }
}

/// Zeek's history letters in the order first seen: each letter at most once per side (`Flow.note`),
/// and `^`. Held inline, so a flow is plain memory: copied without reference counting, released
/// without freeing, read in place through a buffer pointer.
struct History {
    /// 26 letters for each side, and `^`.
    static let capacity = 53
    private var letters = InlineArray<53, UInt8>(repeating: 0)
    private(set) var count = 0

    mutating func append(_ letter: UInt8) {
        guard count < Self.capacity else { return }
        letters[count] = letter
        count += 1
    }

    func withLetters<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        letters.span.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0.prefix(count))) }
    }
}

/// One bidirectional flow: TCP with Zeek's state machine and Wireshark's expert
/// analysis, or UDP/ICMP with counts. Memory is per flow, never per packet. Plain memory
/// throughout (no references): see `History`.
struct Flow {
    var originator: Endpoint
    var responder: Endpoint
    var proto: UInt8
    var firstPacket: Int
    var lastPacket: Int
    var start: Int64
    var last: Int64
    var orig = Direction()
    var resp = Direction()
    var history = History()
    var synTime: Int64 = -1
    var synAckTime: Int64 = -1
    var handshakeAckTime: Int64 = -1
    var resets = 0
    /// The tunnel its first packet came in, if any.
    var tunnel = Tunnel.none
    /// History letters already recorded, one bit per letter, for each side.
    var originatorLetters: UInt32 = 0
    var responderLetters: UInt32 = 0

    init(originator: Endpoint, responder: Endpoint, proto: UInt8, number: Int, time: Int64, flipped: Bool) {
        self.originator = originator
        self.responder = responder
        self.proto = proto
        firstPacket = number
        lastPacket = number
        start = time
        last = time
        if flipped { history.append(UInt8(ascii: "^")) }
    }

    var isClosed: Bool { Flow.isClosed(orig.state, resp.state) }

    /// From the two states alone, so the per-packet path never copies a whole flow to ask.
    @inline(__always)
    static func isClosed(_ originator: EndpointState, _ responder: EndpointState) -> Bool {
        originator == .reset || responder == .reset || (originator == .closed && responder == .closed)
    }

    /// Inlined: a call copied the whole flow to read it.
    @inline(__always)
    var state: ConnState {
        switch proto {
        case 6:
            return ConnState.tcp(originator: orig.state, responder: resp.state, originatorBytes: orig.payloadBytes,
                                 responderBytes: resp.payloadBytes, history: history)
        case 17:
            // Zeek's UDP states: both sides active SF, only the originator S0.
            return orig.packets > 0 ? (resp.packets > 0 ? .SF : .S0) : (resp.packets > 0 ? .SHR : .OTH)
        default:
            return .OTH
        }
    }

    var historyString: String { history.withLetters { String(decoding: $0, as: UTF8.self) } }

    /// The connection record of this flow, as summarised with its `state` and `expert` counts;
    /// times count from `captureStart`. Inlined: a call copied the whole flow to read it.
    @inline(__always)
    func record(state: ConnState, expert: ExpertCounts, captureStart: Int64) -> ConnectionRecord {
        let rtt = synTime >= 0 && handshakeAckTime >= 0 ? Double(handshakeAckTime - synTime) / 1e9 : nil
        return ConnectionRecord(
            proto: proto == 6 ? "tcp" : proto == 17 ? "udp" : "icmp", originator: originator, responder: responder,
            state: state, history: historyString, firstPacket: firstPacket,
            start: Double(start - captureStart) / 1e9, duration: Double(last - start) / 1e9,
            originatorPackets: orig.packets, responderPackets: resp.packets,
            originatorBytes: orig.payloadBytes, responderBytes: resp.payloadBytes,
            handshakeRTT: rtt, synRetries: max(0, orig.synCount - 1), expert: expert,
            resets: resets, tunnel: tunnel == .none ? nil : tunnel.name)
    }

    /// Records a history letter once per direction: upper case for the originator.
    @inline(__always)
    mutating func note(_ letter: UInt8, fromOriginator: Bool) {
        let bit = UInt32(1) << UInt32(letter &- UInt8(ascii: "A"))
        if fromOriginator {
            guard originatorLetters & bit == 0 else { return }
            originatorLetters |= bit
            history.append(letter)
        } else {
            guard responderLetters & bit == 0 else { return }
            responderLetters |= bit
            history.append(letter + 32)
        }
    }
}

/// Sequence-number comparisons modulo 2^32 (RFC 1982).
@inline(__always) func seqLess(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) func seqGreater(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) > 0 }

/// Wireshark's out-of-order threshold when the handshake's RTT is unknown: a segment
/// below the next expected sequence that arrives within it is out of order.
let defaultOutOfOrderThreshold: Int64 = 3_000_000  // 3 ms in nanoseconds
/// Wireshark's fast-retransmission window after the peer's last (duplicate) ACK.
let fastRetransmissionWindow: Int64 = 20_000_000
