import Foundation
import CapplanAnalyse
import CapplanPackets

/// One connection a finding names, drawn as a ladder: its ends (and the capture points between
/// them, on a path) as lanes, its packets as arrows down the time axis.
public struct Ladder: Sendable {
    public struct Arrow: Sendable {
        public enum Kind: String, Sendable, CaseIterable { case syn, synAck = "syn-ack", ack, data, fin, rst, icmp }
        public var kind: Kind
        public var label: String
        /// Seconds from the capture's first packet.
        public var time: Double
        /// Where it went: the sender's lane first, then each lane that saw it (with when).
        public var stops: [(lane: Int, time: Double)]
        /// It did not reach the far end's lane (a path point after the last stop missed it).
        public var lost: Bool
        public var packet: Int
    }

    public var title: String
    /// The finding that names the connection.
    public var finding: String
    public var lanes: [String]
    public var arrows: [Arrow]
    /// Arrows left out in the middle to keep the page bounded.
    public var omitted: Int
}

/// Reads the connections that findings name out of the capture, once the report is known:
/// a second pass over the file that keeps only their packets, at most `arrowLimit` arrows each
/// (data segments in a row one way are one arrow). Bounded by `ladderLimit` connections.
public enum LadderReader {
    public static let ladderLimit = 12
    public static let arrowLimit = 60

    /// A flow regardless of direction.
    struct FlowKey: Hashable {
        var proto: UInt8
        var low: Endpoint
        var high: Endpoint

        init(proto: UInt8, _ a: Endpoint, _ b: Endpoint) {
            self.proto = proto
            (low, high) = a < b ? (a, b) : (b, a)
        }

        init(_ segment: TCPSegmentFields) {
            self.init(proto: 6, Endpoint(address: segment.source, port: segment.sourcePort),
                      Endpoint(address: segment.destination, port: segment.destinationPort))
        }
    }

    /// Reading the capture again for ladders is skipped past this size.
    public static let captureLimit = 2 << 30

    public static func read(path: String, summary: Summary) -> [Ladder] {
        passOverLadders(path: path, summary: summary).ladders
    }

    /// The ladders, and how many packets the pass decoded in full (the tests' measure of its work).
    static func passOverLadders(path: String, summary: Summary) -> (ladders: [Ladder], decoded: Int) {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= captureLimit else { return ([], 0) }
        let cited = citedPackets(summary)
        // The flows of the cited resets are in the summary; only the others need a pass over the file.
        var keys = knownFlows(summary).filter { cited[$0.key] != nil }
        let unknown = cited.filter { keys[$0.key] == nil }
        if !unknown.isEmpty { keys.merge((try? flowsOf(unknown, path: path)) ?? [:]) { known, _ in known } }
        guard !cited.isEmpty, !keys.isEmpty else { return ([], 0) }
        // At most `ladderLimit` flows: looked up by a scan of their keys, cheaper than hashing for
        // every packet. Both lists are fixed before the pass: a list the pass's closures share
        // and could change was checked for exclusive access, and its entries copied, per packet.
        var flows: [FlowKey] = [], builders: [LadderBuilder] = []
        for (number, finding) in cited.sorted(by: { $0.key < $1.key }) {
            guard let key = keys[number], !flows.contains(key), flows.count < ladderLimit else { continue }
            flows.append(key)
            builders.append(LadderBuilder(finding: finding, summary: summary))
        }
        let ladderFlows = flows, ladderBuilders = builders
        // Most packets belong to other flows: a TCP segment whose endpoints its bytes show is
        // decoded only when they are a ladder's, and a bare ACK only when its ladder draws one.
        // A ladder's own bulk transfer is mostly data segments that lengthen the run of data its
        // last arrow stands for: read from their bytes, they are counted without a decode.
        var decoded = 0
        try? forEachPacket(path: path, decodes: { _, source, decoder, raw in
            let segment = decoder.quickTCPSegment(raw)
            let key: FlowKey
            if let segment {
                key = FlowKey(segment)
            } else if let tcp = decoder.quickTCPEndpoints(raw) {
                key = FlowKey(proto: 6, Endpoint(address: tcp.source, port: tcp.sourcePort), Endpoint(address: tcp.destination, port: tcp.destinationPort))
            } else {
                return true
            }
            guard let index = ladderFlows.firstIndex(of: key) else { return false }
            if let segment, ladderBuilders[index].passesBy(segment, source: source) { return false }
            return ladderBuilders[index].drawsBareAck || !decoder.isBareTCPAck(raw)
        }) { number, packet, source, time in
            decoded += 1
            guard let key = flowKey(packet), let index = ladderFlows.firstIndex(of: key) else { return }
            ladderBuilders[index].add(packet, number: number, source: source, time: time)
        }
        return (ladderBuilders.compactMap { $0.ladder() }, decoded)
    }

    /// The first packet each finding cites (findings in order), and the finding's words.
    static func citedPackets(_ summary: Summary) -> [Int: String] {
        var cited: [Int: String] = [:]
        for finding in summary.findings {
            guard let first = finding.packets.first, cited[first] == nil else { continue }
            cited[first] = finding.text
        }
        return cited
    }

    /// The flows the summary names with their packets: each reset's, which its RST travels, as
    /// `flowKey` would read it from the packet. (An ICMP error's quoted flow may lack the ports
    /// `flowKey` needs, so those are read from the file.)
    static func knownFlows(_ summary: Summary) -> [Int: FlowKey] {
        var keys: [Int: FlowKey] = [:]
        for reset in summary.resets where reset.event.packet > 0 {
            keys[reset.event.packet] = FlowKey(proto: 6, reset.event.sender, reset.event.receiver)
        }
        return keys
    }

    /// The flow of each cited packet: a pass over the file up to the last of them.
    static func flowsOf(_ cited: [Int: String], path: String) throws -> [Int: FlowKey] {
        let last = cited.keys.max() ?? 0
        var keys: [Int: FlowKey] = [:]
        try forEachPacket(path: path, until: last, decodes: { number, _, _, _ in cited[number] != nil }) { number, packet, _, _ in
            if let key = flowKey(packet) { keys[number] = key }
        }
        return keys
    }

    /// Each packet `decodes` takes (by its number, source interface, decoder and bytes), decoded,
    /// with its number, source interface and seconds from the first packet.
    static func forEachPacket(path: String, until last: Int = .max,
                              decodes: (Int, Int, PacketDecoder, UnsafeRawBufferPointer) -> Bool = { _, _, _, _ in true },
                              _ body: (Int, DecodedPacket, Int, Double) -> Void) throws {
        let reader = try openCaptureFile(path)
        let decoders = try reader.interfaces.map { interface throws(PcapError) in try PacketDecoder(linkType: interface.linkType) }
        var number = 0
        var first: Timestamp?
        var batch: [RawPacket] = []
        reading: while number < last {
            // A read error ends the pass, as the end of the file does.
            guard (try? reader.next(into: &batch, limit: captureBatchLimit)) != nil, !batch.isEmpty else { break }
            for packet in batch {
                guard number < last else { break reading }
                number += 1
                guard packet.source < decoders.count else { continue }
                let start = first ?? packet.timestamp
                first = start
                guard decodes(number, packet.source, decoders[packet.source], packet.bytes) else { continue }
                body(number, decoders[packet.source].decode(packet.bytes), packet.source, packet.timestamp.seconds(since: start))
            }
        }
    }

    /// An ICMP error belongs to the flow it quotes.
    static func flowKey(_ packet: DecodedPacket) -> FlowKey? {
        switch packet.transport {
        case .tcp, .udp:
            return FlowKey(proto: packet.ipProtocol, Endpoint(address: packet.source, port: packet.sourcePort),
                           Endpoint(address: packet.destination, port: packet.destinationPort))
        case .icmp, .icmpv6:
            let icmp = packet.icmp
            guard icmp.isError, icmp.hasQuotedPorts else { return nil }
            return FlowKey(proto: icmp.quotedProtocol, Endpoint(address: icmp.quotedSource, port: icmp.quotedSourcePort),
                           Endpoint(address: icmp.quotedDestination, port: icmp.quotedDestinationPort))
        default:
            return nil
        }
    }
}

/// The arrows of one connection, as its packets come.
final class LadderBuilder {
    let finding: String
    let summary: Summary
    private var originator: Endpoint?
    private var responder: Endpoint?
    /// The interface the connection was first seen on: a path capture holds each packet once per point.
    private var source: Int?
    private var arrows: [Ladder.Arrow] = []
    private var omitted = 0
    /// The data segments the last arrow stands for, while it is a run of data one way.
    private var dataRun: (count: Int, bytes: Int, outbound: Bool)?
    private let resets: [Int: Summary.LabelledReset]
    private let hops: [Int: PathHop]

    init(finding: String, summary: Summary) {
        self.finding = finding
        self.summary = summary
        resets = Dictionary(summary.resets.map { ($0.event.packet, $0) }, uniquingKeysWith: { first, _ in first })
        hops = summary.path?.hopsByPacket() ?? [:]
    }

    /// Whether a bare ACK would change the ladder: as the connection's first packet, or as the
    /// handshake's last (`describe`). Otherwise `add` passes it by, and it need not be decoded.
    var drawsBareAck: Bool {
        source == nil || originator == nil || arrows.count == 2 && arrows[1].kind == .synAck
    }

    /// Whether `add` would pass this plain TCP segment by (another point's copy of it) or only
    /// count it into the run of data the last arrow stands for; counted here if so, and then it
    /// need not be decoded. False for anything `add` must see whole.
    func passesBy(_ segment: TCPSegmentFields, source: Int) -> Bool {
        guard let own = self.source else { return false }
        if source != own { return true }
        guard let run = dataRun, let originator, segment.flags & (TCPHeader.rst | TCPHeader.syn | TCPHeader.fin) == 0,
              segment.payloadLength > 0 else { return false }
        let outbound = Endpoint(address: segment.source, port: segment.sourcePort) == originator
        guard outbound == run.outbound else { return false }
        dataRun = (run.count + 1, run.bytes + segment.payloadLength, outbound)
        return true
    }

    func add(_ packet: DecodedPacket, number: Int, source: Int, time: Double) {
        if self.source == nil { self.source = source }
        guard source == self.source else { return }
        let from = Endpoint(address: packet.source, port: packet.sourcePort)
        if originator == nil {
            let startsIt = packet.transport != .tcp || packet.tcp.flags & TCPHeader.ack == 0
            originator = startsIt ? from : Endpoint(address: packet.destination, port: packet.destinationPort)
            responder = startsIt ? Endpoint(address: packet.destination, port: packet.destinationPort) : from
        }
        let outbound = packet.transport == .icmp || packet.transport == .icmpv6
            ? Endpoint(address: packet.icmp.quotedSource, port: packet.icmp.quotedSourcePort) != originator : from == originator
        if Self.isData(packet), let run = dataRun, run.outbound == outbound {
            dataRun = (run.count + 1, run.bytes + packet.payloadLength, outbound)
            return
        }
        guard let (kind, label) = describe(packet, number: number) else { return }
        closeDataRun()
        if kind == .data { dataRun = (1, packet.payloadLength, outbound) }
        var arrow = Ladder.Arrow(kind: kind, label: label, time: time, stops: [(outbound ? 0 : 1, time), (outbound ? 1 : 0, time)],
                                 lost: false, packet: number)
        if let sender = hops[number]?.sender { arrow.label += " · " + Self.madeBy(sender) }
        if arrows.count >= LadderReader.arrowLimit {
            // Keep the start and the end: drop from the middle.
            arrows.remove(at: LadderReader.arrowLimit / 3)
            omitted += 1
        }
        arrows.append(arrow)
    }

    static func madeBy(_ sender: PathSender) -> String {
        switch sender.kind {
        case .pod: "made by pod \(sender.name)"
        case .node: "made by node \(sender.name)"
        case .external: "from outside node \(sender.name)"
        case .network: "made between the nodes"
        }
    }

    /// What `describe` draws as data: payload without SYN, FIN or RST, and any UDP datagram.
    static func isData(_ packet: DecodedPacket) -> Bool {
        switch packet.transport {
        case .tcp: packet.tcp.flags & (TCPHeader.rst | TCPHeader.syn | TCPHeader.fin) == 0 && packet.payloadLength > 0
        case .udp: true
        default: false
        }
    }

    /// The last arrow's run of data one way ends: its label says how many segments and bytes
    /// ("data ×2, 1500 B"). Counted as numbers until then, not rewritten per segment.
    private func closeDataRun() {
        if let run = dataRun, run.count > 1, !arrows.isEmpty { arrows[arrows.count - 1].label = "data ×\(run.count), \(run.bytes) B" }
        dataRun = nil
    }

    private func describe(_ packet: DecodedPacket, number: Int) -> (Ladder.Arrow.Kind, String)? {
        switch packet.transport {
        case .tcp:
            let flags = packet.tcp.flags
            if flags & TCPHeader.rst != 0 { return (.rst, resetLabel(number, ack: flags & TCPHeader.ack != 0)) }
            if flags & TCPHeader.syn != 0 { return flags & TCPHeader.ack != 0 ? (.synAck, "SYN-ACK") : (.syn, "SYN") }
            if flags & TCPHeader.fin != 0 { return (.fin, packet.payloadLength > 0 ? "FIN + \(packet.payloadLength) B" : "FIN") }
            if packet.payloadLength > 0 { return (.data, "data \(packet.payloadLength) B") }
            // A bare ACK: only the handshake's last one is drawn.
            return arrows.count == 2 && arrows[1].kind == .synAck ? (.ack, "ACK") : nil
        case .udp:
            return (.data, "data \(packet.payloadLength) B")
        case .icmp, .icmpv6:
            let words = summary.icmpErrors.first { $0.packet == number }?.description ?? "error"
            return (.icmp, "ICMP \(words) from \(label(packet.source))")
        default:
            return nil
        }
    }

    private func resetLabel(_ number: Int, ack: Bool) -> String {
        var text = ack ? "RST-ACK" : "RST"
        guard let reset = resets[number]?.event else { return text }
        text += " TTL \(reset.ttl)" + (reset.senderEarlierTTL.map { $0 == reset.ttl ? "" : " (earlier \($0))" } ?? "")
        if let inWindow = reset.inWindow { text += inWindow ? ", in window" : ", out of window" }
        if let idle = reset.idleSeconds, idle >= 0.5 { text += String(format: ", after %.1f s idle", idle) }
        return text
    }

    func label(_ address: IPAddress) -> String {
        summary.labelled(address.description, address: address)
    }

    func label(_ endpoint: Endpoint) -> String {
        summary.labelled(endpoint.description, address: endpoint.address)
    }

    func ladder() -> Ladder? {
        closeDataRun()
        guard let originator, let responder, !arrows.isEmpty else { return nil }
        var ladder = Ladder(title: "\(label(originator)) → \(label(responder))", finding: finding,
                            lanes: [label(originator), label(responder)], arrows: arrows, omitted: omitted)
        if let path = summary.path { Self.addPoints(path, to: &ladder, podIsOriginator: podEnd(path) ?? true, hops: hops) }
        return ladder
    }

    /// Which end is the path's pod: the originator when a veth point lists its address.
    private func podEnd(_ path: PathReport) -> Bool? {
        let pods = Set(path.points.filter { $0.role == .podVeth }.flatMap(\.addresses))
        if let originator, pods.contains(originator.address.description) { return true }
        if let responder, pods.contains(responder.address.description) { return false }
        return nil
    }

    /// On a path, the points become lanes between the ends, pod side first; a key packet stops
    /// at each point that saw it, and one lost on the way ends at the last.
    static func addPoints(_ path: PathReport, to ladder: inout Ladder, podIsOriginator: Bool, hops: [Int: PathHop]) {
        let points = path.points.sorted { ($0.role == .podVeth ? 0 : 1) < ($1.role == .podVeth ? 0 : 1) }.map(\.name)
        guard points.count > 1 else { return }
        let ordered = podIsOriginator ? points : points.reversed()
        ladder.lanes = [ladder.lanes[0]] + ordered + [ladder.lanes[1]]
        let far = ladder.lanes.count - 1
        for index in ladder.arrows.indices {
            var arrow = ladder.arrows[index]
            let outbound = arrow.stops.first?.lane == 0
            let (from, to) = outbound ? (0, far) : (far, 0)
            guard let hop = hops[arrow.packet] else {
                arrow.stops = [(from, arrow.time), (to, arrow.time)]
                ladder.arrows[index] = arrow
                continue
            }
            let seen = hop.seen.compactMap { sighting in ordered.firstIndex(of: sighting.point).map { ($0 + 1, sighting.time) } }
                .sorted { outbound ? $0.0 < $1.0 : $0.0 > $1.0 }
            let start = seen.first?.1 ?? arrow.time
            arrow.lost = !hop.missedAt.isEmpty
            // A packet a node or the network made starts where it was first seen, not at an end.
            let fromEnd = hop.sender.map { $0.kind == .pod || $0.kind == .external } ?? true
            arrow.stops = (fromEnd || seen.isEmpty ? [(from, start)] : []) + seen + (arrow.lost ? [] : [(to, seen.last?.1 ?? start)])
            arrow.time = start
            ladder.arrows[index] = arrow
        }
    }
}
