public import CapplanPackets

/// Analyse: one streaming pass over decoded packets. Flows are keyed so A→B and B→A
/// meet; a flow that has closed is summarised and released once it has been quiet
/// for `linger`, so memory follows concurrent flows, not packets.
public final class ConnectionAnalyzer {
    /// How long a closed flow is kept for late retransmissions, RSTs and ACKs.
    public var linger: Int64 = 10_000_000_000
    /// At most this many records and events are kept in full; counts stay exact beyond it.
    public var recordLimit = 50_000

    public private(set) var totals = Totals()
    public private(set) var connections: [ConnectionRecord] = []
    public private(set) var resets: [ResetEvent] = []
    public private(set) var icmpErrors: [ICMPErrorEvent] = []
    public private(set) var dnsFailures: [DNSFailure] = []
    public private(set) var stateCounts: [ConnState: Int] = [:]
    public private(set) var expert = ExpertCounts()
    public private(set) var talkers: [IPAddress: Talker] = [:]

    private var flows: [Flow] = []
    private var index: [FlowKey: Int] = [:]
    private var free: [Int] = []
    private var closing: [(time: Int64, slot: Int, key: FlowKey)] = []
    private var closingHead = 0
    private var pendingDNS: [DNSKey: PendingQuery] = [:]
    /// ICMP errors and DNS responses of the last moment, to count a copy seen on a second
    /// interface once; pruned at every sweep.
    private var recentEvents: [String: Int64] = [:]
    private var start: Int64 = -1
    private var sinceSweep = 0
    private var lastSweep: Int64 = 0

    public struct Totals: Sendable, Codable, Equatable {
        public var packets = 0
        public var bytes: Int64 = 0
        public var truncatedPackets = 0
        public var undecodedPackets = 0
        public var fragments = 0
        public var copiesDropped = 0
        public var tcpPackets = 0
        public var udpPackets = 0
        public var icmpPackets = 0
        public var otherPackets = 0
        public var connections = 0
        public var resets = 0
        public var icmpErrors = 0
        public var dnsResponses = 0
        public var dnsFailures = 0
        public var first: Timestamp?
        public var last: Timestamp?
    }

    public struct Talker: Sendable, Codable, Equatable {
        public var packets = 0
        public var bytes: Int64 = 0
    }

    private struct DNSKey: Hashable {
        var client: Endpoint
        var server: Endpoint
        var id: UInt16
    }

    private struct PendingQuery {
        var packet: Int
        var time: Int64
        var name: String
        var type: UInt16
    }

    public init() {}

    // MARK: the per-packet path

    public func add(_ packet: DecodedPacket, number: Int, timestamp: Timestamp, originalLength: Int, raw: UnsafeRawBufferPointer) {
        let time = timestamp.nanoseconds
        if start < 0 {
            start = time
            totals.first = timestamp
        }
        totals.last = timestamp
        totals.packets += 1
        totals.bytes += Int64(originalLength)
        if packet.truncated != nil { totals.truncatedPackets += 1 }
        if packet.isFragment { totals.fragments += 1 }
        guard packet.network == .ipv4 || packet.network == .ipv6 else {
            if packet.network != .arp { totals.undecodedPackets += 1 }
            totals.otherPackets += 1
            return
        }
        talkers[packet.source, default: Talker()].packets += 1
        talkers[packet.source, default: Talker()].bytes += Int64(originalLength)

        switch packet.transport {
        case .tcp where !packet.isLaterFragment && packet.tcp.headerLength >= 20:
            totals.tcpPackets += 1
            track(packet, proto: 6, number: number, time: time)
        case .udp where !packet.isLaterFragment:
            totals.udpPackets += 1
            track(packet, proto: 17, number: number, time: time)
            if let dns = packet.dns { trackDNS(dns, packet, number: number, time: time, raw: raw) }
        case .icmp, .icmpv6:
            totals.icmpPackets += 1
            if packet.icmp.isError { trackICMPError(packet, number: number, time: time) }
        default:
            totals.otherPackets += 1
        }

        // Release finished flows every 1024 packets or every second of capture time.
        sinceSweep += 1
        if sinceSweep >= 1024 || time - lastSweep > 1_000_000_000 {
            sinceSweep = 0
            lastSweep = time
            sweep(now: time)
        }
    }

    @inline(__always)
    private func track(_ packet: DecodedPacket, proto: UInt8, number: Int, time: Int64) {
        let source = Endpoint(address: packet.source, port: packet.sourcePort)
        let destination = Endpoint(address: packet.destination, port: packet.destinationPort)
        let key = FlowKey(source: source, destination: destination, proto: proto)
        let slot: Int
        if let existing = index[key] {
            slot = existing
        } else {
            slot = open(key, packet, source: source, destination: destination, proto: proto, number: number, time: time)
        }
        let fromOriginator = flows[slot].originator == source
        let wasClosed = flows[slot].isClosed
        if proto == 6 {
            processTCP(packet, slot: slot, fromOriginator: fromOriginator, number: number, time: time)
        } else {
            flows[slot].lastPacket = number
            flows[slot].last = time
            if fromOriginator {
                flows[slot].orig.packets += 1
                flows[slot].orig.payloadBytes += Int64(packet.payloadLength)
            } else {
                flows[slot].resp.packets += 1
                flows[slot].resp.payloadBytes += Int64(packet.payloadLength)
            }
        }
        if !wasClosed, flows[slot].isClosed {
            flows[slot].closedAt = time
            closing.append((time, slot, key))
        }
    }

    private func open(_ key: FlowKey, _ packet: DecodedPacket, source: Endpoint, destination: Endpoint,
                      proto: UInt8, number: Int, time: Int64) -> Int {
        // The originator sends the first SYN. A SYN-ACK first means we missed the SYN:
        // its receiver is the originator (Zeek's '^'). Midstream, the likely server port is the lower one.
        var originator = source, responder = destination, flipped = false
        if proto == 6 {
            let syn = packet.tcp.has(TCPHeader.syn), ack = packet.tcp.has(TCPHeader.ack)
            if syn && ack || (!syn && source.port < 1024 && destination.port >= 1024) {
                swap(&originator, &responder)
                flipped = true
            }
        } else if source.port < 1024 && destination.port >= 1024 && source.port != 0 {
            swap(&originator, &responder)
            flipped = true
        }
        let flow = Flow(originator: originator, responder: responder, proto: proto, number: number, time: time, flipped: flipped)
        let slot: Int
        if let reused = free.popLast() {
            flows[reused] = flow
            slot = reused
        } else {
            flows.append(flow)
            slot = flows.count - 1
        }
        index[key] = slot
        return slot
    }

    private func processTCP(_ packet: DecodedPacket, slot: Int, fromOriginator: Bool, number: Int, time: Int64) {
        let tcp = packet.tcp
        let syn = tcp.has(TCPHeader.syn), ack = tcp.has(TCPHeader.ack)
        let fin = tcp.has(TCPHeader.fin), rst = tcp.has(TCPHeader.rst)
        let length = packet.payloadLength

        // A copy of a packet seen again on another interface (`-i any`, or a pcapng of several
        // interfaces) is not a retransmission: same IP ID, sequence, ACK, flags, length and window
        // within 1 ms, from another interface when the link type says which (SLL2).
        let signature = UInt64(tcp.sequence) << 32 ^ UInt64(tcp.acknowledgment) ^ UInt64(tcp.flags) << 56
            ^ UInt64(length) << 40 ^ UInt64(packet.ipIdentification) << 16 ^ UInt64(tcp.window)
        let isCopy = fromOriginator
            ? flows[slot].orig.recent.contains(signature, time: time, interface: packet.interfaceIndex)
            : flows[slot].resp.recent.contains(signature, time: time, interface: packet.interfaceIndex)
        if isCopy {
            flows[slot].copiesDropped += 1
            totals.copiesDropped += 1
            return
        }
        if fromOriginator {
            flows[slot].orig.recent.add(signature, time: time, interface: packet.interfaceIndex)
        } else {
            flows[slot].resp.recent.add(signature, time: time, interface: packet.interfaceIndex)
        }

        var flow = Flow.placeholder
        swap(&flow, &flows[slot])  // work on the flow without copying its history buffer
        defer { swap(&flow, &flows[slot]) }

        let previousTime = flow.last
        let hadPackets = flow.orig.packets + flow.resp.packets > 0
        var fwd = fromOriginator ? flow.orig : flow.resp
        var rev = fromOriginator ? flow.resp : flow.orig

        if rst {
            flow.resets += 1
            recordReset(packet, flow: flow, fwd: fwd, rev: rev, fromOriginator: fromOriginator, number: number, time: time,
                        idle: hadPackets ? time - previousTime : nil)
        }

        // Wireshark's TCP analysis ("TCP Analysis" in its user guide, packet-tcp.c), in its order.
        let segmentLength = UInt32(length) &+ (syn ? 1 : 0) &+ (fin ? 1 : 0)
        let keepAlive = !syn && !fin && !rst && length <= 1 && fwd.hasNextSequence && tcp.sequence == fwd.nextSequence &- 1
        var retransmitted = false
        if keepAlive { fwd.expert.keepAlives += 1 }
        if tcp.window == 0 && !syn && !fin && !rst {
            fwd.expert.zeroWindows += 1
            flow.note(UInt8(ascii: "W"), fromOriginator: fromOriginator)
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
            let threshold = flow.synTime >= 0 && flow.handshakeAckTime >= 0 ? flow.handshakeAckTime - flow.synTime : defaultOutOfOrderThreshold
            let fast = rev.duplicateAckRun >= 2 && rev.lastAck == tcp.sequence && time - rev.lastAckTime < fastRetransmissionWindow
            let spurious = length > 0 && rev.hasAck && !seqGreater(tcp.sequence &+ UInt32(length), rev.lastAck)
            if !fast, !spurious, time - fwd.nextSequenceTime < threshold, fwd.nextSequence != tcp.sequence &+ segmentLength {
                fwd.expert.outOfOrder += 1
            } else {
                fwd.expert.retransmissions += 1
                retransmitted = true
                flow.note(UInt8(ascii: "T"), fromOriginator: fromOriginator)
            }
        }

        // Sequence bookkeeping.
        if !fwd.hasNextSequence || seqGreater(tcp.sequence &+ segmentLength, fwd.nextSequence) {
            if !rst || !fwd.hasNextSequence {
                fwd.nextSequence = tcp.sequence &+ segmentLength
                fwd.hasNextSequence = true
                fwd.nextSequenceTime = time
            }
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
            flow.note(UInt8(ascii: "S"), fromOriginator: fromOriginator)
            fwd.synCount += 1
            if flow.synTime < 0 { flow.synTime = time }
        } else if syn && ack {
            flow.note(UInt8(ascii: "H"), fromOriginator: fromOriginator)
            if flow.synAckTime < 0 { flow.synAckTime = time }
        } else if ack && length == 0 && !fin && !rst {
            flow.note(UInt8(ascii: "A"), fromOriginator: fromOriginator)
        }
        if length > 0 { flow.note(UInt8(ascii: "D"), fromOriginator: fromOriginator) }
        if fin { flow.note(UInt8(ascii: "F"), fromOriginator: fromOriginator) }
        if rst { flow.note(UInt8(ascii: "R"), fromOriginator: fromOriginator) }

        // Zeek's endpoint state machine.
        if rst {
            fwd.state = .reset
        } else {
            if syn && !ack, fwd.state == .inactive { fwd.state = .synSent }
            if syn && ack, fwd.state == .inactive || fwd.state == .synSent { fwd.state = .synAckSent }
            if !syn && (ack || length > 0) {
                switch fwd.state {
                case .synSent, .synAckSent:
                    if rev.state == .synAckSent || rev.state == .synSent || rev.state == .established {
                        if flow.handshakeAckTime < 0, fromOriginator, flow.synAckTime >= 0 { flow.handshakeAckTime = time }
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

        flow.lastPacket = number
        flow.last = time
        if fromOriginator {
            flow.orig = fwd
            flow.resp = rev
        } else {
            flow.resp = fwd
            flow.orig = rev
        }
    }

    private func recordReset(_ packet: DecodedPacket, flow: Flow, fwd: Direction, rev: Direction, fromOriginator: Bool,
                             number: Int, time: Int64, idle: Int64?) {
        // RFC 5961: a RST is acceptable when its sequence number is within the receiver's window,
        // which starts at what the receiver last acknowledged.
        var inWindow: Bool?
        if rev.hasAck {
            let scale = rev.windowScale >= 0 && fwd.windowScale >= 0 ? Int(rev.windowScale) : 0
            let window = max(UInt32(rev.lastWindow) << UInt32(scale), 1)
            let offset = packet.tcp.sequence &- rev.lastAck
            inWindow = offset < window
        }
        let answeredSyn = !fromOriginator && flow.orig.state == .synSent && fwd.state == .inactive
            || (!fromOriginator && fwd.packets == 0 && flow.orig.synCount > 0)
        let event = ResetEvent(
            packet: number,
            time: Double(time - start) / 1e9,
            sender: Endpoint(address: packet.source, port: packet.sourcePort),
            receiver: Endpoint(address: packet.destination, port: packet.destinationPort),
            fromOriginator: fromOriginator,
            answeredSyn: answeredSyn,
            afterFin: fwd.sentFin,
            idleSeconds: idle.map { Double($0) / 1e9 },
            connectionAge: Double(time - flow.start) / 1e9,
            bytesFromSender: fwd.payloadBytes,
            bytesFromReceiver: rev.payloadBytes,
            inWindow: inWindow,
            ttl: packet.ttl,
            senderEarlierTTL: fwd.packets > 0 ? fwd.lastTTL : nil)
        totals.resets += 1
        if resets.count < recordLimit { resets.append(event) }
    }

    // MARK: ICMP and DNS

    private func trackICMPError(_ packet: DecodedPacket, number: Int, time: Int64) {
        let icmp = packet.icmp
        guard icmp.hasQuotedPacket else { return }
        let source = Endpoint(address: icmp.quotedSource, port: icmp.quotedSourcePort)
        let destination = Endpoint(address: icmp.quotedDestination, port: icmp.quotedDestinationPort)
        if icmp.hasQuotedPorts, let slot = index[FlowKey(source: source, destination: destination, proto: icmp.quotedProtocol)] {
            flows[slot].icmpErrors += 1
        }
        guard !isCopy(of: "icmp \(packet.source) \(icmp.type) \(icmp.code) \(source) \(destination) \(icmp.quotedProtocol)", at: time) else { return }
        let event = ICMPErrorEvent(
            packet: number, time: Double(time - start) / 1e9, reporter: packet.source, type: icmp.type, code: icmp.code,
            description: ICMPDescription.text(type: icmp.type, code: icmp.code, version6: packet.transport == .icmpv6),
            quotedProtocol: icmp.quotedProtocol, quotedSource: source, quotedDestination: destination,
            mtu: icmp.mtu > 0 ? icmp.mtu : nil)
        totals.icmpErrors += 1
        if icmpErrors.count < recordLimit { icmpErrors.append(event) }
    }

    private func trackDNS(_ dns: DNSMessage, _ packet: DecodedPacket, number: Int, time: Int64, raw: UnsafeRawBufferPointer) {
        let source = Endpoint(address: packet.source, port: packet.sourcePort)
        let destination = Endpoint(address: packet.destination, port: packet.destinationPort)
        if !dns.isResponse {
            let key = DNSKey(client: source, server: destination, id: dns.id)
            if pendingDNS[key] == nil, pendingDNS.count < recordLimit {
                pendingDNS[key] = PendingQuery(packet: number, time: time, name: dns.name(in: raw), type: dns.questionType)
            }
            return
        }
        let key = DNSKey(client: destination, server: source, id: dns.id)
        // A copy of the query seen on a second interface may have re-opened it: close it either way.
        let query = pendingDNS.removeValue(forKey: key)
        guard !isCopy(of: "dns \(destination) \(source) \(dns.id)", at: time) else { return }
        totals.dnsResponses += 1
        guard dns.responseCode != 0 else { return }
        let failure = DNSFailure(
            packet: number, time: Double(time - start) / 1e9, client: destination, server: source,
            name: dns.nameOffset >= 0 ? dns.name(in: raw) : (query?.name ?? "?"),
            type: DNSMessage.typeName(dns.questionType != 0 ? dns.questionType : query?.type ?? 0),
            outcome: DNSMessage.responseCodeName(dns.responseCode))
        totals.dnsFailures += 1
        if dnsFailures.count < recordLimit { dnsFailures.append(failure) }
    }

    /// True when the same event was seen within 1 ms (a copy on another interface); remembers it otherwise.
    private func isCopy(of key: String, at time: Int64) -> Bool {
        if let seen = recentEvents[key], abs(time - seen) < 1_000_000 { return true }
        recentEvents[key] = time
        return false
    }

    // MARK: releasing finished flows

    /// Releases flows that closed more than `linger` ago and stayed quiet since.
    private func sweep(now: Int64) {
        if !recentEvents.isEmpty { recentEvents = recentEvents.filter { now - $0.value < 1_000_000_000 } }
        while closingHead < closing.count, now - closing[closingHead].time > linger {
            let (_, slot, key) = closing[closingHead]
            closingHead += 1
            guard index[key] == slot, flows[slot].isClosed else { continue }
            if now - flows[slot].last > linger {
                release(slot, key: key)
            } else {
                closing.append((flows[slot].last, slot, key))  // still talking: look again later
            }
        }
        if closingHead > 4096, closingHead * 2 > closing.count {
            closing.removeFirst(closingHead)
            closingHead = 0
        }
    }

    private func release(_ slot: Int, key: FlowKey) {
        summarise(flows[slot])
        index[key] = nil
        flows[slot] = .placeholder
        free.append(slot)
    }

    private func summarise(_ flow: Flow) {
        let state = flow.state
        stateCounts[state, default: 0] += 1
        expert = expert + flow.orig.expert + flow.resp.expert
        totals.connections += 1
        guard connections.count < recordLimit else { return }
        let rtt = flow.synTime >= 0 && flow.handshakeAckTime >= 0 ? Double(flow.handshakeAckTime - flow.synTime) / 1e9 : nil
        connections.append(ConnectionRecord(
            proto: flow.proto == 6 ? "tcp" : "udp", originator: flow.originator, responder: flow.responder,
            state: state, history: flow.historyString, firstPacket: flow.firstPacket,
            start: Double(flow.start - start) / 1e9, duration: Double(flow.last - flow.start) / 1e9,
            originatorPackets: flow.orig.packets, responderPackets: flow.resp.packets,
            originatorBytes: flow.orig.payloadBytes, responderBytes: flow.resp.payloadBytes,
            handshakeRTT: rtt, synRetries: max(0, flow.orig.synCount - 1), expert: flow.orig.expert + flow.resp.expert,
            resets: flow.resets))
    }

    /// Summarises every flow still open and every query still unanswered. Call once, at the end.
    public func finish() {
        for (key, slot) in index.sorted(by: { $0.value < $1.value }) {
            summarise(flows[slot])
            index[key] = nil
        }
        flows.removeAll()
        free.removeAll()
        closing.removeAll()
        for (key, query) in pendingDNS.sorted(by: { $0.value.packet < $1.value.packet }) {
            totals.dnsFailures += 1
            guard dnsFailures.count < recordLimit else { continue }
            dnsFailures.append(DNSFailure(packet: query.packet, time: Double(query.time - start) / 1e9, client: key.client,
                                          server: key.server, name: query.name, type: DNSMessage.typeName(query.type),
                                          outcome: "no answer"))
        }
        pendingDNS.removeAll()
        connections.sort { $0.firstPacket < $1.firstPacket }
        dnsFailures.sort { $0.packet < $1.packet }
    }

    /// Flows currently held (for tests of bounded memory).
    public var openFlows: Int { index.count }
}

extension Flow {
    static let placeholder = Flow(originator: Endpoint(address: IPAddress(ipv4: 0), port: 0),
                                  responder: Endpoint(address: IPAddress(ipv4: 0), port: 0),
                                  proto: 0, number: 0, time: 0, flipped: false)
}
