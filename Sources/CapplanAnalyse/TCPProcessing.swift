import CapplanPackets

/// The per-packet TCP work on one flow, done in place: the copy check, Wireshark's TCP
/// analysis, Zeek's history letters and endpoint states, and the reset's details.
extension Flow {
    /// Up to eight history letters noted while both directions are borrowed, applied after.
    private struct Letters {
        var packed: UInt64 = 0
        var count = 0
        mutating func add(_ letter: UInt8) {
            guard count < 8 else { return }
            packed |= UInt64(letter) << UInt64(8 * count)
            count += 1
        }
    }

    enum Outcome {
        /// A copy of a packet already counted (another interface's).
        case copy
        case counted
    }

    /// Processes one TCP packet of this flow; `start` is the capture's first timestamp. A reset's
    /// details go to `reset` (nil on entry), left alone for any other packet: returned in the
    /// outcome, they were copied (about 150 bytes) for every packet.
    mutating func processTCP(_ packet: DecodedPacket, fromOriginator: Bool, number: Int, time: Int64, start: Int64,
                             reset: inout ResetEvent?) -> Outcome {
        let tcp = packet.tcp
        let length = packet.payloadLength
        let signature = Self.signature(packet)
        if isCopy(signature, fromOriginator: fromOriginator, time: time, interface: packet.interfaceIndex) { return .copy }

        var letters = Letters()
        let idle = orig.packets + resp.packets > 0 ? time - last : nil
        let flowStart = self.start
        let segment = Segment(tcp: tcp, length: length, time: time,
                              rtt: synTime >= 0 && handshakeAckTime >= 0 ? handshakeAckTime - synTime : defaultOutOfOrderThreshold)
        var wasReset = false
        var handshakeCompleted = false
        var peerGap = false
        let originatorSynSent = orig.state == .synSent
        let originatorSyns = orig.synCount
        let synAckSeen = synAckTime >= 0

        func analyse(_ fwd: inout Direction, _ rev: inout Direction) {
            fwd.recent.add(signature, time: time, interface: packet.interfaceIndex)
            let ackedPastHole = Self.trackHoles(segment, cut: packet.capturedPayloadLength < length, &fwd, &rev)
            if segment.rst {
                wasReset = true
                reset = Self.resetEvent(packet, fwd: fwd, rev: rev, fromOriginator: fromOriginator, number: number, time: time,
                                        start: start, flowStart: flowStart, idle: idle,
                                        answeredSyn: !fromOriginator && originatorSynSent && fwd.state == .inactive
                                            || (!fromOriginator && fwd.packets == 0 && originatorSyns > 0))
            }
            let retransmitted = Self.expertAnalysis(segment, &fwd, &rev, letters: &letters)
            Self.bookkeeping(segment, ttl: packet.ttl, &fwd, retransmitted: retransmitted)
            Self.historyLetters(segment, &fwd, letters: &letters)
            handshakeCompleted = Self.endpointState(segment, &fwd, &rev, fromOriginator: fromOriginator, synAckSeen: synAckSeen)
            // Judged once this packet moved the states, as Zeek does: a gap an ACK reveals counts only
            // while both ends are established or closed cleanly, never one revealed by a RST.
            peerGap = ackedPastHole && fwd.isClean && rev.isClean
        }

        if fromOriginator { analyse(&orig, &resp) } else { analyse(&resp, &orig) }

        let syn = tcp.has(TCPHeader.syn), ack = tcp.has(TCPHeader.ack)
        if syn && !ack, synTime < 0 { synTime = time }
        if syn && ack, synAckTime < 0 { synAckTime = time }
        if handshakeCompleted, handshakeAckTime < 0 { handshakeAckTime = time }
        if wasReset { resets += 1 }
        for index in 0..<letters.count {
            note(UInt8(truncatingIfNeeded: letters.packed >> UInt64(8 * index)), fromOriginator: fromOriginator)
        }
        // After the packet's own letters: Zeek notes them first and handles the ACK after.
        if peerGap { note(UInt8(ascii: "G"), fromOriginator: !fromOriginator) }
        lastPacket = number
        last = time
        return .counted
    }

    /// A hole in this side's content, until a whole segment fills it; one the peer acknowledges
    /// past while it is still open is Zeek's content gap (G for the originator's side, g for the
    /// responder's). Content is missing where a segment skips sequence space, and where the snaplen
    /// cut a segment's payload (`cut`): Zeek's reassembler never receives a cut payload.
    /// Returns whether this segment's ACK passed the peer's hole (which it closes).
    private static func trackHoles(_ segment: Segment, cut payloadCut: Bool, _ fwd: inout Direction, _ rev: inout Direction) -> Bool {
        let tcp = segment.tcp
        let cut = payloadCut && !segment.rst
        if fwd.hasNextSequence, !segment.rst, seqGreater(tcp.sequence, fwd.nextSequence), !fwd.hasHole {
            fwd.holeStart = fwd.nextSequence
            fwd.hasHole = true
        } else if cut, !fwd.hasHole, !fwd.hasNextSequence || seqGreater(tcp.sequence &+ UInt32(segment.length), fwd.nextSequence) {
            fwd.holeStart = fwd.hasNextSequence && seqLess(tcp.sequence, fwd.nextSequence) ? fwd.nextSequence : tcp.sequence
            fwd.hasHole = true
        } else if fwd.hasHole, !cut, !seqGreater(tcp.sequence, fwd.holeStart),
                  seqGreater(tcp.sequence &+ segment.sequenceLength, fwd.holeStart) {
            fwd.hasHole = false
        }
        let ackedPastHole = segment.ack && rev.hasHole && seqGreater(tcp.acknowledgment, rev.holeStart)
        if ackedPastHole { rev.hasHole = false }
        return ackedPastHole
    }

    /// A copy of a packet seen again on another interface (`-i any`, or a pcapng of several
    /// interfaces) is not a retransmission: same IP ID, sequence, ACK, flags, length and window
    /// within 1 ms, from another interface when the link type says which (SLL2).
    /// The sequence and acknowledgment numbers are kept whole and the other fields mixed into them
    /// through a bijection that spreads every bit: two different packets share a signature about
    /// once in 2^64. (An xor of the raw fields let two ACKs of one bulk transfer, the acknowledgment
    /// 128 KiB on and the IP ID 6 on, share one, and the second was dropped as a copy.)
    /// Inlined: it runs for every segment.
    @inline(__always)
    static func signature(_ packet: DecodedPacket) -> UInt64 {
        let tcp = packet.tcp
        let rest = UInt64(packet.ipIdentification) << 32 | UInt64(tcp.window) << 16 | UInt64(tcp.flags)
        return (UInt64(tcp.sequence) << 32 | UInt64(tcp.acknowledgment))
            ^ mix(rest ^ UInt64(truncatingIfNeeded: packet.payloadLength) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// SplitMix64's finalizer: a bijection on 64 bits that spreads every input bit over the output.
    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = (value ^ value >> 30) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ z >> 27) &* 0x94D0_49BB_1331_11EB
        return z ^ z >> 31
    }

    /// Whether a TCP packet on this flow's 5-tuple is a new connection, as Zeek decides: a SYN after
    /// the old one closed or was reset; anything after it closed or was reset and stayed quiet
    /// longer than Zeek keeps such state; anything once an attempt went unanswered that long.
    /// A copy on a second interface belongs to the connection it copies. `clock`: the capture's latest time.
    func startsAnew(_ packet: DecodedPacket, time: Int64, clock: Int64) -> Bool {
        guard Flow.mayStartAnew(orig.state, resp.state, start: start, time: time) else { return false }
        let closed = Flow.isClosed(orig.state, resp.state)
        let fromOriginator = originator == Endpoint(address: packet.source, port: packet.sourcePort)
        if isCopy(Flow.signature(packet), fromOriginator: fromOriginator, time: time, interface: packet.interfaceIndex) { return false }
        guard closed else { return true }
        return packet.tcp.has(TCPHeader.syn) && !packet.tcp.has(TCPHeader.ack) || clock - last > ConnectionAnalyzer.closeDelay
    }

    /// The first question of `startsAnew`, from the states alone: closed, or an attempt nobody
    /// answered for longer than Zeek waits. Asked field by field on the per-packet path, where
    /// calling a method would copy the whole flow.
    @inline(__always)
    static func mayStartAnew(_ originator: EndpointState, _ responder: EndpointState, start: Int64, time: Int64) -> Bool {
        isClosed(originator, responder)
            || (originator == .synSent || originator == .synAckSent) && responder == .inactive && time - start > ConnectionAnalyzer.closeDelay
    }

    @inline(__always)
    func isCopy(_ signature: UInt64, fromOriginator: Bool, time: Int64, interface: Int32) -> Bool {
        fromOriginator ? orig.recent.contains(signature, time: time, interface: interface)
                       : resp.recent.contains(signature, time: time, interface: interface)
    }

    /// One TCP segment as the per-direction steps read it.
    private struct Segment {
        let tcp: TCPHeader
        let length: Int
        let time: Int64
        /// The handshake's round trip, or the default out-of-order threshold.
        let rtt: Int64
        var syn: Bool { tcp.has(TCPHeader.syn) }
        var ack: Bool { tcp.has(TCPHeader.ack) }
        var fin: Bool { tcp.has(TCPHeader.fin) }
        var rst: Bool { tcp.has(TCPHeader.rst) }
        /// Sequence space it takes: payload, plus one each for SYN and FIN.
        var sequenceLength: UInt32 { UInt32(length) &+ (syn ? 1 : 0) &+ (fin ? 1 : 0) }
    }

    /// Wireshark's TCP analysis ("TCP Analysis" in its user guide, packet-tcp.c), in its order.
    /// Returns whether the segment is a retransmission.
    private static func expertAnalysis(_ s: Segment, _ fwd: inout Direction, _ rev: inout Direction, letters: inout Letters) -> Bool {
        let tcp = s.tcp, length = s.length, time = s.time
        let plain = !s.syn && !s.fin && !s.rst
        let keepAlive = plain && length <= 1 && fwd.hasNextSequence && tcp.sequence == fwd.nextSequence &- 1
        if keepAlive { fwd.expert.keepAlives += 1 }
        if tcp.window == 0 && plain {
            fwd.expert.zeroWindows += 1
            letters.add(UInt8(ascii: "W"))
        }
        if fwd.hasNextSequence && !s.rst && seqGreater(tcp.sequence, fwd.nextSequence) {
            fwd.expert.segmentsNotCaptured += 1
        }
        let duplicateAck = length == 0 && plain && tcp.window != 0 && tcp.window == fwd.lastWindow && fwd.hasAck
            && tcp.acknowledgment == fwd.lastAck && fwd.hasNextSequence && tcp.sequence == fwd.nextSequence && !keepAlive
        if duplicateAck {
            fwd.expert.duplicateAcks += 1
            fwd.duplicateAckRun += 1
        } else if !fwd.hasAck || tcp.acknowledgment != fwd.lastAck {
            fwd.duplicateAckRun = 0
        }
        guard !keepAlive, length > 0 || s.syn || s.fin, fwd.hasNextSequence, seqLess(tcp.sequence, fwd.nextSequence) else { return false }
        // A fast retransmission (after two duplicate ACKs) or a spurious one (data already
        // acknowledged) is a retransmission; otherwise a segment soon after the highest one
        // (within the handshake's RTT) is out of order; anything else is a retransmission.
        let fast = rev.duplicateAckRun >= 2 && rev.lastAck == tcp.sequence && time - rev.lastAckTime < fastRetransmissionWindow
        let spurious = length > 0 && rev.hasAck && !seqGreater(tcp.sequence &+ UInt32(length), rev.lastAck)
        if !fast, !spurious, time - fwd.nextSequenceTime < s.rtt, fwd.nextSequence != tcp.sequence &+ s.sequenceLength {
            fwd.expert.outOfOrder += 1
            return false
        }
        fwd.expert.retransmissions += 1
        // Zeek's T/t is retransmitted payload only (a SYN or FIN sent again is not one).
        if length > 0 { letters.add(UInt8(ascii: "T")) }
        return true
    }

    /// The sender's sequence, acknowledgment, window and counters.
    private static func bookkeeping(_ s: Segment, ttl: UInt8, _ fwd: inout Direction, retransmitted: Bool) {
        let tcp = s.tcp
        if !fwd.hasNextSequence || (!s.rst && seqGreater(tcp.sequence &+ s.sequenceLength, fwd.nextSequence)) {
            fwd.nextSequence = tcp.sequence &+ s.sequenceLength
            fwd.hasNextSequence = true
            fwd.nextSequenceTime = s.time
        }
        if s.ack {
            fwd.lastAck = tcp.acknowledgment
            fwd.hasAck = true
            fwd.lastAckTime = s.time
        }
        fwd.lastWindow = tcp.window
        if s.syn, tcp.windowScale >= 0 { fwd.windowScale = tcp.windowScale }
        fwd.lastTTL = ttl
        fwd.packets += 1
        if !retransmitted { fwd.payloadBytes += Int64(s.length) }
    }

    /// Zeek's history letters.
    private static func historyLetters(_ s: Segment, _ fwd: inout Direction, letters: inout Letters) {
        if s.syn && !s.ack {
            letters.add(UInt8(ascii: "S"))
            fwd.synCount += 1
        } else if s.syn && s.ack {
            letters.add(UInt8(ascii: "H"))
        } else if s.ack && s.length == 0 && !s.fin && !s.rst {
            letters.add(UInt8(ascii: "A"))
        }
        if s.length > 0 { letters.add(UInt8(ascii: "D")) }
        if s.fin { letters.add(UInt8(ascii: "F")) }
        if s.rst { letters.add(UInt8(ascii: "R")) }
    }

    /// Zeek's endpoint state machine; returns whether this segment completed the handshake.
    private static func endpointState(_ s: Segment, _ fwd: inout Direction, _ rev: inout Direction, fromOriginator: Bool, synAckSeen: Bool) -> Bool {
        if s.rst {
            fwd.state = .reset
            return false
        }
        var completed = false
        if s.syn && !s.ack, fwd.state == .inactive { fwd.state = .synSent }
        if s.syn && s.ack, fwd.state == .inactive || fwd.state == .synSent { fwd.state = .synAckSent }
        if !s.syn && (s.ack || s.length > 0) {
            switch fwd.state {
            case .synSent, .synAckSent:
                if rev.state == .synAckSent || rev.state == .synSent || rev.state == .established {
                    completed = fromOriginator && synAckSeen
                    fwd.state = .established
                    if rev.state != .established { rev.state = .established }
                }
            case .inactive where s.ack && rev.state == .synAckSent:
                // The SYN was missed, its SYN-ACK answered: both ends are established (as Zeek has it).
                fwd.state = .established
                rev.state = .established
            case .inactive:
                fwd.state = .partial
            default:
                break
            }
        }
        if s.fin {
            if fwd.state == .established { fwd.closedFromEstablished = true }
            fwd.state = .closed
            fwd.sentFin = true
        }
        return completed
    }

    private static func resetEvent(_ packet: DecodedPacket, fwd: Direction, rev: Direction, fromOriginator: Bool, number: Int,
                                   time: Int64, start: Int64, flowStart: Int64, idle: Int64?, answeredSyn: Bool) -> ResetEvent {
        // RFC 5961: a RST is acceptable when its sequence number is within the receiver's window,
        // which starts at what the receiver last acknowledged.
        var inWindow: Bool?
        if rev.hasAck {
            let scale = rev.windowScale >= 0 && fwd.windowScale >= 0 ? Int(rev.windowScale) : 0
            let window = max(UInt32(rev.lastWindow) << UInt32(scale), 1)
            inWindow = packet.tcp.sequence &- rev.lastAck < window
        }
        return ResetEvent(
            packet: number,
            time: Double(time - start) / 1e9,
            sender: Endpoint(address: packet.source, port: packet.sourcePort),
            receiver: Endpoint(address: packet.destination, port: packet.destinationPort),
            fromOriginator: fromOriginator,
            answeredSyn: answeredSyn,
            afterFin: fwd.sentFin,
            idleSeconds: idle.map { Double($0) / 1e9 },
            connectionAge: Double(time - flowStart) / 1e9,
            bytesFromSender: fwd.payloadBytes,
            bytesFromReceiver: rev.payloadBytes,
            inWindow: inWindow,
            ttl: packet.ttl,
            senderEarlierTTL: fwd.packets > 0 ? fwd.lastTTL : nil)
    }
}
