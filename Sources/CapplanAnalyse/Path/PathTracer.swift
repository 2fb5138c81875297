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

    struct Key: Equatable {
        var a: UInt64, b: UInt64, c: UInt64
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

        /// A packet seen on view `id`, sent from its lower endpoint or its higher one.
        init(view id: Int, _ view: ViewTable.View, fromLow: Bool, packet: Int, nanos: Int64, ttl: UInt8) {
            (point, self.packet, self.nanos, self.ttl, self.view) = (view.point, packet, nanos, ttl, id)
            (from, to) = fromLow ? (view.low, view.high) : (view.high, view.low)
        }
    }

    /// A sighting as the pass keeps it: its point and endpoints are its view's, either way round.
    struct Seen {
        var packet: Int
        var nanos: Int64
        /// The next sighting of the same packet, or -1.
        var next: Int
        var view: Int32
        var ttl: UInt8
        /// It came from the view's lower endpoint.
        var fromLow: Bool
    }

    /// A key packet as the ladder shows it: its name and each sighting, in the order seen.
    struct Group {
        var label: String
        var sightings: [Sighting]
    }

    /// A key packet followed in the pass, in flat storage (no allocation per packet): its
    /// sightings are a chain through `sightings`, and the candidates that share its key a chain
    /// through `followed`, newest first.
    struct Followed {
        var key: Key
        var name: PacketName
        /// The first sighting's view, here as well as in the sighting: every match reads it, and
        /// this saves a lookup in `sightings` each time. Its time is in `began`.
        var firstView: Int
        var head: Int
        var tail: Int
        var count: Int
        /// The points that saw it, as bits; a point past 63 is looked for along the chain.
        var points: UInt64
        /// The packet followed before it with the same key, or -1.
        var earlier: Int
    }

    /// What a key packet is: TCP flags, or an ICMP error's type and code.
    struct PacketName {
        var isICMP: Bool
        var type: UInt8
        var code: UInt8

        var label: String {
            guard !isICMP else { return "ICMP \(type)/\(code)" }
            if type & TCPHeader.rst != 0 { return type & TCPHeader.ack != 0 ? "RST-ACK" : "RST" }
            if type & TCPHeader.syn != 0 { return type & TCPHeader.ack != 0 ? "SYN-ACK" : "SYN" }
            return "FIN"
        }

        /// A RST or an ICMP error: made by someone on the way as often as by an end.
        var isMadeOnTheWay: Bool { isICMP || type & TCPHeader.rst != 0 }
    }

    var followed: [Followed] = []
    var sightings: [Seen] = []
    /// The last data segment each view saw each way, at view << 1 | 1 when it came from the view's
    /// lower endpoint, for the ladder's last data: kept per view, not per packet.
    var lastData: [DataSighting?] = []

    /// The last few TCP connections' views at each point, found without `views`.
    private var recentViews = RecentViewSlots()

    struct DataSighting {
        var key: Key
        var packet: Int
        var nanos: Int64
        var ttl: UInt8
    }
    /// Match candidates: each key's newest packet followed within the window. Packets are
    /// followed in the order they began, so those before `beganHead` are past the window.
    private var recent = RecentKeys()
    private var beganHead = 0
    /// Each packet followed's first time, in the order followed, beside `followed` rather than in
    /// it: the window's prune walks these eight to a cache line. Walked in `followed` (80 bytes
    /// apart, written seconds before), it was a cache miss about every packet.
    private(set) var began: [Int64] = []
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
        guard let described = Self.describe(packet, raw: raw) else { return }
        add(described, point: point, number: number, timestamp: timestamp)
    }

    /// A plain TCP segment seen at `point`, read without a full decode (`PacketDecoder.quickTCPSegment`).
    /// A data segment of a connection among the recent views only replaces its view's last data:
    /// most of what a path follows, done here without describing it first.
    public mutating func add(_ segment: TCPSegmentFields, point: Int, number: Int, timestamp: Timestamp, raw: UnsafeRawBufferPointer) {
        if Self.isData(segment.flags), segment.payloadLength > 0, point >= 0, point < pointCount,
           let slot = recentViews.slot(point: point, Endpoint(address: segment.source, port: segment.sourcePort),
                                       Endpoint(address: segment.destination, port: segment.destinationPort)),
           slot < lastData.count {
            lastData[slot] = DataSighting(key: Self.key(segment, raw: raw), packet: number, nanos: timestamp.nanoseconds, ttl: segment.ttl)
            return
        }
        guard let described = Self.describe(segment, raw: raw) else { return }
        add(described, point: point, number: number, timestamp: timestamp)
    }

    /// What the tracer takes from a packet it follows.
    struct Described {
        var key: Key
        /// A data segment: only the last each way is kept.
        var isData: Bool
        /// The connection's endpoints in the direction the packet travels.
        var from: Endpoint
        var to: Endpoint
        var proto: UInt8
        var ttl: UInt8
        var name: PacketName
    }

    private mutating func add(_ packet: Described, point: Int, number: Int, timestamp: Timestamp) {
        guard point >= 0, point < pointCount else { return }
        let (key, from, to) = (packet.key, packet.from, packet.to)
        let nanos = timestamp.nanoseconds
        // A TCP connection's view (and which way the packet goes in it) from the recent ones at
        // hand, else looked up and remembered: most of a bulk transfer's segments, and the key
        // packets that come soon after another one of the connection, find it here.
        let cached = packet.proto == 6 ? recentViews.slot(point: point, from, to) : nil
        if packet.isData, let slot = cached, slot < lastData.count {
            lastData[slot] = DataSighting(key: key, packet: number, nanos: nanos, ttl: packet.ttl)
            return
        }
        let view: Int, fromLow: Bool
        if let slot = cached {
            (view, fromLow) = (slot >> 1, slot & 1 == 1)
        } else {
            if views.isEmpty { reserve() }
            guard let id = views.id(point: point, proto: packet.proto, from, to, limit: 2 * limit) else {
                // What is counted is key packets (summary.json's `untracedPackets`), not data segments.
                if !packet.isData { untraced += 1 }
                return
            }
            (view, fromLow) = (id, ViewTable.fromLow(from, to))
            if packet.proto == 6 {
                recentViews.remember(point: point, from, to, slot: view << 1 | (fromLow ? 1 : 0))
                // A key packet's answer (a SYN's SYN-ACK, a FIN's FIN) comes the other way.
                if !packet.isData { recentViews.remember(point: point, to, from, slot: view << 1 | (fromLow ? 0 : 1)) }
            }
        }
        if packet.isData {
            let slot = view << 1 | (fromLow ? 1 : 0)
            // Written in place: an array of nils to append first would be pages touched twice.
            if slot >= lastData.count { lastData.append(contentsOf: repeatElement(nil, count: max(slot + 1 - lastData.count, lastData.count))) }
            lastData[slot] = DataSighting(key: key, packet: number, nanos: nanos, ttl: packet.ttl)
            return
        }
        // Only key packets look for candidates: the window moves on when one comes.
        prune(now: nanos)
        let sighting = Seen(packet: number, nanos: nanos, next: -1, view: Int32(view), ttl: packet.ttl, fromLow: fromLow)
        let newest = recent.newest(key) { followed[$0].key }
        if let index = candidate(newest, point: point, nanos: nanos) {
            add(sighting, to: index, point: point)
            return
        }
        // `RecentKeys` holds an index in 32 bits.
        guard followed.count < min(limit, Int(UInt32.max) - 1) else {
            untraced += 1
            return
        }
        sightings.append(sighting)
        began.append(nanos)
        followed.append(Followed(key: key, name: packet.name, firstView: view, head: sightings.count - 1,
                                 tail: sightings.count - 1, count: 1, points: point < 64 ? 1 << UInt64(point) : 0, earlier: newest))
        recent.set(key, newest: followed.count - 1, oldest: beganHead) { followed[$0].key }
    }

    /// Another sighting of the packet followed at `index`, whose connection its view joins.
    /// Inlined: called apart, it took about 40 instructions more a sighting (the tracer's thread
    /// 414.5M -> 426.3M on a path of short connections).
    @inline(__always)
    private mutating func add(_ sighting: Seen, to index: Int, point: Int) {
        views.join(followed[index].firstView, Int(sighting.view))
        sightings.append(sighting)
        sightings[followed[index].tail].next = sightings.count - 1
        followed[index].tail = sightings.count - 1
        followed[index].count += 1
        if point < 64 { followed[index].points |= 1 << UInt64(point) }
    }

    /// How many packets with one key `candidate` reads, newest first. Past that many within the
    /// window they are a flood of copies (a RST sent again and again with equal fields) that no
    /// match tells apart; reading them all made each copy cost as much as every one before it
    /// (a crafted capture of 40,000 took 2.4 s, twice as many four times as long).
    static let candidateDepth = 16
    /// Packets read by `candidate` so far (the tests' measure of its work).
    private(set) var candidatesRead = 0

    /// The newest packet with this key, from `newest` back, seen within the window of its first
    /// sighting and not yet at this point; among the newest `candidateDepth` with the key.
    private mutating func candidate(_ newest: Int, point: Int, nanos: Int64) -> Int? {
        var (index, depth) = (newest, 0)
        while index >= beganHead, depth < Self.candidateDepth {
            let packet = followed[index]
            candidatesRead += 1
            if nanos - began[index] <= window, !seen(packet, at: point) { return index }
            index = packet.earlier
            depth += 1
        }
        return nil
    }

    private func seen(_ packet: Followed, at point: Int) -> Bool {
        if point < 64 { return packet.points & 1 << UInt64(point) != 0 }
        var at = packet.head
        while at >= 0 {
            if views[Int(sightings[at].view)].point == point { return true }
            at = sightings[at].next
        }
        return false
    }

    /// Room up to the limits from the first packet: growing by doubling would copy each array
    /// into fresh pages several times. Pages (huge ones where the kernel gives them) are touched
    /// only as they fill.
    private mutating func reserve() {
        followed.reserveCapacityInHugePages(limit)
        began.reserveCapacityInHugePages(limit)
        sightings.reserveCapacityInHugePages(limit * min(pointCount, 4))
        lastData.reserveCapacityInHugePages(4 * limit)
        views.reserve(2 * limit)
    }

    /// Packets followed that began longer than the window ago stop being candidates, oldest first.
    private mutating func prune(now: Int64) {
        while beganHead < began.count, now - began[beganHead] > window { beganHead += 1 }
    }

    /// The packet followed at `index`, as the ladder shows it.
    func group(_ index: Int) -> Group {
        var chain: [Sighting] = []
        chain.reserveCapacity(followed[index].count)
        var at = followed[index].head
        while at >= 0 {
            let seen = sightings[at], id = Int(seen.view)
            chain.append(Sighting(view: id, views[id], fromLow: seen.fromLow, packet: seen.packet, nanos: seen.nanos, ttl: seen.ttl))
            at = seen.next
        }
        return Group(label: followed[index].name.label, sightings: chain)
    }

    /// What the tracer follows of a packet; nil for one it does not follow (a bare ACK, a later
    /// fragment, neither TCP nor an ICMP error that quotes ports).
    static func describe(_ packet: DecodedPacket, raw: UnsafeRawBufferPointer) -> Described? {
        guard packet.network == .ipv4 || packet.network == .ipv6, !packet.isLaterFragment else { return nil }
        switch packet.transport {
        case .tcp:
            return describe(TCPSegmentFields(packet), raw: raw)
        case .icmp, .icmpv6:
            let icmp = packet.icmp
            guard icmp.isError, icmp.hasQuotedPacket, icmp.hasQuotedPorts else { return nil }
            let quoted = quotedFields(packet, raw: raw)
            let key = Key(a: UInt64(packet.ipIdentification) << 32 | UInt64(quoted.identification),
                          b: UInt64(icmp.type) << 8 | UInt64(icmp.code) | 1 << 63, c: UInt64(quoted.sequence))
            // An error travels back toward the sender of the packet it quotes.
            return Described(key: key, isData: false, from: Endpoint(address: icmp.quotedDestination, port: icmp.quotedDestinationPort),
                             to: Endpoint(address: icmp.quotedSource, port: icmp.quotedSourcePort), proto: icmp.quotedProtocol,
                             ttl: packet.ttl, name: PacketName(isICMP: true, type: icmp.type, code: icmp.code))
        default:
            return nil
        }
    }

    static func describe(_ tcp: TCPSegmentFields, raw: UnsafeRawBufferPointer) -> Described? {
        let isData = isData(tcp.flags)
        guard !isData || tcp.payloadLength > 0 else { return nil }
        return Described(key: key(tcp, raw: raw), isData: isData, from: Endpoint(address: tcp.source, port: tcp.sourcePort),
                         to: Endpoint(address: tcp.destination, port: tcp.destinationPort), proto: 6, ttl: tcp.ttl,
                         name: PacketName(isICMP: false, type: tcp.flags, code: 0))
    }

    /// A segment with none of SYN, FIN and RST: data (or a bare ACK, which has no payload).
    @inline(__always)
    static func isData(_ flags: UInt8) -> Bool { flags & (TCPHeader.syn | TCPHeader.fin | TCPHeader.rst) == 0 }

    /// The fields of a segment that NAT leaves alone, as the match compares them.
    @inline(__always)
    static func key(_ tcp: TCPSegmentFields, raw: UnsafeRawBufferPointer) -> Key {
        Key(a: UInt64(tcp.identification) << 32 | UInt64(tcp.sequence),
            b: UInt64(tcp.acknowledgment) << 32 | UInt64(tcp.flags) << 24 | UInt64(tcp.payloadLength & 0xFF_FFFF),
            c: payloadHash(from: tcp.payloadOffset, captured: tcp.capturedPayloadLength, raw: raw))
    }

    /// Payload bytes a segment's match hashes.
    static let hashedPayload = 16

    /// FNV-1a over the first `hashedPayload` captured payload bytes (0 without payload). Given the
    /// two numbers it reads, not the segment's fields: passed those, the fields were written out
    /// to memory for every segment to be passed by address.
    static func payloadHash(from offset: Int, captured: Int, raw: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        let end = min(offset + min(captured, hashedPayload), raw.count)
        guard offset >= 0, offset < end else { return 0 }
        for index in offset..<end {
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

/// Recent TCP connections' views as slots, `view << 1 | 1` when the packet goes from the view's
/// lower endpoint (the `PathTracer.lastData` slot of a data segment), by the point and the
/// endpoints the way the packet went; one entry per hash of them, a collision overwriting the
/// older. A bulk transfer's segments, most of what a path follows, and key packets soon after
/// another of their connection find their view here rather than by looking it up
/// (`ViewTable.id`, which hashes the connection's key: about 150 instructions, and two cache misses
/// as often as not). A view's number never changes, so an entry stays true.
struct RecentViewSlots {
    private struct Entry {
        var from: Endpoint
        var to: Endpoint
        var point: Int
        /// -1 for an empty entry.
        var slot: Int
    }

    private static let empty = Entry(from: Endpoint(address: IPAddress(ipv4: 0), port: 0), to: Endpoint(address: IPAddress(ipv4: 0), port: 0),
                                     point: -1, slot: -1)
    /// 4,096 entries (320 KB): room for the connections open at once on a busy path, its three
    /// points and both ways, within the core's cache. 256 held a bulk transfer's data segments but
    /// not the key packets that come at a connection's end; 16,384 no longer fit the cache.
    private var entries = [Entry](repeating: empty, count: 1 << 12)

    /// The top 12 bits of a multiplicative mix of the endpoints and the point.
    @inline(__always)
    private static func index(_ point: Int, _ from: Endpoint, _ to: Endpoint) -> Int {
        let addresses = (from.address.low &+ to.address.low &* 0x9E37_79B9_7F4A_7C15) ^ from.address.high ^ to.address.high
        let mixed = addresses ^ (UInt64(from.port) << 32 | UInt64(to.port) << 16 | UInt64(truncatingIfNeeded: point))
        return Int(truncatingIfNeeded: (mixed &* 0xBF58_476D_1CE4_E5B9) >> 52)
    }

    @inline(__always)
    func slot(point: Int, _ from: Endpoint, _ to: Endpoint) -> Int? {
        let entry = entries[Self.index(point, from, to)]
        return entry.slot >= 0 && entry.point == point && entry.from == from && entry.to == to ? entry.slot : nil
    }

    mutating func remember(point: Int, _ from: Endpoint, _ to: Endpoint, slot: Int) {
        entries[Self.index(point, from, to)] = Entry(from: from, to: to, point: point, slot: slot)
    }
}

/// Each key's newest packet followed, by open addressing kept at most half full. A key whose
/// packet left the window keeps its entry until the table fills; the rebuild then leaves it out.
/// A slot holds the packet's index and a tag of its key's hash, 8 bytes, not the key: the key is
/// the packet's own (`keyOf`), read only where the tag agrees, and that packet is the candidate
/// read next anyway. With the keys in the slots (32 bytes), on a path of many short connections
/// the table outgrew the core's cache and its lookups took about a fifth of the tracer's time.
/// The tag is also where a slot's home comes from, so a rebuild places each packet again without
/// reading its key: reading them, one cache miss each, was most of the rebuilds' time.
struct RecentKeys {
    /// The hash's upper 32 bits, and the packet's index + 1 below them; 0 for an empty slot.
    private var slots = [UInt64](repeating: 0, count: 1024)
    private var used = 0
    /// Every key packet of every point is looked up: a multiply per pair of words, not SipHash.
    private let secret = TableSecret()

    @inline(__always)
    private func hash(_ key: PathTracer.Key) -> UInt64 { secret.hash(key.a, key.b, key.c, 0, 0) }

    private static var tagBits: UInt64 { 0xFFFF_FFFF_0000_0000 }

    @inline(__always)
    private static func tag(_ hash: UInt64) -> UInt64 { hash & tagBits }

    /// The first slot to look at for a hash or a tag: the tag's bits (a table is far below 2^32 slots).
    @inline(__always)
    private static func home(_ tagged: UInt64, mask: Int) -> Int { Int(truncatingIfNeeded: tagged >> 32) & mask }

    /// The packet index a slot holds; -1 for an empty one.
    @inline(__always)
    private static func index(_ slot: UInt64) -> Int { Int(truncatingIfNeeded: slot & ~tagBits) - 1 }

    /// The newest packet followed with this key, or -1. `keyOf`: a packet's key by its index.
    @inline(__always)
    func newest(_ key: PathTracer.Key, keyOf: (Int) -> PathTracer.Key) -> Int {
        slot(key, keyOf: keyOf).map { Self.index(slots[$0]) } ?? -1
    }

    /// The slot holding the key, or nil.
    @inline(__always)
    private func slot(_ key: PathTracer.Key, keyOf: (Int) -> PathTracer.Key) -> Int? {
        let tag = Self.tag(hash(key)), mask = slots.count - 1
        var slot = Self.home(tag, mask: mask)
        while slots[slot] != 0 {
            if Self.tag(slots[slot]) == tag, keyOf(Self.index(slots[slot])) == key { return slot }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// `newest`: the packet's index, below 2^32 - 1 (`PathTracer.limit`). `oldest`: the first packet
    /// still in the window; the rest are left behind when the table grows.
    mutating func set(_ key: PathTracer.Key, newest: Int, oldest: Int, keyOf: (Int) -> PathTracer.Key) {
        let entry = UInt64(truncatingIfNeeded: newest + 1) & ~Self.tagBits
        if let slot = slot(key, keyOf: keyOf) {
            slots[slot] = Self.tag(slots[slot]) | entry
            return
        }
        place(Self.tag(hash(key)) | entry)
        used += 1
        if used * 2 > slots.count { rebuild(keeping: oldest) }
    }

    /// Puts a slot's content (tag and index) in the first empty slot from its home.
    private mutating func place(_ filled: UInt64) {
        let mask = slots.count - 1
        var slot = Self.home(filled, mask: mask)
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = filled
    }

    private mutating func rebuild(keeping oldest: Int) {
        let live = slots.filter { $0 != 0 && Self.index($0) >= oldest }
        var capacity = 1024
        while capacity < live.count * 4 { capacity *= 2 }
        // Cleared in place when the size stays: a fresh table is fresh pages.
        if capacity == slots.count {
            for slot in slots.indices { slots[slot] = 0 }
        } else {
            slots = [UInt64](repeating: 0, count: capacity)
        }
        used = live.count
        for filled in live { place(filled) }
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

    /// A view as the table keeps and compares it: its connection packed in words as the flow
    /// table keeps one, and the point. Every packet of the path looks its view up, and comparing
    /// `View`s field by field cost about 200 instructions a lookup.
    struct Key: SecretHashable {
        var flow: PackedFlowKey
        var point: Int

        static func == (a: Key, b: Key) -> Bool { a.point == b.point && a.flow == b.flow }

        /// A point past 2^22 shares its hash with another (the key still tells them apart).
        func hash(with secret: TableSecret) -> UInt64 {
            secret.hash(flow.lowAddress.0, flow.lowAddress.1, flow.highAddress.0, flow.highAddress.1,
                        flow.rest ^ UInt64(truncatingIfNeeded: point) << 42)
        }
    }

    private var numbered = NumberedKeys<Key>()
    private var parent: [Int] = []

    var count: Int { numbered.count }
    var isEmpty: Bool { numbered.count == 0 }

    subscript(id: Int) -> View {
        let key = numbered.keys[id]
        let flow = key.flow.key
        return View(point: key.point, proto: flow.proto, low: flow.low, high: flow.high)
    }

    /// Whether the packet from `from` to `to` goes from its view's low endpoint (`FlowKey`'s order).
    @inline(__always)
    static func fromLow(_ from: Endpoint, _ to: Endpoint) -> Bool { !(to < from) }

    /// The view's id; nil for a new one once there are `limit` views.
    @inline(__always)
    mutating func id(point: Int, proto: UInt8, _ a: Endpoint, _ b: Endpoint, limit: Int = .max) -> Int? {
        let key = Key(flow: PackedFlowKey(FlowKey(source: a, destination: b, proto: proto)), point: point)
        guard let (id, isNew) = numbered.number(key, limit: limit) else { return nil }
        if isNew { parent.append(id) }
        return id
    }

    mutating func reserve(_ count: Int) {
        numbered.reserve(count)
        parent.reserveCapacityInHugePages(count)
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
