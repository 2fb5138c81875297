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
        case copy
        case counted(ResetEvent?)
    }

    /// Processes one TCP packet of this flow; `start` is the capture's first timestamp.
    mutating func processTCP(_ packet: DecodedPacket, fromOriginator: Bool, number: Int, time: Int64, start: Int64) -> Outcome {
        let tcp = packet.tcp
        let length = packet.payloadLength
        // A copy of a packet seen again on another interface (`-i any`, or a pcapng of several
        // interfaces) is not a retransmission: same IP ID, sequence, ACK, flags, length and window
        // within 1 ms, from another interface when the link type says which (SLL2).
        let signature = UInt64(tcp.sequence) << 32 ^ UInt64(tcp.acknowledgment) ^ UInt64(tcp.flags) << 56
            ^ UInt64(length) << 40 ^ UInt64(packet.ipIdentification) << 16 ^ UInt64(tcp.window)
        if fromOriginator ? orig.recent.contains(signature, time: time, interface: packet.interfaceIndex)
                          : resp.recent.contains(signature, time: time, interface: packet.interfaceIndex) {
            return .copy
        }

        var letters = Letters()
        let idle = orig.packets + resp.packets > 0 ? time - last : nil
        let flowStart = self.start
        let rtt = synTime >= 0 && handshakeAckTime >= 0 ? handshakeAckTime - synTime : defaultOutOfOrderThreshold
        var reset: ResetEvent?
        var handshakeCompleted = false
        let originatorSynSent = orig.state == .synSent
        let originatorSyns = orig.synCount
        let synAckSeen = synAckTime >= 0

        func analyse(_ fwd: inout Direction, _ rev: inout Direction) {
            fwd.recent.add(signature, time: time, interface: packet.interfaceIndex)
            let syn = tcp.has(TCPHeader.syn), ack = tcp.has(TCPHeader.ack)
            let fin = tcp.has(TCPHeader.fin), rst = tcp.has(TCPHeader.rst)
            if rst {
                reset = Self.resetEvent(packet, fwd: fwd, rev: rev, fromOriginator: fromOriginator, number: number, time: time,
                                        start: start, flowStart: flowStart, idle: idle,
                                        answeredSyn: !fromOriginator && originatorSynSent && fwd.state == .inactive
                                            || (!fromOriginator && fwd.packets == 0 && originatorSyns > 0))
            }

            // Wireshark's TCP analysis ("TCP Analysis" in its user guide, packet-tcp.c), in its order.
            let segmentLength = UInt32(length) &+ (syn ? 1 : 0) &+ (fin ? 1 : 0)
            let keepAlive = !syn && !fin && !rst && length <= 1 && fwd.hasNextSequence && tcp.sequence == fwd.nextSequence &- 1
            var retransmitted = false
            if keepAlive { fwd.expert.keepAlives += 1 }
            if tcp.window == 0 && !syn && !fin && !rst {
                fwd.expert.zeroWindows += 1
                letters.add(UInt8(ascii: "W"))
            }
            if fwd.hasNextSequence && !rst && seqGreater(tcp.sequence, fwd.nextSequence) {
                fwd.expert.segmentsNotCaptured += 1
            }
            let duplicateAck = length == 0 && !syn && !fin && !rst && tcp.window != 0 && tcp.window == fwd.lastWindow && fwd.hasAck
                && tcp.acknowledgment == fwd.lastAck && fwd.hasNextSequence && tcp.sequence == fwd.nextSequence && !keepAlive
            if duplicateAck {
                fwd.expert.duplicateAcks += 1
                fwd.duplicateAckRun += 1
            } else if !fwd.hasAck || tcp.acknowledgment != fwd.lastAck {
                fwd.duplicateAckRun = 0
            }
            if !keepAlive, length > 0 || syn || fin, fwd.hasNextSequence, seqLess(tcp.sequence, fwd.nextSequence) {
                // A fast retransmission (after two duplicate ACKs) or a spurious one (data already
                // acknowledged) is a retransmission; otherwise a segment soon after the highest one
                // (within the handshake's RTT) is out of order; anything else is a retransmission.
                let fast = rev.duplicateAckRun >= 2 && rev.lastAck == tcp.sequence && time - rev.lastAckTime < fastRetransmissionWindow
                let spurious = length > 0 && rev.hasAck && !seqGreater(tcp.sequence &+ UInt32(length), rev.lastAck)
                if !fast, !spurious, time - fwd.nextSequenceTime < rtt, fwd.nextSequence != tcp.sequence &+ segmentLength {
                    fwd.expert.outOfOrder += 1
                } else {
                    fwd.expert.retransmissions += 1
                    retransmitted = true
                    letters.add(UInt8(ascii: "T"))
                }
            }

            // Sequence bookkeeping.
            if !fwd.hasNextSequence || (!rst && seqGreater(tcp.sequence &+ segmentLength, fwd.nextSequence)) {
                fwd.nextSequence = tcp.sequence &+ segmentLength
                fwd.hasNextSequence = true
                fwd.nextSequenceTime = time
            }
            if ack {
                fwd.lastAck = tcp.acknowledgment
                fwd.hasAck = true
                fwd.lastAckTime = time
            }
            fwd.lastWindow = tcp.window
            if syn, tcp.windowScale >= 0 { fwd.windowScale = tcp.windowScale }
            fwd.lastTTL = packet.ttl
            fwd.lastTime = time
            fwd.packets += 1
            if !retransmitted { fwd.payloadBytes += Int64(length) }

            // Zeek's history letters.
            if syn && !ack {
                letters.add(UInt8(ascii: "S"))
                fwd.synCount += 1
            } else if syn && ack {
                letters.add(UInt8(ascii: "H"))
            } else if ack && length == 0 && !fin && !rst {
                letters.add(UInt8(ascii: "A"))
            }
            if length > 0 { letters.add(UInt8(ascii: "D")) }
            if fin { letters.add(UInt8(ascii: "F")) }
            if rst { letters.add(UInt8(ascii: "R")) }

            // Zeek's endpoint state machine.
            if rst {
                fwd.state = .reset
                return
            }
            if syn && !ack, fwd.state == .inactive { fwd.state = .synSent }
            if syn && ack, fwd.state == .inactive || fwd.state == .synSent { fwd.state = .synAckSent }
            if !syn && (ack || length > 0) {
                switch fwd.state {
                case .synSent, .synAckSent:
                    if rev.state == .synAckSent || rev.state == .synSent || rev.state == .established {
                        handshakeCompleted = fromOriginator && synAckSeen
                        fwd.state = .established
                        if rev.state != .established { rev.state = .established }
                    }
                case .inactive:
                    fwd.state = .partial
                default:
                    break
                }
            }
            if fin {
                fwd.state = .closed
                fwd.sentFin = true
            }
        }

        if fromOriginator { analyse(&orig, &resp) } else { analyse(&resp, &orig) }

        let syn = tcp.has(TCPHeader.syn), ack = tcp.has(TCPHeader.ack)
        if syn && !ack, synTime < 0 { synTime = time }
        if syn && ack, synAckTime < 0 { synAckTime = time }
        if handshakeCompleted, handshakeAckTime < 0 { handshakeAckTime = time }
        if reset != nil { resets += 1 }
        for index in 0..<letters.count {
            note(UInt8(truncatingIfNeeded: letters.packed >> UInt64(8 * index)), fromOriginator: fromOriginator)
        }
        lastPacket = number
        last = time
        return .counted(reset)
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
