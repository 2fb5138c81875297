public import CapplanPackets

/// Analyse: one streaming pass over decoded packets. Flows are keyed so A→B and B→A
/// meet; a flow that has closed is summarised and released once it has been quiet
/// for `linger`, so memory follows concurrent flows, not packets.
public struct ConnectionAnalyzer {
    /// How long a closed flow is kept for late retransmissions, RSTs and ACKs.
    public var linger: Int64 = 10_000_000_000
    /// At most this many events (resets, ICMP errors, DNS failures) are kept in full, the first
    /// in the capture, and this many connection records, those that started first; counts stay
    /// exact beyond it. Each list is decided by packet numbers alone, so analyses of parts of a
    /// capture (`AnalysisShards`) merge into exactly the lists of one analysis of all of it.
    public var recordLimit = 10_000
    /// At most this many flows are held at once. UDP and ICMP flows end after a minute of quiet and
    /// closed TCP after `linger`, but an open TCP connection is never ended for quiet (a reset after a
    /// long idle is the evidence). Past the limit the least recently active flow of the new one's
    /// share is ended early: summarised as it stands, and counted in `totals.evicted`. The limit is
    /// kept per share of the flow hash (`FlowBucket`), so analyses split across threads evict exactly
    /// what one analysis would. A flow costs about 1.2 KiB with its index and queues (make bench-scale).
    public var openFlowLimit = 1_000_000

    public internal(set) var totals = Totals()
    public private(set) var connections: [ConnectionRecord] = []
    public private(set) var resets: [ResetEvent] = []
    public private(set) var icmpErrors: [ICMPErrorEvent] = []
    /// Grows whenever an event a stop condition or a keep trigger watches is counted (a reset, an
    /// ICMP error, a DNS failure, a retried SYN): a live capture looks at the events only then.
    /// Inlinable: a live capture asks after every packet, and a call from another module copied the
    /// whole analysis (496 bytes, and a retain and release of each of its collections) to ask.
    @inlinable
    public var eventTally: Int { resets.count + icmpErrors.count + totals.dnsFailures + totals.unansweredSynRetries }
    public private(set) var dnsFailures: [DNSFailure] = []
    /// Connections by state, the states seen.
    public var stateCounts: [ConnState: Int] {
        Dictionary(uniqueKeysWithValues: ConnState.allCases.map { ($0, stateTally[$0.ordinal]) }.filter { $0.1 > 0 })
    }
    /// A count per state, by `ConnState.ordinal`.
    private var stateTally = [Int](repeating: 0, count: ConnState.allCases.count)
    public private(set) var expert = ExpertCounts()
    /// Packets and bytes per address.
    public var talkers: [IPAddress: Talker] { talkerTable.dictionary }
    private var talkerTable = TalkerTable()

    private var flows = FlowStore()
    private var index = FlowTable()
    private var free: [Int] = []
    private var closing: [(time: Int64, slot: Int, key: FlowKey)] = []
    private var closingHead = 0
    /// UDP and ICMP flows, each with the time it was last looked at, for `inactivityTimeout`.
    private var quiet: [(time: Int64, slot: Int, key: FlowKey)] = []
    private var quietHead = 0
    /// Per share of the flow hash: the flows open, and each flow with the time it was last looked
    /// at, oldest first, to find the least recently active one (a second-chance queue).
    private var bucketOpen = [Int](repeating: 0, count: FlowBucket.count)
    private var activity = [[Activity]](repeating: [], count: FlowBucket.count)
    private var activityHead = [Int](repeating: 0, count: FlowBucket.count)
    private var pendingDNS: [DNSKey: PendingQuery] = [:]
    /// ICMP errors and DNS responses of the last moment, to count a copy seen on a second
    /// interface once; pruned at a sweep once the oldest is a second old.
    private var recentEvents: [EventKey: Int64] = [:]
    /// The oldest time in `recentEvents` (or one older): before it is a second old a sweep has nothing
    /// to prune, and a burst of events within a second is not filtered again at every sweep.
    private var oldestRecentEvent = Int64.max
    /// Time that never runs backwards (a malformed capture's may): what flows expire and are
    /// released by, so that when a flow is released never changes what its next packet means.
    private var clock = Int64.min
    /// Whether `start`, the capture's first packet's time, is known (a malformed capture's times may be negative).
    private var started = false
    private var start: Int64 = 0
    /// Connections that started at or after this packet are not kept: `recordLimit` started before them.
    private var keptUpTo = Int.max
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
        public var tcpConnections = 0
        public var udpConnections = 0
        /// ICMP "connections" as Zeek has them: one per pair of hosts and message kind.
        public var icmpConnections = 0
        public var resets = 0
        /// SYNs sent again before any SYN-ACK: a connection attempt going unanswered.
        public var unansweredSynRetries = 0
        public var icmpErrors = 0
        public var dnsResponses = 0
        public var dnsFailures = 0
        /// UDP packets to or from port 53 whose DNS header the capture cut off (snaplen): their answers are unknown.
        public var dnsMessagesCut = 0
        /// Flows ended early because `openFlowLimit` flows were open.
        public var evicted = 0
        public var first: Timestamp?
        public var last: Timestamp?

        /// The totals of two disjoint sets of packets.
        static func + (a: Totals, b: Totals) -> Totals {
            var sum = a
            sum.packets += b.packets
            sum.bytes += b.bytes
            sum.truncatedPackets += b.truncatedPackets
            sum.undecodedPackets += b.undecodedPackets
            sum.fragments += b.fragments
            sum.copiesDropped += b.copiesDropped
            sum.tcpPackets += b.tcpPackets
            sum.udpPackets += b.udpPackets
            sum.icmpPackets += b.icmpPackets
            sum.otherPackets += b.otherPackets
            sum.connections += b.connections
            sum.tcpConnections += b.tcpConnections
            sum.udpConnections += b.udpConnections
            sum.icmpConnections += b.icmpConnections
            sum.resets += b.resets
            sum.unansweredSynRetries += b.unansweredSynRetries
            sum.icmpErrors += b.icmpErrors
            sum.dnsResponses += b.dnsResponses
            sum.dnsFailures += b.dnsFailures
            sum.dnsMessagesCut += b.dnsMessagesCut
            sum.evicted += b.evicted
            sum.first = [a.first, b.first].compactMap { $0 }.min()
            sum.last = [a.last, b.last].compactMap { $0 }.max()
            return sum
        }
    }

    public struct Talker: Sendable, Codable, Equatable {
        public var packets = 0
        public var bytes: Int64 = 0

        mutating func add(packets: Int, bytes: Int64) {
            self.packets += packets
            self.bytes += bytes
        }
    }

    private struct DNSKey: Hashable {
        var client: Endpoint
        var server: Endpoint
        var id: UInt16
    }

    /// A flow (its slot, told apart from a later flow in the same slot by its first packet) and when it was last looked at.
    private struct Activity {
        var time: Int64
        var slot: Int32
        var firstPacket: Int
    }

    private struct PendingQuery {
        var packet: Int
        var time: Int64
        var name: String
        var type: UInt16
    }

    public init() {}

    /// Times count from `first`, the capture's first packet, though this analysis may see only
    /// some of the packets (one shard of several).
    public mutating func begin(at first: Timestamp) {
        started = true
        start = first.nanoseconds
    }

    // MARK: the per-packet path

    /// `raw`: the packet's bytes, read for DNS names only; a TCP segment's may end with its headers
    /// (`AnalysisShards` hands its worker segments without their payload, `packet` saying how much
    /// was captured). `clock`: the latest packet time of the whole capture so far, when this
    /// analysis sees only part of it (a shard); else its own packets' latest.
    public mutating func add(_ packet: DecodedPacket, number: Int, timestamp: Timestamp, originalLength: Int, raw: UnsafeRawBufferPointer,
                             clock: Int64? = nil) {
        let time = timestamp.nanoseconds
        self.clock = clock ?? max(self.clock, time)
        if !started {
            started = true
            start = time
        }
        if totals.first == nil { totals.first = timestamp }
        totals.last = timestamp
        totals.packets += 1
        totals.bytes += Int64(originalLength)
        // Headers cut short; a payload cut (snaplen, or redaction) is normal and not counted.
        if let cut = packet.truncated, cut != .application { totals.truncatedPackets += 1 }
        if packet.isFragment { totals.fragments += 1 }
        guard packet.network == .ipv4 || packet.network == .ipv6 else {
            if packet.network != .arp { totals.undecodedPackets += 1 }
            totals.otherPackets += 1
            return
        }

        switch packet.transport {
        case .tcp where !packet.isLaterFragment && packet.tcp.headerLength >= 20:
            totals.tcpPackets += 1
            track(packet, proto: 6, number: number, time: time, frameLength: originalLength)
        case .udp where !packet.isLaterFragment:
            totals.udpPackets += 1
            track(packet, proto: 17, number: number, time: time, frameLength: originalLength)
            if let dns = packet.dns {
                trackDNS(dns, packet, number: number, time: time, raw: raw)
            } else if packet.sourcePort == 53 || packet.destinationPort == 53, packet.capturedPayloadLength < min(12, packet.payloadLength) {
                totals.dnsMessagesCut += 1
            }
        case .icmp, .icmpv6:
            totals.icmpPackets += 1
            if packet.icmp.isError { trackICMPError(packet, number: number, time: time) }
            trackICMP(packet, number: number, time: time, frameLength: originalLength)
        default:
            totals.otherPackets += 1
        }

        // Release finished flows every 1024 packets or every second of capture time.
        sinceSweep += 1
        if sinceSweep >= 1024 || time - lastSweep > 1_000_000_000 {
            sinceSweep = 0
            lastSweep = time
            sweep(now: self.clock)
        }
    }

    @inline(__always)
    private mutating func track(_ packet: DecodedPacket, proto: UInt8, number: Int, time: Int64, frameLength: Int) {
        let source = Endpoint(address: packet.source, port: packet.sourcePort)
        let destination = Endpoint(address: packet.destination, port: packet.destinationPort)
        let key = FlowKey(source: source, destination: destination, proto: proto)
        let slot: Int
        let found = index.findRecent(key)
        if let existing = found, endsFlow(existing, packet, proto: proto, time: time) {
            release(existing, key: key)
            slot = open(key, packet, source: source, destination: destination, proto: proto, number: number, time: time)
        } else if let existing = found {
            slot = existing
        } else {
            slot = open(key, packet, source: source, destination: destination, proto: proto, number: number, time: time)
        }
        let start = self.start
        // The flow is changed in place, through the array's buffer: a Flow is too large to copy per packet.
        var reset: ResetEvent?  // set for a reset only (`Flow.processTCP`)
        let (closedNow, outcome) = flows.withUnsafeMutableBufferPointer { buffer -> (Bool, Flow.Outcome) in
            let fromOriginator = buffer[slot].originator == source
            let wasClosed = Flow.isClosed(buffer[slot].orig.state, buffer[slot].resp.state)
            if proto == 6 {
                let outcome = buffer[slot].processTCP(packet, fromOriginator: fromOriginator, number: number, time: time, start: start,
                                                      reset: &reset)
                if outcome == .copy { return (false, .copy) }
                if fromOriginator { buffer[slot].orig.frameBytes += Int64(frameLength) } else { buffer[slot].resp.frameBytes += Int64(frameLength) }
                return (!wasClosed && Flow.isClosed(buffer[slot].orig.state, buffer[slot].resp.state), outcome)
            }
            buffer[slot].lastPacket = number
            buffer[slot].last = time
            // UDP's history, as Zeek's: D (d) the first packet with payload from the originator (responder).
            if proto == 17, packet.payloadLength > 0 { buffer[slot].note(UInt8(ascii: "D"), fromOriginator: fromOriginator) }
            if fromOriginator {
                buffer[slot].orig.packets += 1
                buffer[slot].orig.frameBytes += Int64(frameLength)
                buffer[slot].orig.payloadBytes += Int64(packet.payloadLength)
            } else {
                buffer[slot].resp.packets += 1
                buffer[slot].resp.frameBytes += Int64(frameLength)
                buffer[slot].resp.payloadBytes += Int64(packet.payloadLength)
            }
            return (false, .counted)
        }
        let copy = outcome == .copy
        if copy { totals.copiesDropped += 1 }
        if proto == 6, packet.tcp.has(TCPHeader.syn), !packet.tcp.has(TCPHeader.ack), !copy,
           flows[slot].orig.synCount >= 2, flows[slot].synAckTime < 0 {
            totals.unansweredSynRetries += 1
        }
        if let reset {
            totals.resets += 1
            if resets.count < recordLimit {
                // Room for all it keeps from the first: growing by doubling copied each reset
                // (hundreds of bytes) about ten times. Untouched room costs no memory.
                if resets.capacity == 0 { resets.reserveCapacity(recordLimit) }
                resets.append(reset)
            }
        }
        if closedNow { closing.append((time, slot, key)) }
    }

    /// Zeek's delays: state is kept this long after a close or a reset (tcp_close_delay,
    /// tcp_reset_delay), and an attempt nobody answered this long after it began (tcp_SYN_timeout).
    static let closeDelay: Int64 = 5_000_000_000

    /// Whether a TCP packet on a known 5-tuple is a new connection (`Flow.startsAnew`), or a UDP or
    /// ICMP flow has expired. Read in place: a non-mutating method of the analyzer would copy it
    /// whole for the call, and one of the flow the flow.
    @inline(__always)
    private mutating func endsFlow(_ slot: Int, _ packet: DecodedPacket, proto: UInt8, time: Int64) -> Bool {
        let clock = self.clock
        return flows.withUnsafeBufferPointer { buffer in
            guard proto == 6 else { return clock - buffer[slot].last > Self.inactivityTimeout }
            guard Flow.mayStartAnew(buffer[slot].orig.state, buffer[slot].resp.state, start: buffer[slot].start, time: time) else { return false }
            return buffer[slot].startsAnew(packet, time: time, clock: clock)  // a copy of the flow, for a closed or stale one only
        }
    }

    /// Zeek's udp_inactivity_timeout and icmp_inactivity_timeout: a UDP or ICMP flow quiet this
    /// long has ended, and its next packet starts a new one. TCP connections are not expired for
    /// quiet (Zeek's 5 min tcp_inactivity_timeout is left out on purpose): a reset after a long
    /// idle is the evidence capplan looks for, and it needs the connection it ends.
    static let inactivityTimeout: Int64 = 60_000_000_000

    /// UDP ports Zeek takes for a server's (its likely_server_ports): a packet from one of them to
    /// another port is the responder's, e.g. a DHCP answer (67 to 68) seen before its request.
    static let udpServerPorts: Set<UInt16> = [53, 67, 69, 123, 137, 138, 161, 500, 514, 1812, 1813, 4500, 5353, 5355]

    /// An ICMP message as Zeek's ICMP "connection": the sender's port is the message type, the
    /// receiver's the type that answers it (echo request 8 and reply 0, neighbour solicitation
    /// 135 and advertisement 136, ...), or the code for a message nothing answers.
    private mutating func trackICMP(_ packet: DecodedPacket, number: Int, time: Int64, frameLength: Int) {
        guard packet.transportOffset >= 0, !packet.isLaterFragment else { return }
        var message = packet
        let type = UInt16(packet.icmp.type)
        let pairs = packet.transport == .icmpv6 ? Self.icmpv6Counterparts : Self.icmpv4Counterparts
        message.sourcePort = type
        message.destinationPort = pairs[type] ?? UInt16(packet.icmp.code)
        message.payloadLength = 0
        track(message, proto: packet.transport == .icmpv6 ? 58 : 1, number: number, time: time, frameLength: frameLength)
    }

    static let icmpv4Counterparts: [UInt16: UInt16] = [8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10]
    static let icmpv6Counterparts: [UInt16: UInt16] = [128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130]

    /// Broadcast and multicast: a packet to one is not an answer.
    static func isGroupAddress(_ address: IPAddress) -> Bool {
        address.isIPv6 ? address.high >> 56 == 0xFF : address.low == 0xFFFF_FFFF || address.low >> 28 == 0xE
    }

    private mutating func open(_ key: FlowKey, _ packet: DecodedPacket, source: Endpoint, destination: Endpoint,
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
        } else if source.port < 1024 && destination.port >= 1024 && source.port != 0
                    || Self.udpServerPorts.contains(source.port) && !Self.udpServerPorts.contains(destination.port)
                    && !Self.isGroupAddress(destination.address) {
            swap(&originator, &responder)
            flipped = true
        }
        let bucket = FlowBucket.of(key)
        if bucketOpen[bucket] >= max(1, openFlowLimit / FlowBucket.count) { evictLeastActive(bucket) }
        var flow = Flow(originator: originator, responder: responder, proto: proto, number: number, time: time, flipped: flipped)
        flow.tunnel = packet.tunnel
        let slot: Int
        if let reused = free.popLast() {
            flows[reused] = flow
            slot = reused
        } else {
            // Grown by moving pages, not copying flows (`FlowStore`).
            flows.append(flow)
            slot = flows.count - 1
        }
        index.insert(key, slot)
        if proto != 6 { quiet.append((time, slot, key)) }
        bucketOpen[bucket] += 1
        activity[bucket].append(Activity(time: time, slot: Int32(slot), firstPacket: number))
        if activity[bucket].count - activityHead[bucket] > 2 * bucketOpen[bucket] + 1024 { compactActivity(bucket) }
        return slot
    }

    /// Ends the flow of this share that has been quiet longest: the queue's oldest entry whose flow
    /// has not spoken since; one that has goes to the back with its latest time.
    private mutating func evictLeastActive(_ bucket: Int) {
        while activityHead[bucket] < activity[bucket].count {
            let entry = activity[bucket][activityHead[bucket]]
            activityHead[bucket] += 1
            guard isLive(entry) else { continue }  // released already
            let slot = Int(entry.slot)
            let last = flows.withUnsafeBufferPointer { $0[slot].last }
            if last > entry.time {
                activity[bucket].append(Activity(time: last, slot: entry.slot, firstPacket: entry.firstPacket))
                continue
            }
            let flow = flows[slot]
            release(slot, key: FlowKey(source: flow.originator, destination: flow.responder, proto: flow.proto))
            totals.evicted += 1
            return
        }
    }

    /// Drops the entries of flows released since, so the queue follows the open flows.
    private mutating func compactActivity(_ bucket: Int) {
        activity[bucket] = activity[bucket][activityHead[bucket]...].filter(isLive)
        activityHead[bucket] = 0
    }

    /// Whether the entry's flow is still held: its slot not released (protocol 0)
    /// nor taken by a later flow (another first packet).
    private func isLive(_ entry: Activity) -> Bool {
        flows.withUnsafeBufferPointer { $0[Int(entry.slot)].proto != 0 && $0[Int(entry.slot)].firstPacket == entry.firstPacket }
    }

    // MARK: ICMP and DNS

    private mutating func trackICMPError(_ packet: DecodedPacket, number: Int, time: Int64) {
        let icmp = packet.icmp
        guard icmp.hasQuotedPacket else { return }
        let source = Endpoint(address: icmp.quotedSource, port: icmp.quotedSourcePort)
        let destination = Endpoint(address: icmp.quotedDestination, port: icmp.quotedDestinationPort)
        let detail = UInt32(icmp.type) << 16 | UInt32(icmp.code) << 8 | UInt32(icmp.quotedProtocol)
        guard !isCopy(of: EventKey(kind: .icmpError, reporter: packet.source, from: source, to: destination, detail: detail), at: time) else { return }
        totals.icmpErrors += 1
        // Past the limit only counted: its words are not even put together.
        guard icmpErrors.count < recordLimit else { return }
        icmpErrors.append(ICMPErrorEvent(
            packet: number, time: Double(time - start) / 1e9, reporter: packet.source, type: icmp.type, code: icmp.code,
            description: ICMPDescription.text(type: icmp.type, code: icmp.code, version6: packet.transport == .icmpv6),
            quotedProtocol: icmp.quotedProtocol, quotedSource: source, quotedDestination: destination,
            mtu: icmp.mtu > 0 ? icmp.mtu : nil))
    }

    private mutating func trackDNS(_ dns: DNSMessage, _ packet: DecodedPacket, number: Int, time: Int64, raw: UnsafeRawBufferPointer) {
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
        guard !isCopy(of: EventKey(kind: .dnsResponse, reporter: source.address, from: destination, to: source, detail: UInt32(dns.id)), at: time)
        else { return }
        totals.dnsResponses += 1
        guard dns.responseCode != 0 else { return }
        totals.dnsFailures += 1
        // Past the limit only counted: its name is not even read.
        guard dnsFailures.count < recordLimit else { return }
        dnsFailures.append(DNSFailure(
            packet: number, time: Double(time - start) / 1e9, client: destination, server: source,
            name: dns.nameOffset >= 0 ? dns.name(in: raw) : (query?.name ?? "?"),
            type: DNSMessage.typeName(dns.questionType != 0 ? dns.questionType : query?.type ?? 0),
            outcome: DNSMessage.responseCodeName(dns.responseCode)))
    }

    /// An ICMP error (who sent it, its type, code and the quoted packet's endpoints and protocol) or
    /// a DNS response (client, server, ID), as copy detection tells them apart.
    struct EventKey: Hashable {
        enum Kind: UInt8 { case icmpError, dnsResponse }
        var kind: Kind
        var reporter: IPAddress
        var from: Endpoint
        var to: Endpoint
        var detail: UInt32
    }

    /// True when the same event was seen within 1 ms (a copy on another interface); remembers it otherwise.
    private mutating func isCopy(of key: EventKey, at time: Int64) -> Bool {
        if let seen = recentEvents[key], abs(time - seen) < 1_000_000 { return true }
        recentEvents[key] = time
        oldestRecentEvent = min(oldestRecentEvent, time)
        return false
    }

    // MARK: releasing finished flows

    /// Releases flows that closed more than `linger` ago and stayed quiet since.
    private mutating func sweep(now: Int64) {
        if !recentEvents.isEmpty, now - oldestRecentEvent >= 1_000_000_000 {
            recentEvents = recentEvents.filter { now - $0.value < 1_000_000_000 }
            oldestRecentEvent = recentEvents.values.min() ?? .max
        }
        while closingHead < closing.count, now - closing[closingHead].time > linger {
            let (_, slot, key) = closing[closingHead]
            closingHead += 1
            guard index.find(key) == slot else { continue }
            // Read in place: `flows[slot].last` copied the whole flow.
            let (closed, last) = flows.withUnsafeBufferPointer { (Flow.isClosed($0[slot].orig.state, $0[slot].resp.state), $0[slot].last) }
            guard closed else { continue }
            if now - last > linger {
                release(slot, key: key)
            } else {
                closing.append((last, slot, key))  // still talking: look again later
            }
        }
        if closingHead > 4096, closingHead * 2 > closing.count {
            closing.removeFirst(closingHead)
            closingHead = 0
        }
        // UDP and ICMP flows quiet past the timeout are released: memory follows active flows on a long run.
        while quietHead < quiet.count, now - quiet[quietHead].time > Self.inactivityTimeout {
            let (_, slot, key) = quiet[quietHead]
            quietHead += 1
            guard index.find(key) == slot else { continue }
            let last = flows.withUnsafeBufferPointer { $0[slot].last }
            if now - last > Self.inactivityTimeout {
                release(slot, key: key)
            } else {
                quiet.append((last, slot, key))  // still talking: look again later
            }
        }
        if quietHead > 4096, quietHead * 2 > quiet.count {
            quiet.removeFirst(quietHead)
            quietHead = 0
        }
    }

    private mutating func release(_ slot: Int, key: FlowKey) {
        summarise(slot: slot)
        index.remove(key)
        bucketOpen[FlowBucket.of(key)] -= 1
        // Marked free in place (protocol 0) rather than overwritten with a placeholder flow: the
        // slot's next flow overwrites it whole.
        flows.withUnsafeMutableBufferPointer { $0[slot].proto = 0 }
        free.append(slot)
    }

    /// The flow in `slot`, summarised where it lies rather than copied (a Flow is about 880 bytes).
    private mutating func summarise(slot: Int) {
        summariseOpen(of: flows, slots: slot..<slot + 1)
    }

    /// The flows held now, for another analysis to summarise some of them (`summariseOpen(of:slots:)`)
    /// while this one finishes the rest (`finish(leaving:)`). The copy shares their storage, and
    /// nothing writes it after: finishing lets go of the flows rather than changing them.
    var heldFlows: FlowStore { flows }

    /// Summarises the flows open in `slots` of `held` (this analysis's own, or another's begun at
    /// the same first packet), where they lie.
    private mutating func summariseOpen(of held: FlowStore, slots: Range<Int>) {
        held.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for slot in slots where buffer[slot].proto != 0 { summarise(base + slot) }  // protocol 0: released
        }
    }

    /// Summarises the open flows in `slots` of another analysis's `heldFlows` as if they were this
    /// one's (the other leaves them out of its own finish), then trims the records to those kept,
    /// so that the other's fit beside them when the two are merged (`absorb`).
    mutating func summariseFinishing(_ held: FlowStore, slots: Range<Int>) {
        summariseOpen(of: held, slots: slots)
        trimConnections()
    }

    /// Through a pointer: a flow passed by value to a mutating method is copied first, for all that it is only read.
    private mutating func summarise(_ flow: UnsafePointer<Flow>) {
        let state = flow.pointee.state
        stateTally[state.ordinal] += 1
        let flowExpert = flow.pointee.orig.expert + flow.pointee.resp.expert
        expert = expert + flowExpert
        totals.connections += 1
        switch flow.pointee.proto {
        case 6: totals.tcpConnections += 1
        case 17: totals.udpConnections += 1
        default: totals.icmpConnections += 1
        }
        // Top talkers are summed per flow, not per packet: one lookup per address per flow.
        if flow.pointee.orig.packets > 0 {
            talkerTable.add(flow.pointee.originator.address, packets: flow.pointee.orig.packets, bytes: flow.pointee.orig.frameBytes)
        }
        if flow.pointee.resp.packets > 0 {
            talkerTable.add(flow.pointee.responder.address, packets: flow.pointee.resp.packets, bytes: flow.pointee.resp.frameBytes)
        }
        // Kept: the first `recordLimit` by their first packet, trimmed now and then rather than kept sorted.
        // Once a trim has kept `recordLimit`, a flow that started after all of them cannot be among the first.
        guard flow.pointee.firstPacket < keptUpTo else { return }
        if connections.count >= 2 * recordLimit { trimConnections() }
        // Room for every record kept between trims from the first: growing by doubling copied the
        // records into fresh memory each time. Untouched room costs no memory.
        if connections.capacity == 0 { connections.reserveCapacity(2 * recordLimit) }
        connections.append(flow.pointee.record(state: state, expert: flowExpert, captureStart: start))
    }

    /// Summarises every flow still open and every query still unanswered. Call once, at the end.
    /// `leaving`: slots whose flows another analysis summarises instead (`summariseFinishing`).
    public mutating func finish(leaving: Range<Int> = 0..<0) {
        // In slot order, as before; no list of a million entries to sort.
        let held = flows
        summariseOpen(of: held, slots: 0..<min(leaving.lowerBound, held.count))
        summariseOpen(of: held, slots: min(leaving.upperBound, held.count)..<held.count)
        index = FlowTable()
        flows.removeAll()
        free.removeAll()
        closing.removeAll()
        quiet.removeAll()
        activity = activity.map { _ in [] }
        activityHead = activityHead.map { _ in 0 }
        bucketOpen = bucketOpen.map { _ in 0 }
        for (key, query) in pendingDNS.sorted(by: { $0.value.packet < $1.value.packet }) {
            totals.dnsFailures += 1
            dnsFailures.append(DNSFailure(packet: query.packet, time: Double(query.time - start) / 1e9, client: key.client,
                                          server: key.server, name: query.name, type: DNSMessage.typeName(query.type),
                                          outcome: "no answer"))
        }
        pendingDNS.removeAll()
        trimConnections()
        dnsFailures.sort { $0.packet < $1.packet }
        if dnsFailures.count > recordLimit { dnsFailures.removeLast(dnsFailures.count - recordLimit) }
    }

    private mutating func trimConnections() {
        // Sorted as (key, index) pairs, then each record moved once: a sort that moved the records
        // themselves cost more than the rest of finishing the analysis, and reading a key out of
        // the records copied each record it compared. No two connections begin at one packet.
        let keys = connections.map(\.firstPacket)
        if !keys.indices.dropFirst().allSatisfy({ keys[$0 - 1] < keys[$0] }) {
            connections.permute(into: keys.indices.map { (key: keys[$0], index: $0) }.sorted { $0.key < $1.key }.map(\.index))
        }
        if connections.count > recordLimit { connections.removeLast(connections.count - recordLimit) }
        if connections.count == recordLimit, let last = connections.last { keptUpTo = last.firstPacket }
    }

    /// Takes in the analysis of a disjoint part of the packets (each flow wholly in one), begun at
    /// the same first packet, both finished: this is then one analysis of them all, the same as if
    /// it had seen every packet. In place: the records join this one's, in room kept for them.
    public mutating func absorb(_ part: consuming ConnectionAnalyzer) {
        totals = totals + part.totals
        connections += part.connections
        resets += part.resets
        icmpErrors += part.icmpErrors
        dnsFailures += part.dnsFailures
        for (ordinal, count) in part.stateTally.enumerated() { stateTally[ordinal] += count }
        expert = expert + part.expert
        talkerTable.merge(part.talkerTable)
        trimConnections()
        resets = Array(resets.sorted { $0.packet < $1.packet }.prefix(recordLimit))
        icmpErrors = Array(icmpErrors.sorted { $0.packet < $1.packet }.prefix(recordLimit))
        dnsFailures = Array(dnsFailures.sorted { $0.packet < $1.packet }.prefix(recordLimit))
    }

    /// Flows currently held (for tests of bounded memory).
    public var openFlows: Int { index.count }
}

extension Array {
    /// Rearranged so that position i holds what was at `order[i]` (a permutation of the indices):
    /// each element moved once, in place, rather than copied into a new array.
    mutating func permute(into order: [Int]) {
        precondition(order.count == count)
        var placed = [Bool](repeating: false, count: count)
        withUnsafeMutableBufferPointer { elements in
            guard let base = elements.baseAddress else { return }
            for start in order.indices where !placed[start] {
                // Around the cycle through `start`: each position takes from the one `order` names.
                let held = (base + start).move()
                var position = start
                while order[position] != start {
                    (base + position).moveInitialize(from: base + order[position], count: 1)
                    placed[position] = true
                    position = order[position]
                }
                (base + position).initialize(to: held)
                placed[position] = true
            }
        }
    }
}
