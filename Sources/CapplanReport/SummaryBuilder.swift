import CapplanAnalyse
import CapplanPackets

/// Turns the analyser's counts and events into findings in plain words.
struct SummaryBuilder {
    let analyzer: ConnectionAnalyzer
    let identities: IdentityMap
    let file: String
    let linkType: String
    let readError: String?

    /// A connection quiet at least this long before its reset is called idle: nothing was in flight.
    static let idleThreshold = 1.0
    /// Resets listed one by one in the findings; the rest are grouped.
    static let individualResets = 10

    func build() -> Summary {
        let totals = analyzer.totals
        let listed = Self.listedEvents
        // Labelled and interpreted: the resets listed one by one, not every one counted.
        let resets = analyzer.resets.prefix(listed).map(label)
        // A refusal is a RST from the server to the client that sent the SYN.
        let refused = refusedGroups(analyzer.resets.filter(\.answeredSyn).map { (server: $0.sender, client: $0.receiver, packet: $0.packet) })
        let unanswered = unansweredGroups()
        var findings: [Summary.Finding] = []
        findings += resetFindings(analyzer.resets)
        findings += refused.map(refusedFinding)
        findings += unanswered.map(unansweredFinding)
        findings += icmpFindings()
        findings += dnsFindings()
        findings += expertFindings()
        if let readError {
            findings.append(.init(kind: "capture", severity: .warning,
                                  text: "The capture file ends in error after packet \(totals.packets) (\(readError)); this report covers the packets before it.",
                                  packets: [], times: []))
        }
        if totals.evicted > 0 {
            findings.append(.init(kind: "capture", severity: .warning,
                                  text: "\(totals.evicted) connection\(plural(totals.evicted)) ended early: more than \(analyzer.openFlowLimit) flows were open "
                                      + "at once, and the least recently active made room. Each one's record stops there; a later packet of it starts a new record.",
                                  packets: [], times: []))
        }
        if totals.truncatedPackets > 0 {
            findings.append(.init(kind: "capture", severity: .info,
                                  text: "\(totals.truncatedPackets) packet\(plural(totals.truncatedPackets)) were cut short by the snaplen; they are analysed as far as they go.",
                                  packets: [], times: []))
        }

        let duration = totals.first.flatMap { first in totals.last.map { $0.seconds(since: first) } } ?? 0
        let talkers = analyzer.talkers.sorted { ($0.value.bytes, $1.key) > ($1.value.bytes, $0.key) }.prefix(10).map {
            Summary.TopTalker(address: $0.key, label: identities.identity(of: $0.key), packets: $0.value.packets, bytes: $0.value.bytes)
        }
        var labels: [String: Identity] = [:]
        if !identities.isEmpty {
            var addresses = Set(talkers.map(\.address))
            for reset in analyzer.resets { addresses.formUnion([reset.sender.address, reset.receiver.address]) }
            for address in addresses { labels[address.description] = identities.identity(of: address) }
        }
        return Summary(
            capture: .init(file: file, linkType: linkType, packets: totals.packets, bytes: totals.bytes,
                           start: totals.first?.description, end: totals.last?.description, durationSeconds: duration,
                           truncatedPackets: totals.truncatedPackets, dnsMessagesCut: totals.dnsMessagesCut, undecodedPackets: totals.undecodedPackets,
                           fragments: totals.fragments, duplicateCopiesDropped: totals.copiesDropped,
                           connectionsEvicted: totals.evicted > 0 ? totals.evicted : nil, readError: readError),
            findings: findings,
            connections: .init(total: totals.connections, tcp: totals.tcpConnections, udp: totals.udpConnections, icmp: totals.icmpConnections,
                               byState: Dictionary(uniqueKeysWithValues: analyzer.stateCounts.map { ($0.key.rawValue, $0.value) }),
                               list: listedConnections()),
            counts: .init(resets: totals.resets, icmpErrors: totals.icmpErrors, dnsFailures: totals.dnsFailures),
            resets: resets, refused: refused, unansweredSyns: unanswered,
            icmpErrors: Array(analyzer.icmpErrors.prefix(listed)), dnsFailures: Array(analyzer.dnsFailures.prefix(listed)),
            topTalkers: Array(talkers), expert: analyzer.expert, labels: labels)
    }

    /// The connections summary.json lists: those that went wrong first, then the rest, at most
    /// `listedConnections` in all, in the order they started. The counts above cover every one.
    static let listedConnections = 1000
    /// Resets, ICMP errors and DNS failures listed one by one; `counts` has them all.
    static let listedEvents = 1000

    private func listedConnections() -> [ConnectionRecord] {
        // Chosen by position, and only the chosen copied: filtering the records copied every one
        // of the thousands kept.
        let records = analyzer.connections
        var problems: [Int] = [], rest: [Int] = []
        records.withUnsafeBufferPointer { records in
            for index in records.indices {
                let normal = (records[index].state == .SF || records[index].state == .S1) && records[index].resets == 0
                    && records[index].expert == ExpertCounts()
                if !normal {
                    problems.append(index)
                } else if rest.count < Self.listedConnections {
                    rest.append(index)
                }
            }
        }
        let chosen = problems.prefix(Self.listedConnections) + rest.prefix(max(0, Self.listedConnections - problems.count))
        return chosen.map { records[$0] }.sorted { $0.firstPacket < $1.firstPacket }
    }

    // MARK: resets

    private func label(_ event: ResetEvent) -> Summary.LabelledReset {
        Summary.LabelledReset(event: event, senderLabel: identities.identity(of: event.sender.address),
                              receiverLabel: identities.identity(of: event.receiver.address),
                              interpretation: interpretation(event))
    }

    /// What the packets say about why: refused, injected on the path, idle timeout, abort.
    private func interpretation(_ event: ResetEvent) -> String {
        if event.answeredSyn {
            return "the connection was refused: nothing listens on port \(event.sender.port), or a firewall rejects it"
        }
        let side = sideName(event)
        // One hop of difference is a router between two capture points; more is another sender.
        if let earlier = event.senderEarlierTTL, abs(Int(earlier) - Int(event.ttl)) > 1 {
            return "its TTL (\(event.ttl)) differs from the sender's other packets (\(earlier)): likely sent by a device on the path (a load balancer, firewall or NAT) in the name of \(event.sender.address), not by that host itself"
        }
        if event.afterFin {
            return "\(side) reset after its own FIN: the application closed the socket with unread data (or with SO_LINGER 0)"
        }
        if event.inWindow == false {
            return "its sequence number is outside the receiver's window, so the receiver most likely ignored it"
        }
        if let idle = event.idleSeconds, idle >= Self.idleThreshold {
            return event.fromOriginator
                ? "\(side) gave up on an idle connection, typical of an idle timeout"
                : "\(side) dropped the idle connection, typical of an idle timeout (a load balancer or server keep-alive limit)"
        }
        return "\(side) aborted the connection while it was active"
    }

    private func sideName(_ event: ResetEvent) -> String {
        if let identity = identities.identity(of: event.sender.address) {
            switch identity.kind {
            case .pod: return "the pod side"
            case .loadBalancer: return "the load balancer"
            case .node: return "the node"
            case .service: return "the service"
            case .external: return "the external side"
            case .other: break
            }
        }
        return event.fromOriginator ? "the client side" : "the server side"
    }

    private func resetFindings(_ resets: [ResetEvent]) -> [Summary.Finding] {
        // The first RST of each connection tells the story; further ones repeat it.
        struct Ends: Hashable {
            let sender: Endpoint, receiver: Endpoint
        }
        var seen = Set<Ends>(minimumCapacity: resets.count)
        let first = resets.filter { !$0.answeredSyn }.filter { seen.insert(Ends(sender: $0.sender, receiver: $0.receiver)).inserted }
        var findings = first.prefix(Self.individualResets).map { event -> Summary.Finding in
            var text = "\(describe(event.sender)) reset its connection to \(describe(event.receiver)) \(seconds(event.time)) into the capture"
            var facts: [String] = []
            if let idle = event.idleSeconds { facts.append("after \(seconds(idle)) idle") }
            facts.append("\(bytes(event.bytesFromSender)) sent and \(bytes(event.bytesFromReceiver)) received")
            text += ", " + facts.joined(separator: " and ") + ": " + interpretation(event) + "."
            return Summary.Finding(kind: "reset", severity: .error, text: capitalised(text), packets: [event.packet], times: [event.time])
        }
        let rest = first.dropFirst(Self.individualResets)
        if !rest.isEmpty {
            let senders = Set(rest.map(\.sender.address)).map(\.description).sorted()
            findings.append(.init(kind: "reset", severity: .error,
                                  text: "\(rest.count) more connection\(plural(rest.count)) were reset, by \(senders.prefix(5).joined(separator: ", "))\(senders.count > 5 ? " and others" : "").",
                                  packets: rest.prefix(20).map(\.packet), times: rest.prefix(20).map(\.time)))
        }
        return findings
    }

    // MARK: refused and unanswered

    private func refusedGroups(_ attempts: [(server: Endpoint, client: Endpoint, packet: Int)]) -> [Summary.ConnectionGroup] {
        var order: [Endpoint] = []
        var byServer: [Endpoint: (clients: Set<String>, count: Int, packets: [Int])] = [:]
        for attempt in attempts {
            let server = attempt.server, client = attempt.client
            if byServer[server] == nil { order.append(server) }
            byServer[server, default: ([], 0, [])].clients.insert(client.address.description)
            byServer[server, default: ([], 0, [])].count += 1
            if byServer[server, default: ([], 0, [])].packets.count < 10 { byServer[server, default: ([], 0, [])].packets.append(attempt.packet) }
        }
        return order.compactMap { server in
            byServer[server].map { group in
                Summary.ConnectionGroup(destination: server, destinationLabel: identities.identity(of: server.address),
                                        clients: group.clients.sorted(), connections: group.count, synRetries: 0, packets: group.packets)
            }
        }
    }

    private func refusedFinding(_ group: Summary.ConnectionGroup) -> Summary.Finding {
        let who = group.clients.count == 1 ? " from \(describe(address: group.clients[0]))" : " from \(group.clients.count) clients"
        let count = group.connections == 1 ? "1 connection" : "\(group.connections) connections"
        return .init(kind: "refused", severity: .error,
                     text: "\(count) to \(describe(group.destination))\(who) \(group.connections == 1 ? "was" : "were") refused (RST in answer to SYN).",
                     packets: group.packets, times: [])
    }

    private func unansweredGroups() -> [Summary.ConnectionGroup] {
        var order: [Endpoint] = []
        var byServer: [Endpoint: Summary.ConnectionGroup] = [:]
        for connection in analyzer.connections where connection.proto == "tcp" && [.S0, .RSTOS0, .SH].contains(connection.state) {
            let server = connection.responder
            if byServer[server] == nil {
                order.append(server)
                byServer[server] = Summary.ConnectionGroup(destination: server, destinationLabel: identities.identity(of: server.address),
                                                           clients: [], connections: 0, synRetries: 0, packets: [])
            }
            byServer[server]?.connections += 1
            byServer[server]?.synRetries += connection.synRetries
            if let group = byServer[server], !group.clients.contains(connection.originator.address.description) {
                byServer[server]?.clients.append(connection.originator.address.description)
            }
            if (byServer[server]?.packets.count ?? 0) < 10 { byServer[server]?.packets.append(connection.firstPacket) }
        }
        return order.compactMap { byServer[$0] }
    }

    private func unansweredFinding(_ group: Summary.ConnectionGroup) -> Summary.Finding {
        let retries = group.synRetries == 1 ? "1 retry" : "\(group.synRetries) retries"
        let attempts = group.connections == 1 ? "" : " in \(group.connections) connection attempts"
        return .init(kind: "unanswered-syn", severity: .error,
                     text: "SYNs to \(describe(group.destination)) were never answered (\(retries)\(attempts)): the packets were dropped on the way or the host is down.",
                     packets: group.packets, times: [])
    }

    // MARK: ICMP, DNS, TCP analysis

    private func icmpFindings() -> [Summary.Finding] {
        groupedInOrder(analyzer.icmpErrors) { "\($0.reporter)|\($0.description)|\($0.quotedDestination)|\($0.quotedProtocol)" }.compactMap { events in
            guard let first = events.first else { return nil }
            let proto = first.quotedProtocol == 6 ? "TCP" : first.quotedProtocol == 17 ? "UDP" : "protocol \(first.quotedProtocol)"
            let times = events.count == 1 ? "" : " (\(events.count) times)"
            let mtu = first.mtu.map { ", next-hop MTU \($0)" } ?? ""
            return .init(kind: "icmp-error", severity: .error,
                         text: "ICMP \(first.description)\(mtu) from \(describe(address: first.reporter.description)) for \(proto) \(describe(first.quotedSource)) → \(describe(first.quotedDestination))\(times).",
                         packets: events.prefix(10).map(\.packet), times: events.prefix(10).map(\.time))
        }
    }

    private func dnsFindings() -> [Summary.Finding] {
        groupedInOrder(analyzer.dnsFailures) { "\($0.name)|\($0.type)|\($0.outcome)|\($0.server)" }.compactMap { failures in
            guard let first = failures.first else { return nil }
            let count = failures.count == 1 ? "A lookup" : "\(failures.count) lookups"
            let outcome = first.outcome == "no answer" ? "got no answer from" : "failed with \(first.outcome) from"
            return .init(kind: "dns-failure", severity: first.outcome == "NXDOMAIN" ? .warning : .error,
                         text: "\(count) of \(first.name) (\(first.type)) \(outcome) \(describe(first.server)).",
                         packets: failures.prefix(10).map(\.packet), times: failures.prefix(10).map(\.time))
        }
    }

    private func expertFindings() -> [Summary.Finding] {
        let expert = analyzer.expert
        var findings: [Summary.Finding] = []
        if expert.zeroWindows > 0 {
            findings.append(.init(kind: "zero-window", severity: .warning,
                                  text: "\(expert.zeroWindows) zero-window advertisement\(plural(expert.zeroWindows)): a receiver could not keep up and stopped the sender.",
                                  packets: [], times: []))
        }
        if expert.retransmissions > 0 {
            findings.append(.init(kind: "retransmissions", severity: .info,
                                  text: "\(expert.retransmissions) retransmission\(plural(expert.retransmissions)), \(expert.duplicateAcks) duplicate ACK\(plural(expert.duplicateAcks)), \(expert.outOfOrder) out-of-order segment\(plural(expert.outOfOrder)), \(expert.segmentsNotCaptured) segment\(plural(expert.segmentsNotCaptured)) not captured.",
                                  packets: [], times: []))
        }
        return findings
    }

    // MARK: words

    private func describe(_ endpoint: Endpoint) -> String {
        identities.identity(of: endpoint.address).map { "\(endpoint) (\($0))" } ?? endpoint.description
    }

    private func describe(address: String) -> String {
        IPAddress(address).flatMap { identities.identity(of: $0) }.map { "\(address) (\($0))" } ?? address
    }
}

/// Groups elements by a key, groups in the order their first element came.
func groupedInOrder<Element>(_ elements: [Element], by key: (Element) -> String) -> [[Element]] {
    var order: [String] = []
    var groups: [String: [Element]] = [:]
    for element in elements {
        let name = key(element)
        if groups[name] == nil { order.append(name) }
        groups[name, default: []].append(element)
    }
    return order.compactMap { groups[$0] }
}

func plural(_ count: Int) -> String { count == 1 ? "" : "s" }

func seconds(_ value: Double) -> String {
    if value >= 100 { return "\(Int(value.rounded())) s" }
    let hundredths = Int((value * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s"
}

func bytes(_ count: Int64) -> String { count == 1 ? "1 byte" : "\(count) bytes" }

func capitalised(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }
