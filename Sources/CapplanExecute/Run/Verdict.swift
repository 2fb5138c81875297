public import CapplanAnalyse
public import CapplanLoad
import CapplanPackets
public import CapplanReport

/// How a run ended against the plan's `expect:` section: every expectation with what was
/// observed, and whether all held. Decides the exit code of `apply`.
///
/// A result that rests on something not being seen (a `notSeen` that held, a `seen` that did
/// not) is only as good as the capture: when the capture says it missed packets (kernel drops,
/// DNS headers cut by the snaplen, one direction not captured, gaps in a stream), such a result
/// is doubtful and the verdict is INCONCLUSIVE unless another result failed for certain.
public struct Verdict: Sendable, Codable, Equatable {
    public struct Result: Sendable, Codable, Equatable {
        /// The expectation in words: "seen: reset from pods to external port 443".
        public var expectation: String
        public var observed: Int
        public var held: Bool
        /// Packet numbers of the matching events (at most 10).
        public var packets: [Int]
        /// It rests on an absence the capture cannot vouch for (see `doubts`).
        public var doubtful = false
    }

    public enum Outcome: String, Sendable, Codable { case pass = "PASS", fail = "FAIL", inconclusive = "INCONCLUSIVE" }

    public var results: [Result]
    /// Why the capture may have missed what an expectation needs, one line each.
    public var doubts: [String] = []
    public var outcome: Outcome
    public var passed: Bool { outcome == .pass }

    init(results: [Result], doubts: [String]) {
        self.results = results
        self.doubts = doubts
        outcome = results.contains { !$0.held && !$0.doubtful } ? .fail
            : results.contains(where: \.doubtful) ? .inconclusive
            : .pass
    }

    /// What the capture says it missed. `kernelDrops`: packets the kernel (or tcpdump) dropped.
    static func doubts(_ summary: Summary, kernelDrops: Int, gaps: [String] = []) -> (all: [String], dns: [String]) {
        var all = gaps
        if kernelDrops > 0 { all.append("the kernel dropped \(kernelDrops) packet\(kernelDrops == 1 ? "" : "s") during the capture") }
        // A side that acknowledged or sent data answers packets the capture never saw.
        let oneSided = summary.connections.list.filter { record in
            record.proto == "tcp" && (record.originatorPackets == 0) != (record.responderPackets == 0)
                && record.history.contains { "ADad".contains($0) }
        }.count
        if oneSided > 0 {
            all.append("\(oneSided) connection\(oneSided == 1 ? " shows" : "s show") one side's packets only, though that side acknowledged the other: "
                       + "a direction was not captured")
        }
        let gaps = summary.expert.segmentsNotCaptured
        if gaps > 0 { all.append("\(gaps) segment\(gaps == 1 ? " was" : "s were") not captured: gaps in a stream") }
        let cut = summary.capture.dnsMessagesCut
        let dns = cut > 0 ? ["\(cut) DNS message\(cut == 1 ? "'s header was" : "s' headers were") cut off (by the snaplen, or by redaction): their answers are unknown"] : []
        return (all, dns)
    }

    /// Judges `expectations` against what the analysis found. Peers are matched through the
    /// identity map: `pods` and `pod:NAME` by kind pod, `node`, and `external` for addresses the
    /// map calls external or does not know.
    /// With a path report, a sender is who made the packet (the pod, a node, or something outside),
    /// and one packet seen at several points (rewritten by NAT between them) is one event.
    /// `gaps`: capture streams that broke, in words.
    public static func judge(_ expectations: [Expectation], summary: Summary, identities: IdentityMap, kernelDrops: Int = 0,
                             gaps: [String] = []) -> Verdict {
        let events = Event.all(in: summary)
        let (doubts, dnsDoubts) = Self.doubts(summary, kernelDrops: kernelDrops, gaps: gaps)
        var used: [String] = []
        let results = expectations.map { expectation in
            let matching = events.filter { event in
                event.kind == expectation.event
                    && expectation.from.map { sent(by: $0, event, identities) } ?? true
                    && expectation.to.map { matches($0, event.to, identities) } ?? true
                    && expectation.port.map { $0 == Int(event.port) } ?? true
            }
            let held = expectation.shouldSee ? matching.count >= expectation.atLeast : matching.isEmpty
            // Seen enough, or seen when it should not be: certain. Otherwise it rests on an absence.
            let reasons = doubts + (expectation.event == .dnsFailure ? dnsDoubts : [])
            let doubtful = held != expectation.shouldSee && !reasons.isEmpty
            if doubtful { used += reasons.filter { !used.contains($0) } }
            return Result(expectation: describe(expectation), observed: matching.count, held: held,
                          packets: Array(matching.prefix(10).map(\.packet)), doubtful: doubtful)
        }
        return Verdict(results: results, doubts: used)
    }

    /// One observed event, in the terms expectations use.
    struct Event {
        var kind: TrafficEvent
        var from: IPAddress
        var to: IPAddress
        /// The responder's port.
        var port: UInt16
        var packet: Int
        /// Who made it, when capture points on its path tell.
        var sender: PathSender?

        static func all(in summary: Summary) -> [Event] {
            let events = observed(in: summary)
            guard let hops = summary.path?.hopsByPacket() else { return events }
            var counted: Set<String> = []
            return events.compactMap { event in
                guard let hop = hops[event.packet] else { return event }
                let first = hop.seen.map(\.packet).min() ?? event.packet
                guard counted.insert("\(event.kind.rawValue) \(first)").inserted else { return nil }
                var event = event
                event.sender = hop.sender
                return event
            }
        }

        static func observed(in summary: Summary) -> [Event] {
            var events: [Event] = []
            for reset in summary.resets {
                let event = reset.event
                let port = event.fromOriginator ? event.receiver.port : event.sender.port
                events.append(Event(kind: event.answeredSyn ? .refused : .reset, from: event.sender.address,
                                    to: event.receiver.address, port: port, packet: event.packet))
            }
            for group in summary.unansweredSyns {
                for client in group.clients {
                    guard let address = IPAddress(client) else { continue }
                    events.append(Event(kind: .unansweredSYN, from: address, to: group.destination.address,
                                        port: group.destination.port, packet: group.packets.first ?? 0))
                }
            }
            for error in summary.icmpErrors where error.type == 3 || (error.type == 1 && error.quotedProtocol != 0) {
                events.append(Event(kind: .icmpUnreachable, from: error.reporter, to: error.quotedSource.address,
                                    port: error.quotedDestination.port, packet: error.packet))
            }
            for failure in summary.dnsFailures {
                events.append(Event(kind: .dnsFailure, from: failure.server.address, to: failure.client.address,
                                    port: failure.server.port, packet: failure.packet))
            }
            let established: Set<ConnState> = [.SF, .S1, .S2, .S3, .RSTO, .RSTR]
            for connection in summary.connections.list where connection.proto == "tcp" && established.contains(connection.state)
                && connection.history.contains("S") && connection.history.contains("h") {
                events.append(Event(kind: .handshake, from: connection.originator.address, to: connection.responder.address,
                                    port: connection.responder.port, packet: connection.firstPacket))
            }
            return events
        }
    }

    /// Whether `peer` sent the event: who made it where the path tells, else whose address it carries.
    static func sent(by peer: Peer, _ event: Event, _ identities: IdentityMap) -> Bool {
        guard let sender = event.sender else { return matches(peer, event.from, identities) }
        switch peer {
        case .pods: return sender.kind == .pod
        case .pod(let namespace, let name):
            return sender.kind == .pod && (sender.name == namespace.map { "\($0)/\(name)" } ?? name
                                           || namespace == nil && sender.name.hasSuffix("/\(name)"))
        case .node: return sender.kind == .node
        case .namedNode(let name): return sender.kind == .node && sender.name == name
        case .external: return sender.kind == .external
        case .network: return matches(peer, event.from, identities)
        }
    }

    static func matches(_ peer: Peer, _ address: IPAddress, _ identities: IdentityMap) -> Bool {
        let identity = identities.identity(of: address)
        switch peer {
        case .pods: return identity?.kind == .pod
        case .pod(let namespace, let name):
            guard let identity, identity.kind == .pod else { return false }
            let full = namespace.map { "\($0)/\(name)" } ?? name
            return identity.name == full || identity.name.hasSuffix("/\(name)") && namespace == nil
        case .node: return identity?.kind == .node
        case .namedNode(let name): return identity?.kind == .node && identity?.name == name
        case .external: return identity == nil || identity?.kind == .external
        case .network(let block): return block.contains(address)
        }
    }

    static func describe(_ expectation: Expectation) -> String {
        var text = "\(expectation.shouldSee ? "seen" : "notSeen"): \(expectation.event.rawValue)"
        if let from = expectation.from { text += " from \(from)" }
        if let to = expectation.to { text += " to \(to)" }
        if let port = expectation.port { text += " port \(port)" }
        if expectation.shouldSee, expectation.atLeast > 1 { text += " at least \(expectation.atLeast) times" }
        return text
    }
}
