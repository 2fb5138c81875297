import Foundation

/// report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) that
/// opens from disk: the findings first, a ladder diagram of each connection they name, and a
/// timeline of the run. Bounded by the ladders' limits, whatever the capture's size.
public struct HTMLReport {
    /// Something that happened during the run, in seconds from the capture's first packet.
    public struct TimelineEntry: Sendable {
        public enum Kind: String, Sendable { case reproduce, event, stop, capture }
        public var time: Double
        public var kind: Kind
        public var text: String

        public init(time: Double, kind: Kind, text: String) {
            self.time = time
            self.kind = kind
            self.text = text
        }
    }

    public var title: String
    public var summary: Summary
    public var ladders: [Ladder]
    public var timeline: [TimelineEntry]
    /// The verdict, when the plan states expectations: its outcome (PASS, FAIL, INCONCLUSIVE), why
    /// the capture cannot vouch for it when inconclusive, and each row (held: yes, no or unsure).
    public var verdict: (outcome: String, doubts: [String], rows: [(expectation: String, observed: Int, held: String)])?

    public init(title: String, summary: Summary, ladders: [Ladder], timeline: [TimelineEntry],
                verdict: (outcome: String, doubts: [String], rows: [(expectation: String, observed: Int, held: String)])? = nil) {
        self.title = title
        self.summary = summary
        self.ladders = ladders
        self.timeline = timeline
        self.verdict = verdict
    }

    /// The events the summary lists, as timeline entries (at most `eventLimit`).
    public static func events(_ summary: Summary) -> [TimelineEntry] {
        var entries = summary.resets.map {
            TimelineEntry(time: $0.event.time, kind: .event, text: "RST from \(summary.labelled($0.event.sender.description, address: $0.event.sender.address)) to "
                + summary.labelled($0.event.receiver.description, address: $0.event.receiver.address))
        }
        entries += summary.icmpErrors.map { TimelineEntry(time: $0.time, kind: .event, text: "ICMP \($0.description) from \(summary.labelled($0.reporter.description, address: $0.reporter))") }
        entries += summary.dnsFailures.map { TimelineEntry(time: $0.time, kind: .event, text: "DNS \($0.name): \($0.outcome)") }
        return Array(entries.sorted { $0.time < $1.time }.prefix(eventLimit))
    }

    public static let eventLimit = 200

    public func render() -> String {
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(Self.style)</style></head><body><main>
        <h1>\(escape(title))</h1>
        <p class="meta">\(summary.capture.packets) packets, \(String(format: "%.2f", summary.capture.durationSeconds)) s\
        \(summary.capture.start.map { " from \(escape($0))" } ?? ""), \(summary.connections.total) connections · capplan</p>

        """
        html += findingsSection() + verdictSection() + laddersSection() + timelineSection()
        html += "</main></body></html>\n"
        return html
    }

    private func findingsSection() -> String {
        guard !summary.findings.isEmpty else { return "<h2>Findings</h2><p>Nothing went wrong that the packets show.</p>\n" }
        var html = "<h2>Findings</h2><ol class=\"findings\">\n"
        for finding in summary.findings {
            let packets = finding.packets.prefix(5).map(String.init).joined(separator: ", ")
            html += "<li class=\"\(finding.severity.rawValue)\"><span class=\"kind\">\(escape(finding.kind))</span> \(escape(finding.text))"
                + (packets.isEmpty ? "" : " <span class=\"packets\">(packet\(finding.packets.count == 1 ? "" : "s") \(packets))</span>") + "</li>\n"
        }
        return html + "</ol>\n"
    }

    private func verdictSection() -> String {
        guard let verdict else { return "" }
        var html = "<h2>Verdict: \(escape(verdict.outcome))</h2>"
        if !verdict.doubts.isEmpty { html += "<p>The capture cannot vouch for what a result rests on: \(escape(verdict.doubts.joined(separator: "; "))).</p>" }
        html += "<table><tr><th>expectation</th><th>observed</th><th>held</th></tr>\n"
        for row in verdict.rows {
            html += "<tr><td>\(escape(row.expectation))</td><td>\(row.observed)</td><td class=\"\(row.held == "yes" ? "held" : "failed")\">\(escape(row.held))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    private func laddersSection() -> String {
        guard !ladders.isEmpty else { return "" }
        var html = "<h2>Connections the findings name</h2>\n"
        for (index, ladder) in ladders.enumerated() {
            html += "<section class=\"ladder\" id=\"ladder-\(index + 1)\"><h3>\(escape(ladder.title))</h3><p class=\"why\">\(escape(ladder.finding))</p>\n"
            html += LadderSVG(ladder: ladder).render()
            if ladder.omitted > 0 { html += "<p class=\"meta\">\(ladder.omitted) packets in the middle are left out.</p>" }
            html += "</section>\n"
        }
        return html
    }

    private func timelineSection() -> String {
        guard !timeline.isEmpty else { return "" }
        // The run may start before its first packet (negative times): the axis spans both.
        let origin = min(0, timeline.map(\.time).min() ?? 0)
        let end = max(timeline.map(\.time).max() ?? 0, summary.capture.durationSeconds, origin + 0.001)
        let width = 1100.0, left = 20.0
        var svg = "<svg class=\"timeline\" viewBox=\"0 0 \(Int(width + 2 * left)) 60\" width=\"100%\" role=\"img\" aria-label=\"timeline\">"
        svg += "<line x1=\"\(left)\" y1=\"30\" x2=\"\(left + width)\" y2=\"30\" class=\"axis\"/>"
        for entry in timeline {
            let x = left + (entry.time - origin) / (end - origin) * width
            svg += "<circle cx=\(Self.number(x)) cy=\"30\" r=\"5\" class=\"t-\(entry.kind.rawValue)\" data-time=\"\(Self.number(entry.time))\"><title>\(escape(entry.text))</title></circle>"
        }
        svg += "<text x=\"\(left)\" y=\"55\">\(String(format: "%.2f", origin)) s</text><text x=\"\(left + width)\" y=\"55\" text-anchor=\"end\">\(String(format: "%.2f", end)) s</text></svg>\n"
        var rows = ""
        for entry in timeline {
            rows += "<tr class=\"t-\(entry.kind.rawValue)\"><td>\(String(format: "%.3f", entry.time)) s</td><td>\(entry.kind.rawValue)</td><td>\(escape(entry.text))</td></tr>\n"
        }
        return "<h2>Timeline</h2>\n" + svg + "<table class=\"timeline\"><tr><th>time</th><th>what</th><th></th></tr>\n" + rows + "</table>\n"
    }

    static func number(_ value: Double) -> String { String(format: "\"%.1f\"", value) }

    static let style = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#fafbfc}
    main{max-width:1200px;margin:0 auto;padding:16px 24px}
    h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #d8dee4}h3{font-size:15px;margin:12px 0 4px;overflow-wrap:anywhere}
    .meta{color:#57606a}.why{margin:0 0 6px;color:#24292f;overflow-wrap:anywhere}
    ol.findings li{margin:6px 0;overflow-wrap:anywhere}ol.findings li.error{color:#82071e}ol.findings li.warning{color:#7d4e00}
    .kind{display:inline-block;font-size:12px;padding:0 6px;border-radius:8px;background:#eaeef2;color:#24292f}.packets{color:#57606a}
    table{border-collapse:collapse;margin:8px 0;max-width:100%}td,th{border:1px solid #d8dee4;padding:3px 8px;text-align:left;overflow-wrap:anywhere}
    td.held{color:#116329}td.failed{color:#82071e;font-weight:bold}
    svg{display:block;max-width:100%;height:auto;background:#fff;border:1px solid #d8dee4;border-radius:6px}
    svg text{font:12px system-ui,sans-serif;fill:#24292f}svg .lane{stroke:#8c959f;stroke-dasharray:4 4}svg .lane-name{font-weight:bold}
    svg .axis{stroke:#8c959f}svg .time{fill:#57606a}svg .idle{fill:#f6f8fa}svg .idle-text{fill:#57606a;font-style:italic}
    .arrow line,.arrow polyline{fill:none;stroke-width:2}
    .syn polyline{stroke:#0969da}.syn-ack polyline{stroke:#1a7f37}.ack polyline{stroke:#8c959f}.data polyline{stroke:#6e7781}
    .fin polyline{stroke:#8250df}.rst polyline{stroke:#cf222e;stroke-width:3}.icmp polyline{stroke:#bc4c00;stroke-width:3}
    .rst text.label{fill:#a40e26;font-weight:bold}.icmp text.label{fill:#953800;font-weight:bold}.lost{stroke:#cf222e;stroke-width:2}
    circle.t-reproduce{fill:#0969da}circle.t-event{fill:#cf222e}circle.t-stop{fill:#24292f}circle.t-capture{fill:#1a7f37}
    """
}

func escape(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        default: result.append(character)
        }
    }
    return result
}

/// One ladder as SVG: lanes across, time down; idle gaps of half a second or more are drawn
/// as bands whose height grows with the gap, so a long silence before a reset shows.
struct LadderSVG {
    let ladder: Ladder
    static let width = 1100.0, top = 56.0, row = 30.0, timeColumn = 90.0

    func render() -> String {
        let lanes = ladder.lanes.count
        let span = max(ladder.arrows.map(\.time).max() ?? 0, 0.001) - (ladder.arrows.first?.time ?? 0)
        func laneX(_ lane: Int) -> Double {
            Self.timeColumn + 40 + Double(lane) * (Self.width - Self.timeColumn - 120) / Double(max(lanes - 1, 1))
        }
        var body = "", y = Self.top, previous: Double?
        for (index, arrow) in ladder.arrows.enumerated() {
            if let previous, arrow.time - previous >= 0.5 {
                let height = 24 + min(120, (arrow.time - previous) / span * 240)
                body += "<rect class=\"idle\" x=\"\(Self.timeColumn)\" y=\(HTMLReport.number(y - 8)) width=\"\(Self.width - Self.timeColumn)\" height=\(HTMLReport.number(height - 8))/>"
                body += "<text class=\"idle-text\" x=\"\(Self.timeColumn + 8)\" y=\(HTMLReport.number(y + height / 2 - 6))>\(String(format: "%.1f", arrow.time - previous)) s idle</text>"
                y += height
            }
            previous = arrow.time
            body += arrowSVG(arrow, y: y, laneX: laneX, index: index)
            y += Self.row
        }
        var lanesSVG = ""
        for (lane, name) in ladder.lanes.enumerated() {
            let x = laneX(lane)
            let anchor = lane == 0 ? "start" : lane == lanes - 1 ? "end" : "middle"
            lanesSVG += "<line class=\"lane\" data-lane=\"\(lane)\" x1=\(HTMLReport.number(x)) y1=\"\(Self.top - 16)\" x2=\(HTMLReport.number(x)) y2=\(HTMLReport.number(y))/>"
            lanesSVG += "<text class=\"lane-name\" x=\(HTMLReport.number(x + (lane == 0 ? -30 : lane == lanes - 1 ? 30 : 0))) y=\"\(lane % 2 == 0 ? 20 : 36)\" text-anchor=\"\(anchor)\">\(escape(name))</text>"
        }
        return "<svg viewBox=\"0 0 \(Int(Self.width + 20)) \(Int(y + 10))\" width=\"100%\" role=\"img\" aria-label=\"ladder\">"
            + "<defs>" + Ladder.Arrow.Kind.allCases.map(Self.marker).joined() + "</defs>" + body + lanesSVG + "</svg>\n"
    }

    static func marker(_ kind: Ladder.Arrow.Kind) -> String {
        "<marker id=\"head-\(kind.rawValue)\" class=\"\(kind.rawValue)\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
            + "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"\(color(kind))\"/></marker>"
    }

    static func color(_ kind: Ladder.Arrow.Kind) -> String {
        switch kind {
        case .syn: "#0969da"
        case .synAck: "#1a7f37"
        case .ack: "#8c959f"
        case .data: "#6e7781"
        case .fin: "#8250df"
        case .rst: "#cf222e"
        case .icmp: "#bc4c00"
        }
    }

    private var laneCount: Int { ladder.lanes.count }

    private func arrowSVG(_ arrow: Ladder.Arrow, y: Double, laneX: (Int) -> Double, index: Int) -> String {
        let points = arrow.stops.enumerated().map { step, stop in "\(String(format: "%.1f", laneX(stop.lane))),\(String(format: "%.1f", y + Double(step) * 4))" }
        let first = arrow.stops.first?.lane ?? 0, last = arrow.stops.last?.lane ?? 0
        let middle = (laneX(first) + laneX(last)) / 2
        var svg = "<g class=\"arrow \(arrow.kind.rawValue)\" data-kind=\"\(arrow.kind.rawValue)\" data-time=\"\(String(format: "%.6f", arrow.time))\" "
            + "data-from-lane=\"\(first)\" data-to-lane=\"\(last)\" data-packet=\"\(arrow.packet)\">"
        svg += "<text class=\"time\" x=\"4\" y=\(HTMLReport.number(y + 4))>\(String(format: "%.3f", arrow.time)) s</text>"
        svg += "<polyline points=\"\(points.joined(separator: " "))\" marker-end=\"url(#head-\(arrow.kind.rawValue))\"/>"
        // A dot where a capture point between the ends saw it.
        for (step, stop) in arrow.stops.enumerated() where stop.lane != 0 && stop.lane != laneCount - 1 {
            svg += "<circle class=\"seen\" cx=\(HTMLReport.number(laneX(stop.lane))) cy=\(HTMLReport.number(y + Double(step) * 4)) r=\"3.5\" fill=\"\(Self.color(arrow.kind))\"/>"
        }
        svg += "<text class=\"label\" x=\(HTMLReport.number(middle)) y=\(HTMLReport.number(y - 5)) text-anchor=\"middle\">\(escape(arrow.label))</text>"
        if arrow.lost {
            let x: Double = laneX(last) + (first < last || arrow.stops.count == 1 ? 24 : -24)
            let endY: Double = y + Double(arrow.stops.count - 1) * 4
            let (x0, x1, y0, y1) = (String(format: "%.1f", x - 5), String(format: "%.1f", x + 5), String(format: "%.1f", endY - 5), String(format: "%.1f", endY + 5))
            svg += "<path class=\"lost\" d=\"M\(x0),\(y0) L\(x1),\(y1) M\(x0),\(y1) L\(x1),\(y0)\"/>"
            svg += "<text class=\"label\" x=\(HTMLReport.number(x + 10)) y=\(HTMLReport.number(endY + 4))>lost</text>"
        }
        return svg + "</g>"
    }
}
