public import CapplanAnalyse
public import CapplanPackets

/// Reads a capture with libpcap, decodes and analyses it in one pass, and builds the summary.
public enum CaptureReport {
    /// Analyses the file at `path` (pcap or pcapng). Throws only when the file cannot be opened as a
    /// capture at all; an error part-way (a file cut mid-packet) is reported in the summary after the
    /// packets before it. A pcapng that apply wrote for `interfaces: path` names its points, and
    /// its packets are followed across them again.
    /// `threads`: 2 analyses on two cores (`AnalysisShards`), with the same result as 1.
    public static func analyse(path: String, identities: IdentityMap = IdentityMap(), threads: Int = AnalysisShards.defaultThreads,
                               progress: ((Int) -> Void)? = nil) throws(PcapError) -> Summary {
        let reader = try openCaptureFile(path)
        // A pcapng that apply wrote names the run's pods, Services and nodes; a labels file overrides them.
        let identities = identities.isEmpty ? namedIdentities(reader) : identities
        let points = pathPoints(reader.interfaces)
        // Per interface, decided once: its decoder, whether the analysis takes its packets (a path's
        // uplinks serve the path alone), whether the path follows them.
        var decoders: [PacketDecoder] = [], analysed: [Bool] = [], traced: [Bool] = []
        func describe(_ interfaces: [PcapngInterface]) throws(PcapError) {
            for index in decoders.count..<interfaces.count {
                decoders.append(try PacketDecoder(linkType: interfaces[index].linkType))
                let point = index < points?.count ?? 0 ? points?[index] : nil
                analysed.append(point?.role != .uplink)
                traced.append(point != nil)
            }
        }
        try describe(reader.interfaces)
        // A path's tracer runs on a thread of its own, as for points read from several files.
        let tracing = points.map { TracingThread(points: $0, decoders: Array(decoders.prefix($0.count)), threads: threads) }
        let shards = AnalysisShards(threads: threads, workerTakesAll: tracing != nil)
        var first: Timestamp?
        var number = 0
        var readError: String?
        var batch: [RawPacket] = []
        reading: while true {
            do throws(PcapError) {
                try reader.next(into: &batch, limit: captureBatchLimit)
            } catch {
                readError = error.message
                break
            }
            if batch.isEmpty { break }
            for packet in batch {
                // A pcapng may describe more interfaces as it goes.
                if packet.source >= decoders.count {
                    do throws(PcapError) { try describe(reader.interfaces) } catch {
                        readError = error.message
                        break reading
                    }
                }
                guard packet.source < decoders.count else { break reading }
                number += 1
                let decoder = decoders[packet.source]
                if analysed[packet.source] {
                    if first == nil { first = packet.timestamp }
                    shards.add(packet.bytes, decoder: decoder, number: number, timestamp: packet.timestamp, originalLength: packet.originalLength)
                }
                if traced[packet.source] { tracing?.add(packet.bytes, point: packet.source, number: number, timestamp: packet.timestamp) }
                if number & 0xFFFF == 0 { progress?(number) }
            }
        }
        // The path report counts from the analysis's first packet.
        tracing?.finish(start: first)
        let analyzer = shards.finish()
        let summary = SummaryBuilder(analyzer: analyzer, identities: identities, file: path,
                                     linkType: linkName(reader.linkType), readError: readError).build()
        return tracing.map { with($0.waitForReport(), summary) } ?? summary
    }

    static func namedIdentities(_ reader: any CaptureFileReader) -> IdentityMap {
        guard let pcapng = reader as? PcapngReader else { return IdentityMap() }
        return IdentityMap(pcapng.names.compactMap { entry in
            entry.names.lazy.compactMap(Identity.init(hostName:)).first.map { (CIDR(address: entry.address, prefixLength: entry.address.bitCount), $0) }
        })
    }

    /// The path points of a capture whose every interface is one capplan described, nil otherwise.
    static func pathPoints(_ interfaces: [PcapngInterface]) -> [PathPoint]? {
        let points = interfaces.compactMap { PathPoint(name: $0.name, pcapngComment: $0.comment) }
        return points.count == interfaces.count && points.count > 1 ? points : nil
    }

    /// The summary of packets analysed elsewhere (a live capture), once `analyzer.finish()` ran.
    /// With a path report, what it says about who made or lost a packet comes first among the findings.
    public static func summarise(_ analyzer: ConnectionAnalyzer, identities: IdentityMap, file: String, linkType: Int32,
                                 readError: String? = nil, path: PathReport? = nil) -> Summary {
        let summary = SummaryBuilder(analyzer: analyzer, identities: identities, file: file, linkType: linkName(linkType), readError: readError).build()
        return path.map { with($0, summary) } ?? summary
    }

    /// The summary with its path, whose findings come first.
    static func with(_ path: PathReport, _ summary: Summary) -> Summary {
        var summary = summary
        summary.path = path
        summary.findings = pathFindings(path) + summary.findings
        return summary
    }

    /// At most this many path findings are listed; the ladders in summary.json hold the rest.
    static let pathFindingLimit = 20

    /// Resets and ICMP errors with their maker, and every packet lost on the way.
    /// Hops that say the same thing (a SYN sent again and stopped at the same place) are one
    /// finding, counted, with the first one's words.
    static func pathFindings(_ path: PathReport) -> [Summary.Finding] {
        var findings: [Summary.Finding] = [], keys: [String] = [], counts: [Int] = []
        for hop in path.connections.flatMap(\.ladder) {
            guard let text = hop.finding else { continue }
            let made = hop.packet.hasPrefix("RST") || hop.packet.hasPrefix("ICMP")
            let onTheWay = hop.sender.map { $0.kind == .node || $0.kind == .network } ?? false
            guard made || onTheWay || !hop.missedAt.isEmpty else { continue }
            let key = [hop.packet, hop.sender.map { "\($0.kind.rawValue) \($0.name) \($0.firstSeenAt)" } ?? "", hop.missedAt.joined(separator: ","),
                       hop.seen.map(\.point).sorted().joined(separator: ",")].joined(separator: "|")
            if let at = keys.firstIndex(of: key) {
                counts[at] += 1
                findings[at].packets = Array((findings[at].packets + hop.seen.map(\.packet)).sorted().prefix(20))
                continue
            }
            guard findings.count < pathFindingLimit else { continue }
            let severity: Summary.Finding.Severity = onTheWay || !hop.missedAt.isEmpty ? .error : .info
            keys.append(key)
            counts.append(1)
            findings.append(.init(kind: "path", severity: severity, text: text + ruleEvidence(hop, path.rules),
                                  packets: hop.seen.map(\.packet).sorted(), times: hop.seen.map(\.time).sorted()))
        }
        for (index, count) in counts.enumerated() where count > 1 { findings[index].text += " (\(count) times)" }
        let named = Set(path.connections.flatMap(\.ladder).compactMap { $0.sender?.kind == .node ? $0.sender?.name : $0.stoppedOn })
        for rule in path.rules where !named.contains(rule.node) && findings.count < pathFindingLimit {
            findings.append(.init(kind: "path", severity: .warning, text: "on node \(rule.node), table \(rule.table), `\(rule.rule)` "
                                  + "counted \(rule.packets) packet\(rule.packets == 1 ? "" : "s") during the run", packets: [], times: []))
        }
        return findings
    }

    /// The refusing or dropping rules of the node that made a packet, as evidence.
    static func ruleEvidence(_ hop: PathHop, _ rules: [PathRuleCount]) -> String {
        guard let node = hop.sender?.kind == .node ? hop.sender?.name : hop.stoppedOn else { return "" }
        let counted = rules.filter { $0.node == node }.prefix(3)
        guard !counted.isEmpty else { return "" }
        return "; during the run on node \(node): " + counted.map { "`\($0.rule)` counted +\($0.packets)" }.joined(separator: ", ")
    }

    static func linkName(_ linkType: Int32) -> String { LinkType.name(of: linkType) }
}

/// Captures taken at several points of one path (tcpdump on a pod's veth, on its node's uplink,
/// on the other node's), analysed as one: merged by time, and each key packet followed across
/// the points, as `apply` does for `interfaces: path`. The connections are analysed as the pods'
/// veths saw them: an uplink carries every pod's traffic, and its copies of the pods' packets
/// (rewritten by NAT) would be other connections; it serves the path.
extension CaptureReport {
    public static func analyse(points: [(point: PathPoint, path: String)], identities: IdentityMap = IdentityMap(),
                               threads: Int = AnalysisShards.defaultThreads, progress: ((Int) -> Void)? = nil) throws(PcapError) -> Summary {
        let readers = try points.map { entry throws(PcapError) in try openCaptureFile(entry.path) }
        let decoders = try readers.map { reader throws(PcapError) in try PacketDecoder(linkType: reader.linkType) }
        // The tracer has a thread of its own, so the veth's analysis goes wholly to the worker and
        // the reading thread only reads and hands over.
        let shards = AnalysisShards(threads: threads, workerTakesAll: true)
        let tracing = TracingThread(points: points.map(\.point), decoders: decoders, threads: threads)
        let merged = MergedReaders(readers)
        var number = 0
        let veths = points.map { $0.point.role == .podVeth }
        // The analysis's first time (its first veth packet's), which the path report counts from.
        var first: Timestamp?
        while let (index, packet) = merged.next() {
            number += 1
            if veths[index] {
                if first == nil { first = packet.timestamp }
                shards.add(packet.bytes, decoder: decoders[index], number: number, timestamp: packet.timestamp, originalLength: packet.originalLength)
            }
            tracing.add(packet.bytes, point: index, number: number, timestamp: packet.timestamp)
            if number & 0xFFFF == 0 { progress?(number) }
        }
        tracing.finish(start: first)
        let analyzer = shards.finish()
        let summary = SummaryBuilder(analyzer: analyzer, identities: identities, file: points.map(\.path).joined(separator: " + "),
                                     linkType: linkName(readers.first?.linkType ?? 1), readError: merged.readError).build()
        return with(tracing.waitForReport(), summary)
    }
}
