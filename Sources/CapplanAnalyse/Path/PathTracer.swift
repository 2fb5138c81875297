public import CapplanPackets

/// Follows each key packet (SYN, SYN-ACK, FIN, RST, ICMP error, and each connection's last data
/// segment either way) across the capture points of a path, in the run's one pass. A packet seen at several points is matched by the fields that
/// routing and NAT leave alone: IP ID, TCP sequence and acknowledgment numbers, flags, payload
/// length and a hash of its first payload bytes (for an ICMP error: the IDs of it and of the
/// packet it quotes, and the quoted sequence number). Addresses and ports are not part of the
/// match, so a packet rewritten by SNAT or a Service's DNAT is still the same packet; the
/// connections it joins show the translation.
public struct PathTracer {
    public let points: [PathPoint]
    /// Sightings further apart than this are different packets (a retransmission with equal fields).
    public var window: Int64 = 2_000_000_000
    /// At most this many key packets are followed, on at most twice as many connection views
    /// (a connection as one point sees it); the rest are counted.
    public var limit = 200_000

    struct Key: Hashable {
        var a: UInt64, b: UInt64, c: UInt64

        /// One word for the hasher, premixed: every key packet of every point is looked up.
        func hash(into hasher: inout Hasher) {
            hasher.combine(a &* 0x9E37_79B9_7F4A_7C15 ^ b &* 0xC2B2_AE3D_27D4_EB4F ^ c)
        }
    }

    struct Sighting {
        var point: Int
        var packet: Int
        var nanos: Int64
        var ttl: UInt8
        var from: Endpoint
        var to: Endpoint
        /// The connection as this point sees it (point and both endpoints).
        var view: Int
    }

    struct Group {
        var label: String
        var sightings: [Sighting]
    }

    var groups: [Group] = []
    /// The last data segment each view saw each way, at view << 1 | 1 when it came from the view's
    /// lower endpoint, for the ladder's last data: kept per view, not per packet.
    var lastData: [DataSighting?] = []

    struct DataSighting {
        var key: Key
        var packet: Int
        var nanos: Int64
        var ttl: UInt8
    }
    /// Match candidates: the groups of the last `window` by key, and the same in the order they
    /// began, so the oldest leave first (no scan of the table).
    private var recent: [Key: [Int]] = [:]
    private var began: [(nanos: Int64, key: Key)] = []
    private var beganHead = 0
    private(set) var untraced = 0
    /// Connections as each point sees them, joined when one packet is seen as two of them.
    var views = ViewTable()

    private let pointCount: Int

    public init(points: [PathPoint]) {
        self.points = points
        pointCount = points.count
    }

    /// One packet seen at `point`; only key packets are kept.
    public mutating func add(_ packet: DecodedPacket, point: Int, number: Int, timestamp: Timestamp, raw: UnsafeRawBufferPointer) {
        guard point >= 0, point < pointCount, let (key, isData, from, to) = Self.describe(packet, raw: raw) else { return }
        let nanos = timestamp.nanoseconds
        prune(now: nanos)
        guard let view = views.id(point: point, proto: packet.transport == .tcp ? 6 : packet.icmp.quotedProtocol, from, to,
                                  limit: 2 * limit) else {
            untraced += 1
            return
        }
        if isData {
            let slot = view << 1 | (from == views.views[view].low ? 1 : 0)
            if slot >= lastData.count { lastData += Array(repeating: nil, count: max(slot + 1 - lastData.count, lastData.count)) }
            lastData[slot] = DataSighting(key: key, packet: number, nanos: nanos, ttl: packet.ttl)
            return
        }
        let sighting = Sighting(point: point, packet: number, nanos: nanos, ttl: packet.ttl, from: from, to: to, view: view)
        if let index = recent[key]?.last(where: { candidate in
            let group = groups[candidate]
            return nanos - (group.sightings.first?.nanos ?? nanos) <= window && !group.sightings.contains { $0.point == point }
        }) {
            views.join(groups[index].sightings[0].view, view)
            groups[index].sightings.append(sighting)
            return
        }
        guard groups.count < limit else {
            untraced += 1
            return
        }
        recent[key, default: []].append(groups.count)
        began.append((nanos, key))
        groups.append(Group(label: Self.label(packet), sightings: [sighting]))
    }

    /// Forgets match candidates older than the window, oldest first: each key's candidates are in
    /// the order they began, so the one leaving is the first of its list.
    private mutating func prune(now: Int64) {
        while beganHead < began.count, now - began[beganHead].nanos > window {
            let key = began[beganHead].key
            // In place: taking the list out and putting it back would copy it.
            if recent[key]?.count == 1 { recent[key] = nil } else { recent[key]?.removeFirst() }
            beganHead += 1
        }
        if beganHead > 4096, beganHead * 2 > began.count {
            began.removeFirst(beganHead)
            beganHead = 0
        }
    }

    /// The match key, whether it is a data segment (not a key packet), and the connection's
    /// endpoints in the direction it travels; nil for a packet the tracer does not follow.
    static func describe(_ packet: DecodedPacket, raw: UnsafeRawBufferPointer) -> (Key, Bool, Endpoint, Endpoint)? {
        guard packet.network == .ipv4 || packet.network == .ipv6, !packet.isLaterFragment else { return nil }
        let from = Endpoint(address: packet.source, port: packet.sourcePort)
        let to = Endpoint(address: packet.destination, port: packet.destinationPort)
        switch packet.transport {
        case .tcp:
            let tcp = packet.tcp
            let isData = tcp.flags & (TCPHeader.syn | TCPHeader.fin | TCPHeader.rst) == 0
            guard !isData || packet.payloadLength > 0 else { return nil }
            let key = Key(a: UInt64(packet.ipIdentification) << 32 | UInt64(tcp.sequence),
                          b: UInt64(tcp.acknowledgment) << 32 | UInt64(tcp.flags) << 24 | UInt64(packet.payloadLength & 0xFF_FFFF),
                          c: payloadHash(packet, raw: raw))
            return (key, isData, from, to)
        case .icmp, .icmpv6:
            let icmp = packet.icmp
            guard icmp.isError, icmp.hasQuotedPacket, icmp.hasQuotedPorts else { return nil }
            let quoted = quotedFields(packet, raw: raw)
            let key = Key(a: UInt64(packet.ipIdentification) << 32 | UInt64(quoted.identification),
                          b: UInt64(icmp.type) << 8 | UInt64(icmp.code) | 1 << 63, c: UInt64(quoted.sequence))
            // An error travels back toward the sender of the packet it quotes.
            return (key, false, Endpoint(address: icmp.quotedDestination, port: icmp.quotedDestinationPort),
                    Endpoint(address: icmp.quotedSource, port: icmp.quotedSourcePort))
        default:
            return nil
        }
    }

    /// The packet's name in a ladder.
    static func label(_ packet: DecodedPacket) -> String {
        guard packet.transport == .tcp else { return "ICMP \(packet.icmp.type)/\(packet.icmp.code)" }
        let tcp = packet.tcp
        if tcp.has(TCPHeader.rst) { return tcp.has(TCPHeader.ack) ? "RST-ACK" : "RST" }
        if tcp.has(TCPHeader.syn) { return tcp.has(TCPHeader.ack) ? "SYN-ACK" : "SYN" }
        return "FIN"
    }

    /// FNV-1a over the first 16 captured payload bytes (0 without payload).
    static func payloadHash(_ packet: DecodedPacket, raw: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        let end = min(packet.payloadOffset + min(packet.capturedPayloadLength, 16), raw.count)
        guard packet.payloadOffset >= 0, packet.payloadOffset < end else { return 0 }
        for index in packet.payloadOffset..<end {
            hash = (hash ^ UInt64(raw[index])) &* 0x100_0000_01B3
        }
        return hash
    }

    /// The quoted packet's IPv4 ID and its transport's bytes 4 to 8 (TCP: the sequence number).
    static func quotedFields(_ packet: DecodedPacket, raw: UnsafeRawBufferPointer) -> (identification: UInt16, sequence: UInt32) {
        let icmp = packet.icmp
        var identification: UInt16 = 0, sequence: UInt32 = 0
        let network = icmp.quotedNetworkOffset, transport = icmp.quotedTransportOffset
        if packet.network == .ipv4, network >= 0, network + 6 <= raw.count {
            identification = UInt16(raw[network + 4]) << 8 | UInt16(raw[network + 5])
        }
        if transport >= 0, transport + 8 <= raw.count {
            for index in transport + 4..<transport + 8 { sequence = sequence << 8 | UInt32(raw[index]) }
        }
        return (identification, sequence)
    }
}

/// Connections as points see them (a point and the two endpoints, either way round), joined
/// into one connection whenever a packet is matched across them.
struct ViewTable {
    struct View: Hashable {
        var point: Int
        var proto: UInt8
        var low: Endpoint
        var high: Endpoint
    }

    private(set) var views: [View] = []
    private var parent: [Int] = []
    /// Open addressing over `views` (id + 1; 0 is empty), kept at most half full: every packet
    /// of the path looks its view up, and a multiply-and-shift hash costs a fraction of SipHash.
    private var slots = [Int32](repeating: 0, count: 1024)

    /// The view's id; nil for a new one once there are `limit` views.
    mutating func id(point: Int, proto: UInt8, _ a: Endpoint, _ b: Endpoint, limit: Int = .max) -> Int? {
        let view = View(point: point, proto: proto, low: min(a, b), high: max(a, b))
        let mask = slots.count - 1
        var slot = Self.hash(view) & mask
        while slots[slot] != 0 {
            let id = Int(slots[slot]) - 1
            if views[id] == view { return id }
            slot = (slot + 1) & mask
        }
        guard views.count < limit, views.count < Int(Int32.max) - 1 else { return nil }
        slots[slot] = Int32(views.count + 1)
        parent.append(views.count)
        views.append(view)
        if views.count * 2 > slots.count { grow() }
        return views.count - 1
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (id, view) in views.enumerated() {
            var slot = Self.hash(view) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id + 1)
        }
    }

    static func hash(_ view: View) -> Int {
        var h = UInt64(truncatingIfNeeded: view.point) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(view.proto)
        // Word by word, not over an array: this runs for every packet of every point.
        @inline(__always) func mix(_ word: UInt64) {
            h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
        }
        mix(view.low.address.high)
        mix(view.low.address.low)
        mix(view.high.address.high)
        mix(view.high.address.low)
        mix(UInt64(view.low.port) << 16 | UInt64(view.high.port))
        return Int(truncatingIfNeeded: h >> 1)
    }

    mutating func join(_ a: Int, _ b: Int) {
        let (rootA, rootB) = (root(a), root(b))
        if rootA != rootB { parent[max(rootA, rootB)] = min(rootA, rootB) }
    }

    mutating func root(_ id: Int) -> Int {
        var id = id
        while parent[id] != id {
            parent[id] = parent[parent[id]]
            id = parent[id]
        }
        return id
    }
}
