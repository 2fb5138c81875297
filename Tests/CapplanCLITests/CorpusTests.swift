import CapplanAnalyse
import CapplanPackets
import CapplanTestSupport
import Foundation
import Testing

/// tcpdump's own test captures (../shared/corpus/tcpdump-tests, 830 files, many malformed on
/// purpose: fuzzer finds, bogus lengths, odd link types): `report` and `redact` on every one of
/// them end in a report, or in a clear error (exit 1 saying why; for redact, 3 when it wrote what
/// came before the damage), never a crash and never a hang.
struct CorpusTests {
    static let folder = Corpus.folder("tcpdump-tests")

    static func captures() throws -> [String] { try Corpus.captures(in: "tcpdump-tests") }

    @Test func everyTcpdumpTestCaptureIsReportedAndRedactedOrRefusedClearly() throws {
        let captures = try Self.captures()
        #expect(captures.count >= 800, "\(captures.count) captures in \(Self.folder)")
        let rules = Crafter.directory + "/corpus-rules-\(UUID().uuidString).yaml"
        try "redact:\n  payload: {truncate: 16}\n  addresses: pseudonymize\n  macs: zero\n".write(toFile: rules, atomically: true, encoding: .utf8)
        var reported = 0, refused: [String: Int] = [:]
        for capture in captures {
            let started = Date()
            let report = runCLI("report", capture, "--format", "json")
            #expect(report.status == 0 || report.status == 1, "\(capture): report exited \(report.status)")
            if report.status == 1 {
                #expect(report.stderr.hasPrefix("capplan: cannot read the capture: "), "\(capture): \(report.stderr)")
                let why = report.stderr.contains("is not one capplan decodes") ? "link type capplan does not decode" : "unreadable"
                refused[why, default: 0] += 1
            } else {
                reported += 1
                #expect((try? JSONSerialization.jsonObject(with: Data(report.stdout.utf8))) != nil, "\(capture): summary.json does not parse")
            }
            let output = Crafter.directory + "/corpus-\(UUID().uuidString)" + (capture.hasSuffix(".pcapng") ? ".pcapng" : ".pcap")
            let redact = runCLI("redact", capture, output, "--rules", rules)
            #expect([0, 1, 3].contains(redact.status), "\(capture): redact exited \(redact.status): \(redact.stderr)")
            if redact.status == 1 { #expect(redact.stderr.hasPrefix("capplan: ") && !FileManager.default.fileExists(atPath: output), "\(capture)") }
            if redact.status == 3 { #expect(FileManager.default.fileExists(atPath: output) && redact.stderr.contains("ends in error after packet"), "\(capture)") }
            try? FileManager.default.removeItem(atPath: output)
            #expect(Date().timeIntervalSince(started) < 20, "\(capture) took \(Date().timeIntervalSince(started)) s")
        }
        // Most of them are Ethernet or cooked captures capplan reads.
        #expect(reported > captures.count / 2, "reported \(reported), refused \(refused)")
    }

    /// Zeek's traces (../shared/corpus/zeek), pcap and pcapng, by name.
    static func zeekTraces() throws -> [String] { try Corpus.captures(in: "zeek") }

    /// Two analysis threads give exactly the report of one (flows split between them by a hash,
    /// merged at the end): on every capture of both corpora, and on the benchmark's kind of
    /// capture (bulk streams and tens of thousands of short connections, some refused or reset).
    @Test func twoThreadsReportExactlyWhatOneDoes() throws {
        let traces = try Self.zeekTraces()
        let synthetic = Crafter.directory + "/bench-\(UUID().uuidString).pcap"
        defer { try? FileManager.default.removeItem(atPath: synthetic) }
        try NetLab.run(["python3", Repository.path("scripts/bench/make-capture.py"), synthetic, "300000"], timeout: 120)
        let captures = try Self.captures() + traces + [synthetic]
        var compared = 0
        for capture in captures {
            let one = runCLI("report", capture, "--format", "json", "--threads", "1")
            let two = runCLI("report", capture, "--format", "json", "--threads", "2")
            #expect(one.status == two.status, "\(capture)")
            guard one.status == 0 else { continue }
            compared += 1
            #expect(one.stdout == two.stdout, "\(capture): the two-thread report differs")
        }
        #expect(compared > 500, "\(compared) reports compared")
    }

    /// Following a path on two threads (the reader, the tracer on its own thread, the veth's
    /// analysis on the worker) reports exactly what one thread does: three points of a
    /// benchmark-like capture, the veth's packets seen again at an uplink and a far node.
    @Test func twoThreadsFollowAPathExactlyAsOne() throws {
        let synthetic = Crafter.directory + "/bench-\(UUID().uuidString).pcap"
        defer { try? FileManager.default.removeItem(atPath: synthetic) }
        try NetLab.run(["python3", Repository.path("scripts/bench/make-capture.py"), synthetic, "100000"], timeout: 120)
        let points = ["--point", "file=\(synthetic),node=a,interface=veth1,pod=bench/client",
                      "--point", "file=\(synthetic),node=a,interface=eth0", "--point", "file=\(synthetic),node=b,interface=eth0"]
        let one = runCLI(["report", "--format", "json", "--threads", "1"] + points)
        let two = runCLI(["report", "--format", "json", "--threads", "2"] + points)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout == two.stdout, "the two-thread path report differs")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [String: Any])
        let connections = try #require((summary["path"] as? [String: Any])?["connections"] as? [[String: Any]])
        #expect(connections.count > 100, "the path follows the capture's connections: \(connections.count)")
    }

    /// The same on real traffic with its payloads captured (Zeek's traces, each as three points):
    /// the tracer's thread is handed a segment's headers and the start of its payload only, and
    /// follows it exactly as one thread that reads the whole packet.
    @Test func twoThreadsFollowRealCapturesExactlyAsOne() throws {
        let traces = try Self.zeekTraces()
        var followed = 0
        for file in traces {
            let trace = (file as NSString).lastPathComponent
            let points = ["--point", "file=\(file),node=a,interface=veth1,pod=corpus/client",
                          "--point", "file=\(file),node=a,interface=eth0", "--point", "file=\(file),node=b,interface=eth0"]
            let one = runCLI(["report", "--format", "json", "--threads", "1"] + points)
            let two = runCLI(["report", "--format", "json", "--threads", "2"] + points)
            #expect(one.status == two.status, "\(trace)")
            guard one.status == 0 else { continue }
            #expect(one.stdout == two.stdout, "\(trace): the two-thread path report differs")
            if one.stdout.contains("\"last DATA\"") { followed += 1 }
        }
        #expect(followed >= 10, "\(followed) traces whose data segments the path followed")
    }

    /// The same for a capture.pcapng as apply writes it for `interfaces: path`: one file, each
    /// point an interface that its comment describes. Each of Zeek's Ethernet traces is written
    /// out as seen at a pod's veth, its node's uplink and the far node's, every packet three times.
    @Test func twoThreadsFollowAnApplyWrittenPathExactlyAsOne() throws {
        let points = [PathPoint(name: "a/veth1", node: "a", role: .podVeth, pod: "corpus/client"),
                      PathPoint(name: "a/eth0", node: "a", role: .uplink), PathPoint(name: "b/eth0", node: "b", role: .uplink)]
        var followed = 0
        for trace in try Self.zeekTraces() {
            guard let reader = try? openCaptureFile(trace), reader.linkType == 1 else { continue }
            let file = Crafter.directory + "/path-\(UUID().uuidString).pcapng"
            defer { try? FileManager.default.removeItem(atPath: file) }
            let writer = try PcapngWriter(path: file, comment: nil, application: "capplan tests", interfaces: points.map {
                PcapngInterface(name: $0.name, comment: $0.pcapngComment, linkType: 1, snaplen: 262_144)
            })
            while let packet = try? reader.next() {
                for point in points.indices {
                    writer.write(interface: point, timestamp: packet.timestamp, bytes: packet.bytes, originalLength: packet.originalLength)
                }
            }
            writer.close()
            let one = runCLI("report", file, "--format", "json", "--threads", "1")
            let two = runCLI("report", file, "--format", "json", "--threads", "2")
            let name = (trace as NSString).lastPathComponent
            #expect(one.status == 0 && one.stdout == two.stdout, "\(name): the two-thread path report differs")
            if one.stdout.contains("\"last DATA\"") { followed += 1 }
        }
        #expect(followed >= 10, "\(followed) traces whose data segments the path followed")
    }

    /// Redacting on two threads (one redacts, one writes) writes the same bytes as one thread, and
    /// says the same: on every capture of the tcpdump corpus and on a benchmark-like capture.
    @Test func twoThreadsRedactExactlyWhatOneDoes() throws {
        let key = Crafter.directory + "/corpus-key-\(UUID().uuidString).hex"
        try String(repeating: "0123456789abcdef", count: 4).write(toFile: key, atomically: true, encoding: .utf8)
        let rules = Crafter.directory + "/corpus-keyed-rules-\(UUID().uuidString).yaml"
        try "redact:\n  payload: {truncate: 16}\n  addresses: pseudonymize\n  macs: pseudonymize\n  key: {file: \(key)}\n"
            .write(toFile: rules, atomically: true, encoding: .utf8)
        let synthetic = Crafter.directory + "/bench-\(UUID().uuidString).pcap"
        defer { try? FileManager.default.removeItem(atPath: synthetic) }
        try NetLab.run(["python3", Repository.path("scripts/bench/make-capture.py"), synthetic, "100000"], timeout: 120)
        var compared = 0
        for capture in try Self.captures() + [synthetic] {
            let outputs = (1...2).map { Crafter.directory + "/threads\($0)-\(UUID().uuidString)" + (capture.hasSuffix(".pcapng") ? ".pcapng" : ".pcap") }
            defer { outputs.forEach { try? FileManager.default.removeItem(atPath: $0) } }
            let one = runCLI("redact", capture, outputs[0], "--rules", rules, "--threads", "1", "--format", "json")
            let two = runCLI("redact", capture, outputs[1], "--rules", rules, "--threads", "2", "--format", "json")
            #expect(one.status == two.status, "\(capture)")
            #expect(one.stdout.replacingOccurrences(of: outputs[0], with: "") == two.stdout.replacingOccurrences(of: outputs[1], with: ""), "\(capture)")
            guard one.status != 1 else { continue }
            compared += 1
            #expect(FileManager.default.contents(atPath: outputs[0]) == FileManager.default.contents(atPath: outputs[1]),
                    "\(capture): the two-thread file differs")
        }
        #expect(compared > 500, "\(compared) redactions compared")
    }
}
