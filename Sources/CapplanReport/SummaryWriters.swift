import CapplanAnalyse
import CapplanPackets
import Foundation

/// summary.json: stable key order (sorted), pretty-printed, schema version 1.
public enum SummaryJSON {
    public static func render(_ summary: Summary) throws -> String {
        String(decoding: try bytes(summary), as: UTF8.self)
    }

    /// summary.json's bytes, for writing out as they are.
    public static func bytes(_ summary: Summary) throws -> [UInt8] {
        try SortedJSON.encodedBytes(summary, aside: asideKeys, newline: true)
    }

    /// The summary's largest parts, each written on a thread of its own beside the rest: on a
    /// 1.2M-packet capture the list of connections is about half of summary.json and the resets
    /// most of the other half; a path's hop ladders are more than both.
    static let asideKeys: Set<String> = ["connections", "path", "resets"]
}

/// summary.md: findings first, then the tables; reads well in a terminal too.
public enum SummaryMarkdown {
    public static func render(_ summary: Summary) -> String {
        let capture = summary.capture
        var text = "# capplan report: \(capture.file)\n\n"
        text += "\(capture.packets) packets" + (capture.keptPackets.map { " seen, \($0) kept in the file" } ?? "") + ", \(seconds(capture.durationSeconds))"
        if let start = capture.start, let end = capture.end { text += " (\(start) to \(end))" }
        text += ", \(summary.connections.total) connection\(plural(summary.connections.total)).\n\n"

        text += "## Findings\n\n"
        if summary.findings.isEmpty {
            text += "Nothing went wrong that the packets show: no resets, refusals, unanswered SYNs, ICMP errors or failed lookups.\n"
        }
        for (number, finding) in summary.findings.enumerated() {
            var evidence: [String] = []
            if !finding.packets.isEmpty {
                evidence.append((finding.packets.count == 1 ? "packet " : "packets ") + finding.packets.map(String.init).joined(separator: ", "))
            }
            text += "\(number + 1). **\(finding.kind)** \(finding.text)" + (evidence.isEmpty ? "" : " (\(evidence.joined(separator: "; ")))") + "\n"
        }

        text += pathSection(summary.path)
        text += "\n## Connections by outcome\n\n| state | meaning | connections |\n|---|---|---:|\n"
        for state in ConnState.allCases {
            if let count = summary.connections.byState[state.rawValue], count > 0 {
                text += "| \(state.rawValue) | \(state.meaning) | \(count) |\n"
            }
        }
        let tunnels = Dictionary(grouping: summary.connections.list.compactMap(\.tunnel), by: { $0 }).mapValues(\.count)
        if !tunnels.isEmpty {
            text += "\nCarried in tunnels (analysed inside): " + tunnels.keys.sorted().map { "\($0) \(tunnels[$0] ?? 0)" }.joined(separator: ", ")
                + " of the connections listed.\n"
        }

        text += resetsTable(summary)

        if !summary.topTalkers.isEmpty {
            text += "\n## Top talkers\n\n| address | label | packets | bytes |\n|---|---|---:|---:|\n"
            for talker in summary.topTalkers {
                text += "| \(talker.address) | \(talker.label?.description ?? "") | \(talker.packets) | \(talker.bytes) |\n"
            }
        }

        let expert = summary.expert
        text += "\n## TCP analysis (Wireshark's definitions)\n\n| counter | count |\n|---|---:|\n"
        text += "| retransmissions | \(expert.retransmissions) |\n| out-of-order | \(expert.outOfOrder) |\n"
        text += "| duplicate ACKs | \(expert.duplicateAcks) |\n| zero windows | \(expert.zeroWindows) |\n"
        text += "| keep-alives | \(expert.keepAlives) |\n| previous segment not captured | \(expert.segmentsNotCaptured) |\n"

        text += captureNotes(capture)
        return text
    }

    private static func resetsTable(_ summary: Summary) -> String {
        guard !summary.resets.isEmpty else { return "" }
        var text = "\n## Resets\n\n| packet | time | sender | receiver | role | idle | sent / received | in window | TTL |\n|---:|---:|---|---|---|---:|---:|---|---|\n"
        for reset in summary.resets.prefix(50) {
            let event = reset.event
            let role = event.answeredSyn ? "refusal" : (event.fromOriginator ? "originator" : "responder")
            let ttl = event.senderEarlierTTL.map { $0 == event.ttl ? "\(event.ttl)" : "\(event.ttl) (was \($0))" } ?? "\(event.ttl)"
            let window = event.inWindow.map { $0 ? "yes" : "no" } ?? "?"
            text += "| \(event.packet) | \(seconds(event.time)) | \(name(event.sender, reset.senderLabel)) | \(name(event.receiver, reset.receiverLabel)) | \(role) | "
                + "\(event.idleSeconds.map(seconds) ?? "-") | \(event.bytesFromSender) / \(event.bytesFromReceiver) | \(window) | \(ttl) |\n"
        }
        if summary.resets.count > 50 { text += "\n\(summary.resets.count - 50) more in summary.json.\n" }
        return text
    }

    /// The ladders of the connections a path finding names (at most 5, 12 packets each): where
    /// each key packet was seen, where it was not, and who made it.
    static func pathSection(_ path: PathReport?) -> String {
        guard let path else { return "" }
        var text = "\n## Path\n\nCapture points: " + path.points.map { point in
            point.name + (point.role == .uplink ? " (uplink)" : point.pod.map { " (pod \($0))" } ?? "")
        }.joined(separator: ", ") + ".\n"
        let shown = path.connections.filter { $0.ladder.contains { $0.finding != nil } }.prefix(5)
        for connection in shown {
            text += "\n### " + (connection.views.first ?? "connection") + "\n\n"
            for translation in connection.translations { text += "- \(translation)\n" }
            if !connection.translations.isEmpty { text += "\n" }
            text += "| packet | way | seen at (s, TTL) | not seen at | made by |\n|---|---|---|---|---|\n"
            for hop in connection.ladder.prefix(12) {
                let seen = hop.seen.map { "\($0.point) \(String(format: "%.3f", $0.time)) (\($0.ttl))" }.joined(separator: ", ")
                let maker = hop.sender.map { "\($0.kind.rawValue) \($0.name)" } ?? ""
                text += "| \(hop.packet) | \(hop.direction ?? "?") | \(seen) | \(hop.missedAt.joined(separator: ", ")) | \(maker) |\n"
            }
            if connection.ladder.count > 12 { text += "\n\(connection.ladder.count - 12) more in summary.json.\n" }
        }
        return text
    }

    private static func captureNotes(_ capture: Summary.CaptureInfo) -> String {
        var text = "\n## Capture\n\n"
        text += "- link type: \(capture.linkType)\n- bytes on the wire: \(capture.bytes)\n"
        if capture.truncatedPackets > 0 { text += "- cut short by the snaplen: \(capture.truncatedPackets) packets\n" }
        if capture.dnsMessagesCut > 0 { text += "- DNS messages without their header (snaplen or redaction): \(capture.dnsMessagesCut)\n" }
        if capture.fragments > 0 { text += "- IP fragments: \(capture.fragments)\n" }
        if capture.duplicateCopiesDropped > 0 {
            text += "- copies of a packet seen on a second interface, counted once: \(capture.duplicateCopiesDropped)\n"
        }
        if let evicted = capture.connectionsEvicted { text += "- connections ended early at the open-flow limit: \(evicted)\n" }
        if capture.undecodedPackets > 0 { text += "- not IP, not analysed: \(capture.undecodedPackets)\n" }
        if let error = capture.readError { text += "- read error: \(error)\n" }
        return text
    }

    private static func name(_ endpoint: Endpoint, _ identity: Identity?) -> String {
        identity.map { "\(endpoint) (\($0))" } ?? endpoint.description
    }
}
