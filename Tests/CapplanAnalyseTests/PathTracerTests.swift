@testable import CapplanAnalyse
import CapplanPackets
import CapplanTestSupport
import Foundation
import Testing

/// The path tracer on crafted sightings of one packet at several points: matched across
/// Service DNAT and masquerade (addresses and ports differ between points), its sender named
/// from the points that saw it and the ones that did not, and the limits of the match (IPv6
/// has no IP ID; a retransmission with equal fields is a packet of its own).
struct PathTracerTests {
    typealias Segment = Crafter.TCP
    static let syn: UInt8 = 0x02, ack: UInt8 = 0x10, rst: UInt8 = 0x04, fin: UInt8 = 0x01

    /// Client pod on node a, server pod on node b, a Service in front of the server.
    static let client = (ip: "10.244.0.5", port: UInt16(40000)), service = (ip: "10.96.0.80", port: UInt16(80))
    static let server = (ip: "10.244.1.7", port: UInt16(8080))
    static let points = [
        PathPoint(name: "a/veth-client", node: "a", role: .podVeth, pod: "myapp/client", addresses: ["10.244.0.5"]),
        PathPoint(name: "a/eth0", node: "a", role: .uplink),
        PathPoint(name: "b/eth0", node: "b", role: .uplink),
        PathPoint(name: "b/veth-server", node: "b", role: .podVeth, pod: "myapp/server", addresses: ["10.244.1.7"]),
    ]

    /// Feeds packets, each as (point, seconds, IP packet bytes), to a tracer over `points`.
    struct Feed {
        var tracer: PathTracer
        var number = 0
        let decoder: PacketDecoder

        init(points: [PathPoint]) throws {
            tracer = PathTracer(points: points)
            decoder = try PacketDecoder(linkType: 1)
        }

        mutating func add(_ point: Int, at seconds: Double, _ ip: [UInt8]) {
            number += 1
            let frame = Crafter.ethernet(Crafter.withChecksums(ip), type: ip.first.map { $0 >> 4 == 6 ? 0x86DD : 0x0800 } ?? 0x0800)
            let time = Timestamp(nanoseconds: 1_700_000_000_000_000_000 + Int64(seconds * 1e9))
            frame.withUnsafeBytes { raw in
                tracer.add(decoder.decode(raw), point: point, number: number, timestamp: time, raw: raw)
            }
        }

        func report() -> PathReport { tracer.report(start: Timestamp(nanoseconds: 1_700_000_000_000_000_000)) }
    }

    static func tcp(_ segment: Segment, id: UInt16) -> [UInt8] {
        Crafter.ipv4(segment.from.ip, segment.to.ip, proto: 6, ttl: segment.ttl, id: id, body: Crafter.tcpHeader(segment))
    }

    /// The SYN through the Service, DNAT on node a, seen at all four points; the SYN-ACK back.
    static func handshakeThroughService(_ feed: inout Feed) {
        feed.add(0, at: 0.000, tcp(Segment(from: client, to: service, flags: syn, seq: 1000), id: 7))
        for (point, time) in [(1, 0.001), (2, 0.002), (3, 0.003)] {
            feed.add(point, at: time, tcp(Segment(from: client, to: server, flags: syn, seq: 1000, ttl: 63), id: 7))
        }
        for (point, time) in [(3, 0.004), (2, 0.005), (1, 0.006)] {
            feed.add(point, at: time, tcp(Segment(from: server, to: client, flags: syn | ack, seq: 5000, ack: 1001), id: 0))
        }
        feed.add(0, at: 0.007, tcp(Segment(from: service, to: client, flags: syn | ack, seq: 5000, ack: 1001, ttl: 63), id: 0))
    }

    @Test func aPacketIsFollowedAcrossServiceDNATAndItsSenderNamed() throws {
        var feed = try Feed(points: Self.points)
        Self.handshakeThroughService(&feed)
        // The server resets: seen leaving its veth first, then on both uplinks, then at the client.
        for (point, time) in [(3, 2.000), (2, 2.001), (1, 2.002)] {
            feed.add(point, at: time, Self.tcp(Segment(from: Self.server, to: Self.client, flags: Self.rst | Self.ack, seq: 5001, ack: 1001), id: 9))
        }
        feed.add(0, at: 2.003, Self.tcp(Segment(from: Self.service, to: Self.client, flags: Self.rst | Self.ack, seq: 5001, ack: 1001), id: 9))
        let report = feed.report()
        let connection = try #require(report.connections.first)
        #expect(report.connections.count == 1, "the Service's and the pod's addresses are one connection")
        #expect(connection.pod == "myapp/client")
        #expect(connection.views.contains("a/veth-client: 10.244.0.5:40000 > 10.96.0.80:80"))
        #expect(connection.views.contains("b/veth-server: 10.244.0.5:40000 > 10.244.1.7:8080"))
        #expect(connection.ladder.map(\.packet) == ["SYN", "SYN-ACK", "RST-ACK"])
        #expect(connection.ladder.map { $0.seen.count } == [4, 4, 4])
        let reset = try #require(connection.ladder.last)
        #expect(reset.direction == "inbound")
        #expect(reset.sender?.kind == .pod && reset.sender?.name == "myapp/server")
        #expect(reset.missedAt.isEmpty)
        #expect(report.hop(ofPacket: feed.number)?.packet == "RST-ACK")
    }

    /// Node a's conntrack entry for the connection (as `conntrack -L` prints it) says how it was
    /// translated; node b's for another connection says nothing about this one.
    @Test func conntrackNamesTheTranslation() throws {
        var feed = try Feed(points: Self.points)
        Self.handshakeThroughService(&feed)
        let entries = ConntrackEntry.parse("""
            tcp      6 117 ESTABLISHED src=10.244.0.5 dst=10.96.0.80 sport=40000 dport=80 src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40000 [ASSURED] mark=0 use=1
            udp      17 29 src=10.244.0.5 dst=10.96.0.10 sport=5353 dport=53 [UNREPLIED] src=10.96.0.10 dst=10.244.0.5 sport=53 dport=5353 mark=0 use=1
            conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.
            """, node: "a") + ConntrackEntry.parse("tcp 6 10 CLOSE src=10.244.0.9 dst=10.244.1.7 sport=1 dport=8080 src=10.244.1.7 dst=10.244.0.9 sport=8080 dport=1", node: "b")
        #expect(entries.count == 3)
        let connection = try #require(feed.tracer.report(start: nil, conntrack: entries).connections.first)
        #expect(connection.translations == ["node a (conntrack): 10.244.0.5:40000 > 10.96.0.80:80 sent on as 10.244.0.5:40000 > 10.244.1.7:8080: "
                                            + "destination 10.96.0.80:80 -> 10.244.1.7:8080 (DNAT)"])
    }

    @Test func aSynDroppedOnTheServersNodeIsLostAfterThatNodesUplink() throws {
        var feed = try Feed(points: Self.points)
        feed.add(0, at: 0.000, Self.tcp(Segment(from: Self.client, to: Self.service, flags: Self.syn, seq: 1000), id: 7))
        feed.add(1, at: 0.001, Self.tcp(Segment(from: Self.client, to: Self.server, flags: Self.syn, seq: 1000, ttl: 63), id: 7))
        feed.add(2, at: 0.002, Self.tcp(Segment(from: Self.client, to: Self.server, flags: Self.syn, seq: 1000, ttl: 62), id: 7))
        let hop = try #require(feed.report().connections.first?.ladder.first)
        #expect(hop.sender?.kind == .pod && hop.sender?.name == "myapp/client")
        #expect(hop.missedAt == ["b/veth-server"])
        #expect(hop.stoppedOn == "b")
        #expect(hop.finding?.contains("SYN stopped on node b: last seen on b/eth0 at 0.002 s, never on b/veth-server") == true, "\(hop.finding ?? "no finding")")
    }

    @Test func aResetMadeByTheClientsNodeNeverCrossedItsUplink() throws {
        var feed = try Feed(points: Self.points)
        Self.handshakeThroughService(&feed)
        feed.add(0, at: 1.5, Self.tcp(Segment(from: Self.service, to: Self.client, flags: Self.rst, seq: 5001), id: 0))
        let hop = try #require(feed.report().connections.first?.ladder.last)
        #expect(hop.packet == "RST")
        #expect(hop.sender?.kind == .node && hop.sender?.name == "a")
        #expect(hop.finding?.contains("RST made by node a: first seen on a/veth-client at 1.500 s, never on a/eth0 before it") == true, "\(hop.finding ?? "no finding")")
    }

    /// Masquerade: on the uplink the pod's address and port are the node's.
    static let node = (ip: "198.51.100.1", port: UInt16(61000)), far = (ip: "203.0.113.12", port: UInt16(443))
    static let onePoint = [
        PathPoint(name: "a/veth-client", node: "a", role: .podVeth, pod: "myapp/client"),
        PathPoint(name: "a/eth0", node: "a", role: .uplink),
    ]

    @Test func aResetFromOutsideWithAnotherTTLIsNotTheFarEndsHost() throws {
        var feed = try Feed(points: Self.onePoint)
        feed.add(0, at: 0.000, Self.tcp(Segment(from: Self.client, to: Self.far, flags: Self.syn, seq: 1), id: 3))
        feed.add(1, at: 0.001, Self.tcp(Segment(from: Self.node, to: Self.far, flags: Self.syn, seq: 1, ttl: 63), id: 3))
        feed.add(1, at: 0.010, Self.tcp(Segment(from: Self.far, to: Self.node, flags: Self.syn | Self.ack, seq: 9, ack: 2), id: 0))
        feed.add(0, at: 0.011, Self.tcp(Segment(from: Self.far, to: Self.client, flags: Self.syn | Self.ack, seq: 9, ack: 2, ttl: 63), id: 0))
        feed.add(1, at: 5.000, Self.tcp(Segment(from: Self.far, to: Self.node, flags: Self.rst, seq: 10, ttl: 57), id: 0))
        feed.add(0, at: 5.001, Self.tcp(Segment(from: Self.far, to: Self.client, flags: Self.rst, seq: 10, ttl: 56), id: 0))
        let connection = try #require(feed.report().connections.first)
        #expect(connection.views == ["a/veth-client: 10.244.0.5:40000 > 203.0.113.12:443", "a/eth0: 198.51.100.1:61000 > 203.0.113.12:443"])
        let hop = try #require(connection.ladder.last)
        #expect(hop.sender?.kind == .external && hop.sender?.firstSeenAt == "a/eth0")
        #expect(hop.finding?.contains("had 64: sent by something 7 hops") == true, "\(hop.finding ?? "no finding")")
    }

    /// A SYN sent again with equal fields is a packet of its own: the first was lost on the node,
    /// the second crossed it. The uplink's sighting belongs to the newer one.
    @Test func aRetransmissionWithEqualFieldsIsAPacketOfItsOwn() throws {
        var feed = try Feed(points: Self.onePoint)
        let syn = Self.tcp(Segment(from: Self.client, to: Self.far, flags: Self.syn, seq: 1), id: 0)
        feed.add(0, at: 0.0, syn)
        feed.add(0, at: 1.0, syn)
        feed.add(1, at: 1.001, Self.tcp(Segment(from: Self.node, to: Self.far, flags: Self.syn, seq: 1, ttl: 63), id: 0))
        let ladder = try #require(feed.report().connections.first?.ladder)
        #expect(ladder.map { $0.seen.map(\.point) } == [["a/veth-client"], ["a/veth-client", "a/eth0"]])
        #expect(ladder.first?.missedAt == ["a/eth0"])
        #expect(ladder.last?.missedAt == [])
    }

    /// A flood of one RST with equal fields at one point: each copy reads at most
    /// `candidateDepth` of the ones before it, not all of them, and a copy on the uplink still
    /// joins the newest.
    @Test func aFloodOfEqualPacketsCostsLittleEach() throws {
        var feed = try Feed(points: Self.onePoint)
        let reset = Self.tcp(Segment(from: Self.far, to: Self.client, flags: Self.rst, seq: 9), id: 0)
        let copies = 3000
        for copy in 0..<copies { feed.add(0, at: Double(copy) * 0.0001, reset) }
        // Reading every earlier copy would be copies * copies / 2 reads, 4.5 million here.
        #expect(feed.tracer.candidatesRead <= copies * min(PathTracer.candidateDepth, 16))
        feed.add(1, at: 0.5, Self.tcp(Segment(from: Self.far, to: Self.node, flags: Self.rst, seq: 9, ttl: 57), id: 0))
        let ladder = try #require(feed.report().connections.first?.ladder)
        #expect(ladder.count == copies)
        #expect(ladder.last?.seen.map(\.packet) == [copies, copies + 1], "the uplink's copy joins the newest")
    }

    /// IPv6 has no IP ID: sequence and acknowledgment numbers still tell the packets apart.
    @Test func ipv6PacketsAreMatchedWithoutAnIPID() throws {
        var feed = try Feed(points: Self.onePoint)
        let (pod, remote) = ("2001:db8:1::5", "2001:db8:2::12")
        func segment(_ from: String, _ to: String, _ flags: UInt8, seq: UInt32, ack: UInt32 = 0) -> [UInt8] {
            let forward = from == pod
            return Crafter.ipv6(from, to, next: 6, body: Crafter.tcpHeader(Segment(from: (from, forward ? 40000 : 443), to: (to, forward ? 443 : 40000),
                                                                                  flags: flags, seq: seq, ack: ack)))
        }
        feed.add(0, at: 0.0, segment(pod, remote, Self.syn, seq: 100))
        feed.add(1, at: 0.001, segment(pod, remote, Self.syn, seq: 100))
        feed.add(1, at: 0.002, segment(remote, pod, Self.syn | Self.ack, seq: 700, ack: 101))
        feed.add(0, at: 0.003, segment(remote, pod, Self.syn | Self.ack, seq: 700, ack: 101))
        feed.add(0, at: 0.5, segment(pod, remote, Self.fin | Self.ack, seq: 101, ack: 701))
        let ladder = try #require(feed.report().connections.first?.ladder)
        #expect(ladder.map(\.packet) == ["SYN", "SYN-ACK", "FIN"])
        #expect(ladder.map { $0.seen.count } == [2, 2, 1])
        #expect(ladder.map(\.direction) == ["outbound", "inbound", "outbound"])
        #expect(ladder.last?.missedAt == ["a/eth0"])
    }
    /// Real traffic with its payloads: the lab's capture and Zeek's traces.
    static func realCaptures() throws -> [String] {
        return [try NetLab.shared.get().ethernet] + (try Corpus.captures(in: "zeek")).filter { $0.hasSuffix(".pcap") }
    }

    /// The tracing thread is handed a plain segment's headers and the first `hashedPayload` bytes of
    /// its payload only (`prefixForSegmentFields`): on real traffic with its payloads (the lab's
    /// capture and Zeek's traces), the cut packet gives the tracer exactly what the whole one does.
    @Test func aSegmentCutAfterItsHashedPayloadIsFollowedAsTheWholeOne() throws {
        let files = try Self.realCaptures()
        var (segments, cut) = (0, 0)
        for file in files {
            guard let reader = try? PcapReader(path: file), let decoder = try? PacketDecoder(linkType: reader.linkType) else { continue }
            while let packet = try? reader.next() {
                let raw = packet.bytes
                let kept = decoder.prefixForSegmentFields(raw, payload: PathTracer.hashedPayload)
                let part = UnsafeRawBufferPointer(rebasing: raw[..<kept])
                let whole = decoder.quickTCPSegment(raw).flatMap { PathTracer.describe($0, raw: raw) }
                let taken = decoder.quickTCPSegment(part).flatMap { PathTracer.describe($0, raw: part) }
                #expect((whole == nil) == (taken == nil), "\(file)")
                guard let whole, let taken else { continue }
                segments += 1
                if kept < raw.count { cut += 1 }
                let same = whole.key == taken.key && whole.isData == taken.isData && (whole.from, whole.to) == (taken.from, taken.to)
                #expect(same && (whole.ttl, whole.name.type) == (taken.ttl, taken.name.type), "\(file): a segment cut to \(kept) of \(raw.count) bytes")
            }
        }
        #expect(cut > 1000 && segments > cut, "\(cut) of \(segments) segments cut")
    }

    /// A plain segment read straight from its bytes (`quickTCPSegment`, and for a data segment of a
    /// recent connection the last-data shortcut) is followed exactly as its full decode is: over the
    /// lab's capture and Zeek's traces, each packet seen at three points, the two tracers' reports
    /// are the same.
    @Test func theQuickReadingFollowsPacketsAsTheFullDecodeDoes() throws {
        let files = try Self.realCaptures()
        var (compared, quick) = (0, 0)
        for file in files {
            guard let reader = try? PcapReader(path: file), let decoder = try? PacketDecoder(linkType: reader.linkType) else { continue }
            var (full, fast) = (PathTracer(points: Array(Self.points.prefix(3))), PathTracer(points: Array(Self.points.prefix(3))))
            var (number, first): (Int, Timestamp?) = (0, nil)
            while let packet = try? reader.next() {
                first = first ?? packet.timestamp
                let segment = decoder.quickTCPSegment(packet.bytes)
                if segment != nil { quick += 1 }
                for point in 0..<3 {
                    number += 1
                    full.add(decoder.decode(packet.bytes), point: point, number: number, timestamp: packet.timestamp, raw: packet.bytes)
                    if let segment {
                        fast.add(segment, point: point, number: number, timestamp: packet.timestamp, raw: packet.bytes)
                    } else {
                        fast.add(decoder.decode(packet.bytes), point: point, number: number, timestamp: packet.timestamp, raw: packet.bytes)
                    }
                }
            }
            let (a, b) = (full.report(start: first), fast.report(start: first))
            compared += a.connections.count
            #expect(a == b, "\(file): \(a.connections.count) connections followed in full, \(b.connections.count) read quickly")
        }
        #expect(compared > 100 && quick > 4_000, "\(compared) connections, \(quick) segments read quickly")
    }

    /// The recent view slots answer for exactly the point and endpoints (either way) they were
    /// told, or not at all: over many connections that share addresses, ports and points, every
    /// answer is the slot remembered for that very key, and the latest remembered are found.
    @Test func recentViewSlotsNeverAnswerForAnotherConnection() {
        var random = SplitMix64(seed: 11)
        var slots = RecentViewSlots()
        var told: [String: Int] = [:]
        func endpoint() -> Endpoint {
            let address = random.next() % 3 == 0 ? IPAddress(ipv6High: 0x2001_0db8 << 32, low: random.next() % 4)
                : IPAddress(ipv4: 0xC633_6400 | UInt32(random.next() % 4))
            return Endpoint(address: address, port: UInt16(random.next() % 3))
        }
        var last: (Int, Endpoint, Endpoint, Int)?
        for slot in 0..<5000 {
            let (point, from, to) = (Int(random.next() % 3), endpoint(), endpoint())
            slots.remember(point: point, from, to, slot: slot)
            told["\(point) \(from) \(to)"] = slot
            last = (point, from, to, slot)
            for _ in 0..<4 {
                let (p, f, t) = (Int(random.next() % 3), endpoint(), endpoint())
                if let answer = slots.slot(point: p, f, t) { #expect(told["\(p) \(f) \(t)"] == answer, "\(p) \(f) \(t)") }
            }
        }
        if let (point, from, to, slot) = last { #expect(slots.slot(point: point, from, to) == slot) }
    }

    /// The newest packet of each key, through the table's rebuilds: a key whose newest packet is
    /// still in the window is found with it, one followed again with the later packet; one that
    /// left the window is found with its packet or not at all; a key never set is not found.
    @Test func recentKeysKeepEveryKeyInTheWindowThroughRebuilds() {
        let window = 5_000
        let key = { (id: Int) in PathTracer.Key(a: UInt64(id) &* 0x9E37_79B9, b: UInt64(id % 7), c: UInt64(id / 3)) }
        var recent = RecentKeys()
        var followed: [PathTracer.Key] = []
        var newest: [Int: Int] = [:]
        var ids: [Int] = []
        // 20,000 packets, every tenth one a key followed 100 packets before: the table rebuilds
        // many times, each time leaving out what is older than the window.
        for n in 0..<20_000 {
            let id = n % 10 == 0 && n >= 100 ? n - 100 : n
            let found = recent.newest(key(id)) { followed[$0] }
            let oldest = max(0, followed.count - window)
            switch newest[id] {
            case let index? where index >= oldest: #expect(found == index, "packet \(n)")
            case let index?: #expect(found == index || found == -1, "packet \(n)")
            case nil: #expect(found == -1, "packet \(n)")
            }
            // The oldest packet in the window: the first a rebuild would wrongly leave out.
            if oldest < ids.count, let index = newest[ids[oldest]] {
                #expect(recent.newest(key(ids[oldest])) { followed[$0] } == index, "packet \(n), the window's first")
            }
            ids.append(id)
            followed.append(key(id))
            recent.set(key(id), newest: followed.count - 1, oldest: max(0, followed.count - window)) { followed[$0] }
            newest[id] = followed.count - 1
        }
        let found = newest.filter { $0.value >= followed.count - window }.filter { recent.newest(key($0.key)) { followed[$0] } == $0.value }
        #expect(found.count == newest.filter { $0.value >= followed.count - window }.count)
        #expect(recent.newest(PathTracer.Key(a: 1, b: 2, c: 3)) { followed[$0] } == -1)
    }

    /// The connection's last data left the pod and never crossed the uplink: stopped on the node.
    @Test func theLastDataIsFollowedAndItsLossNamed() throws {
        var feed = try Feed(points: Self.onePoint)
        feed.add(0, at: 0.000, Self.tcp(Segment(from: Self.client, to: Self.far, flags: Self.syn, seq: 1), id: 3))
        feed.add(1, at: 0.001, Self.tcp(Segment(from: Self.node, to: Self.far, flags: Self.syn, seq: 1, ttl: 63), id: 3))
        feed.add(0, at: 0.100, Self.tcp(Segment(from: Self.client, to: Self.far, flags: 0x18, seq: 2, ack: 10, payload: 100), id: 4))
        feed.add(1, at: 0.101, Self.tcp(Segment(from: Self.node, to: Self.far, flags: 0x18, seq: 2, ack: 10, payload: 100, ttl: 63), id: 4))
        feed.add(0, at: 0.200, Self.tcp(Segment(from: Self.client, to: Self.far, flags: 0x18, seq: 102, ack: 10, payload: 100), id: 5))
        let ladder = try #require(feed.report().connections.first?.ladder)
        let data = try #require(ladder.first { $0.packet == "last DATA" })
        #expect(data.seen.map(\.packet) == [5], "the latest segment, seen on the veth only")
        #expect(data.missedAt == ["a/eth0"] && data.stoppedOn == "a")
        #expect(data.finding?.hasPrefix("last DATA stopped on node a: last seen on a/veth-client at 0.200 s") == true, "\(data.finding ?? "")")
    }

    /// More connections than get a ladder: the few with something to say (a RST, a connection that
    /// never crossed the uplink, a packet one point missed) get one though they came last, then
    /// those seen at both points in the order they began; one seen at a single point gets none.
    /// The same with 70 points, where the points seen are a Set rather than bits.
    @Test(arguments: [0, 68]) func theLaddersGoFirstToTheConnectionsWithSomethingToSay(unusedPoints: Int) throws {
        let points = Self.onePoint + (0..<unusedPoints).map { PathPoint(name: "z/veth\($0)", node: "z", role: .podVeth) }
        var feed = try Feed(points: points)
        var id: UInt16 = 0, time = 0.0
        /// A segment at each of `at` (0: the veth, 1: the uplink, masqueraded), 100 µs apart.
        func send(_ port: UInt16, _ flags: UInt8, at: [Int], inbound: Bool = false) {
            id += 1
            time += 0.001
            for (step, point) in at.enumerated() {
                let pod = point == 0 ? (ip: Self.client.ip, port: port) : (ip: Self.node.ip, port: port &+ 20000)
                let segment = inbound ? Segment(from: Self.far, to: pod, flags: flags, seq: 9000, ack: 1, ttl: point == 0 ? 63 : 64)
                                      : Segment(from: pod, to: Self.far, flags: flags, seq: 1, ttl: point == 0 ? 64 : 63)
                feed.add(point, at: time + Double(step) * 0.0001, Self.tcp(segment, id: id))
            }
        }
        for port in UInt16(41000)..<41250 { send(port, Self.syn, at: [0, 1]) }
        for port in UInt16(42000)..<42010 { send(port, Self.syn, at: [1]) }
        send(45000, Self.syn, at: [0, 1])
        send(45000, Self.rst, at: [1, 0], inbound: true)
        send(45001, Self.syn, at: [0])
        send(45002, Self.syn, at: [0, 1])
        send(45002, Self.fin | Self.ack, at: [0])
        // A view reads "a/veth-client: 10.244.0.5:41000 > 203.0.113.12:443": the port of its first endpoint.
        let ports = Set(feed.report().connections.compactMap { connection in
            connection.views.first.flatMap { $0.split(separator: " ").dropFirst().first?.split(separator: ":").last }.flatMap { UInt16($0) }
        })
        #expect(ports.count == PathTracer.connectionLimit)
        #expect([45000, 45001, 45002].filter { !ports.contains($0) } == [], "the connections with something to say get a ladder")
        #expect((41000..<41197).filter { !ports.contains($0) } == [], "then the first of those seen at both points")
        #expect(ports.filter { (41197..<41250).contains($0) || (42000..<42010).contains($0) || (62000..<62010).contains($0) }.sorted() == [],
                "not the later ones, nor those seen at the uplink alone")
    }
}
