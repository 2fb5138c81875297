public import CapplanAnalyse
public import CapplanPackets

/// Reads a capture with libpcap, decodes and analyses it in one pass, and builds the summary.
public enum CaptureReport {
    /// Analyses the file at `path`. Throws only when the file cannot be opened as a capture at all;
    /// an error part-way (a file cut mid-packet) is reported in the summary after the packets before it.
    public static func analyse(path: String, identities: IdentityMap = IdentityMap(),
                               progress: ((Int) -> Void)? = nil) throws(PcapError) -> Summary {
        let reader = try PcapReader(path: path)
        let decoder = try PacketDecoder(linkType: reader.linkType)
        var analyzer = ConnectionAnalyzer()
        var number = 0
        var readError: String?
        while true {
            let next: RawPacket?
            do {
                next = try reader.next()
            } catch {
                readError = error.message
                break
            }
            guard let packet = next else { break }
            number += 1
            analyzer.add(decoder.decode(packet.bytes), number: number, timestamp: packet.timestamp,
                         originalLength: packet.originalLength, raw: packet.bytes)
            if number & 0xFFFF == 0 { progress?(number) }
        }
        analyzer.finish()
        return SummaryBuilder(analyzer: analyzer, identities: identities, file: path,
                              linkType: linkName(reader.linkType), readError: readError).build()
    }

    /// The summary of packets analysed elsewhere (a live capture), once `analyzer.finish()` ran.
    /// With a path report, what it says about who made or lost a packet comes first among the findings.
    public static func summarise(_ analyzer: ConnectionAnalyzer, identities: IdentityMap, file: String, linkType: Int32,
                                 readError: String? = nil, path: PathReport? = nil) -> Summary {
        var summary = SummaryBuilder(analyzer: analyzer, identities: identities, file: file, linkType: linkName(linkType), readError: readError).build()
        if let path {
            summary.path = path
            summary.findings = pathFindings(path) + summary.findings
        }
        return summary
    }

    /// At most this many path findings are listed; the ladders in summary.json hold the rest.
    static let pathFindingLimit = 20

    /// Resets and ICMP errors with their maker, and every packet lost on the way.
    static func pathFindings(_ path: PathReport) -> [Summary.Finding] {
        var findings: [Summary.Finding] = []
        for connection in path.connections {
            for hop in connection.ladder {
                guard let text = hop.finding, findings.count < pathFindingLimit else { continue }
                let made = hop.packet.hasPrefix("RST") || hop.packet.hasPrefix("ICMP")
                let onTheWay = hop.sender.map { $0.kind == .node || $0.kind == .network } ?? false
                guard made || onTheWay || !hop.missedAt.isEmpty else { continue }
                let severity: Summary.Finding.Severity = onTheWay || !hop.missedAt.isEmpty ? .error : .info
                findings.append(.init(kind: "path", severity: severity, text: text + ruleEvidence(hop, path.rules),
                                      packets: hop.seen.map(\.packet).sorted(), times: hop.seen.map(\.time).sorted()))
            }
        }
        let named = Set(path.connections.flatMap(\.ladder).compactMap { $0.sender?.kind == .node ? $0.sender?.name : nil })
        for rule in path.rules where !named.contains(rule.node) && findings.count < pathFindingLimit {
            findings.append(.init(kind: "path", severity: .warning, text: "on node \(rule.node), table \(rule.table), `\(rule.rule)` "
                                  + "counted \(rule.packets) packet\(rule.packets == 1 ? "" : "s") during the run", packets: [], times: []))
        }
        return findings
    }

    /// The refusing or dropping rules of the node that made a packet, as evidence.
    static func ruleEvidence(_ hop: PathHop, _ rules: [PathRuleCount]) -> String {
        guard let sender = hop.sender, sender.kind == .node else { return "" }
        let counted = rules.filter { $0.node == sender.name }.prefix(3)
        guard !counted.isEmpty else { return "" }
        return "; during the run on node \(sender.name): " + counted.map { "`\($0.rule)` counted +\($0.packets)" }.joined(separator: ", ")
    }

    static func linkName(_ linkType: Int32) -> String { LinkType.name(of: linkType) }
}
