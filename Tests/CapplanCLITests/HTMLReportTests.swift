import CapplanTestSupport
import Foundation
import Testing

/// report.html rendered by headless Chromium at 1280 px and measured there: the runbook capture's
/// ladder draws each RST from the lane of the pod that sent it (as tshark says) at its time;
/// nothing is cut off at the page's width; nothing is fetched and no error is raised. The page
/// stays small whatever the capture's size.
@Suite(.serialized)
struct HTMLReportTests {
    /// Measures the rendered page and writes what it found into <pre id="check"> as JSON.
    static let measure = """
    (() => {
      const errors = [];
      window.addEventListener('error', e => errors.push(String(e.message)));
      const result = {errors};
      const width = window.innerWidth;
      result.scrollWidth = document.documentElement.scrollWidth;
      result.width = width;
      result.cutOff = [...document.querySelectorAll('main *')].filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && (r.left < -1 || r.right > width + 1);
      }).map(e => e.tagName + ' ' + (e.textContent || '').slice(0, 40));
      result.fetched = performance.getEntriesByType('resource').map(r => r.name);
      result.resets = [...document.querySelectorAll('g.arrow[data-kind=rst]')].map(g => {
        const svg = g.ownerSVGElement, line = g.querySelector('polyline');
        const first = line.points.getItem(0), matrix = line.getScreenCTM();
        const fromLane = g.dataset.fromLane;
        const lane = svg.querySelector(`line.lane[data-lane="${fromLane}"]`);
        const names = [...svg.querySelectorAll('text.lane-name')].map(t => t.textContent);
        return {time: parseFloat(g.dataset.time), label: g.querySelector('text.time').textContent,
                startX: first.x * matrix.a + matrix.e, laneX: lane.getBoundingClientRect().left + lane.getBoundingClientRect().width / 2,
                from: names[parseInt(fromLane)], visible: g.getBoundingClientRect().height > 0};
      });
      const pre = document.createElement('pre');
      pre.id = 'check';
      pre.textContent = JSON.stringify(result);
      document.body.appendChild(pre);
    })();
    """

    static func check(_ html: String) throws -> [String: Any] {
        let dom = try Chromium.dumpDOM(html, script: measure)
        let start = try #require(dom.range(of: "<pre id=\"check\">")), end = try #require(dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex))
        let json = String(dom[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func theRunbookLadderDrawsEachResetFromThePodsLaneAtItsTime() throws {
        try #require(Chromium.available, "chromium is not installed (scripts/install-deps installs it)")
        let capture = Repository.path("examples/captures/lb-rst-idle.pcap")
        let out = Crafter.directory + "/html-\(UUID().uuidString)"
        let result = runCLI("report", capture, "--labels", Repository.path("examples/captures/lb-rst-idle.labels.yaml"), "--out", out)
        #expect(result.status == 0, "\(result.stderr)")
        let html = out + "/report.html"
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(!page.contains("src=") && !page.contains("href=\"http") && !page.contains("@import"), "self-contained")

        // tshark: when each RST came and who sent it.
        let oracle = try Tshark.fields(capture, filter: "tcp.flags.reset == 1", ["frame.time_relative", "ip.src"])
        try #require(oracle.count == 2)
        let measured = try Self.check(html)
        #expect((measured["errors"] as? [Any])?.isEmpty == true, "\(measured["errors"] ?? "")")
        #expect((measured["fetched"] as? [Any])?.isEmpty == true, "\(measured["fetched"] ?? "")")
        #expect(measured["scrollWidth"] as? Int ?? 9999 <= 1280, "the page is wider than 1280 px")
        #expect((measured["cutOff"] as? [Any])?.isEmpty == true, "cut off at 1280 px: \(measured["cutOff"] ?? "")")
        let resets = measured["resets"] as? [[String: Any]] ?? []
        #expect(resets.count == oracle.count)
        for (reset, row) in zip(resets, oracle) {
            let time = try #require(Double(row[0]))
            #expect(abs((reset["time"] as? Double ?? -1) - time) < 0.001, "\(reset) vs tshark \(row)")
            #expect(reset["label"] as? String == String(format: "%.3f s", time))
            #expect((reset["from"] as? String)?.hasPrefix(row[1] + ":") == true && (reset["from"] as? String)?.contains("(pod myapp/") == true,
                    "drawn from \(reset["from"] ?? "") but tshark says \(row[1]) sent it")
            #expect(abs((reset["startX"] as? Double ?? 0) - (reset["laneX"] as? Double ?? 99)) < 2, "the arrow starts on the sender's lane: \(reset)")
            #expect(reset["visible"] as? Bool == true)
        }
        try Chromium.screenshot(html, to: out + "/report.png")
        #expect(FileManager.default.fileExists(atPath: out + "/report.png"))
    }

    /// A run of data one way is one arrow that counts its segments and bytes; the other way, or a
    /// control packet, starts another. A bulk transfer of 20,000 segments stays one arrow.
    @Test func aRunOfDataIsOneArrowWithItsCountAndBytes() throws {
        var crafter = Crafter()
        let c = Crafter.client, s = Crafter.server
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: ACK, seq: 1, ack: 1))
        for index in 0..<3 { crafter.tcp(Crafter.TCP(from: c, to: s, flags: ACK | PSH, seq: UInt32(1 + 100 * index), ack: 1, payload: 100)) }
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: ACK, seq: 1, ack: 301))
        for index in 0..<20_000 { crafter.tcp(Crafter.TCP(from: s, to: c, flags: ACK, seq: UInt32(1 + 50 * index), ack: 301, payload: 50)) }
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: RST | ACK, seq: 1_000_001, ack: 301))
        let out = Crafter.directory + "/html-runs-\(UUID().uuidString)"
        #expect(runCLI("report", try crafter.write(), "--out", out).status == 0)
        let page = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(page.contains("data ×3, 300 B"), "the client's three segments")
        #expect(page.contains("data ×20000, 1000000 B"), "the server's bulk transfer")
        // The handshake's ACK is drawn; the server's bare ACK after the client's data is not
        // (the pass decodes it only while the ladder would draw it).
        let labels = page.components(separatedBy: "<text class=\"label\"").dropFirst().compactMap { $0.split(separator: ">").dropFirst().first?.split(separator: "<").first }
        #expect(labels.map(String.init) == ["SYN", "SYN-ACK", "ACK", "data ×3, 300 B", "data ×20000, 1000000 B", "RST-ACK TTL 64, out of window"], "\(labels)")
    }

    /// 20,000 connections reset: the page holds the findings and at most the ladder cap.
    @Test func aLargeCaptureGivesASmallPage() throws {
        var crafter = Crafter()
        for index in 0..<20_000 {
            let client = (ip: "198.51.100.\(10 + index % 200)", port: UInt16(33000 + index / 200))
            crafter.tcp(Crafter.TCP(from: client, to: Crafter.server, flags: SYN, seq: 0), after: 0.0001)
            crafter.tcp(Crafter.TCP(from: Crafter.server, to: client, flags: SYN | ACK, seq: 0, ack: 1), after: 0.0001)
            crafter.tcp(Crafter.TCP(from: client, to: Crafter.server, flags: ACK | PSH, seq: 1, ack: 1, payload: 20), after: 0.0001)
            crafter.tcp(Crafter.TCP(from: Crafter.server, to: client, flags: RST | ACK, seq: 1, ack: 21), after: 0.0001)
        }
        let out = Crafter.directory + "/html-large-\(UUID().uuidString)"
        #expect(runCLI("report", try crafter.write(), "--out", out).status == 0)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: out + "/report.html")[.size] as? Int)
        #expect(size < 2_000_000, "report.html is \(size) bytes")
        let page = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(page.components(separatedBy: "<section class=\"ladder\"").count - 1 <= 12)
        #expect(page.contains("data-kind=\"rst\""))
    }
}
