import CapplanTestSupport
import Foundation
import Testing

struct ReportCommandTests {
    /// A connection the server resets after 30 s idle, and one that is refused.
    static func capture() throws -> String { try crafted().write() }

    static func crafted() -> Crafter {
        var crafter = Crafter()
        let c = Crafter.client, s = Crafter.server
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: ACK | PSH, seq: 1, ack: 1, payload: 50))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: ACK, seq: 1, ack: 51))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: RST | ACK, seq: 1, ack: 51), after: 30)
        crafter.tcp(Crafter.TCP(from: (ip: c.ip, port: 40001), to: (ip: s.ip, port: 5432), flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: (ip: s.ip, port: 5432), to: (ip: c.ip, port: 40001), flags: RST | ACK, seq: 0, ack: 1))
        return crafter
    }

    static func labels(_ text: String) throws -> String {
        let path = Crafter.directory + "/labels-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A connection to the far end, as one point saw it: `me` is the pod's address on the veth and
    /// the node's on the uplink (masquerade); the uplink sees outbound packets `shift` ns after the
    /// veth, inbound ones before it. The far end's RST comes in last.
    static func play(_ crafter: inout Crafter, me: (ip: String, port: UInt16), ttl: UInt8, shift: Int64) {
        let far = Crafter.server, base = crafter.clock
        let segments: [(Double, Crafter.TCP)] = [
            (0.01, Crafter.TCP(from: me, to: far, flags: SYN, seq: 0)),
            (0.02, Crafter.TCP(from: far, to: me, flags: SYN | ACK, seq: 0, ack: 1, ttl: ttl)),
            (0.03, Crafter.TCP(from: me, to: far, flags: ACK | PSH, seq: 1, ack: 1, payload: 50)),
            (5.03, Crafter.TCP(from: far, to: me, flags: RST, seq: 1, ttl: ttl)),
        ]
        for (time, segment) in segments {
            crafter.clock = base + Int64(time * 1e9) + (segment.from == me ? shift : -shift)
            crafter.tcp(segment, after: 0)
        }
    }

    /// Captures of two points of a path (the pod's veth, its node's uplink where the pod is
    /// masqueraded) analysed as one: one connection in two views, the RST from outside.
    @Test func pointsOfAPathAreAnalysedAsOne() throws {
        var veth = Crafter(), uplink = Crafter()
        Self.play(&veth, me: (ip: "10.244.0.5", port: 40000), ttl: 63, shift: 0)
        Self.play(&uplink, me: (ip: "192.0.2.1", port: 61000), ttl: 64, shift: 100_000)
        let result = runCLI("report", "--format", "json",
                            "--point", "file=\(try veth.write()),node=a,interface=veth1,pod=myapp/web,address=10.244.0.5",
                            "--point", "file=\(try uplink.write()),node=a,interface=eth0")
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let connection = try #require(((summary["path"] as? [String: Any])?["connections"] as? [[String: Any]])?.first)
        #expect(connection["views"] as? [String] == ["a/veth1: 10.244.0.5:40000 > 203.0.113.20:443", "a/eth0: 192.0.2.1:61000 > 203.0.113.20:443"])
        let ladder = try #require(connection["ladder"] as? [[String: Any]])
        #expect(ladder.compactMap { $0["packet"] as? String } == ["SYN", "SYN-ACK", "last DATA", "RST"])
        let reset = try #require(ladder.last?["sender"] as? [String: String])
        #expect(reset == ["kind": "external", "name": "a", "firstSeenAt": "a/eth0"])
        let first = try #require((summary["findings"] as? [[String: Any]])?.first?["text"] as? String)
        #expect(first.hasPrefix("RST came from outside node a: it entered on a/eth0"), "\(first)")
    }

    @Test func aPointThatIsNotWholeSaysWhatItNeeds() {
        let result = runCLI("report", "--point", "file=veth.pcap,node=a")
        #expect(result.status == 2)
        #expect(result.stderr.contains("file=, node= and interface= are needed"), "\(result.stderr)")
        #expect(runCLI("report", "capture.pcap", "--point", "file=a.pcap,node=a,interface=eth0").stderr.contains("not both"))
    }

    @Test func printsFindingsFirstWithLabels() throws {
        let labels = try Self.labels("""
            labels:
              - {address: 198.51.100.10, name: myapp/web-1, kind: pod}
              - {address: 203.0.113.0/24, name: lb-frontend, kind: loadbalancer}
            """)
        let result = runCLI("report", try Self.capture(), "--labels", labels)
        #expect(result.status == 0, "\(result.stderr)")
        let findings = result.stdout.components(separatedBy: "## Findings")[1]
        #expect(findings.contains("1. **reset** 203.0.113.20:443 (load balancer lb-frontend) reset its connection to 198.51.100.10:40000 (pod myapp/web-1)"))
        #expect(findings.contains("after 30.00 s idle"))
        #expect(findings.contains("the load balancer dropped the idle connection, typical of an idle timeout"))
        #expect(findings.contains("2. **refused** 1 connection to 203.0.113.20:5432 (load balancer lb-frontend) from 198.51.100.10 (pod myapp/web-1) was refused"))
    }

    /// `capplan report -` reads the capture from a pipe, as `tcpdump -w - | capplan report -` gives it.
    @Test func aCaptureFromStandardInputReportsAsTheFile() throws {
        let file = try Self.capture()
        let process = Process()
        process.executableURL = try builtExecutable()
        process.arguments = ["report", "-", "--format", "json"]
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let piped = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let direct = runCLI("report", file, "--format", "json")
        #expect(piped.replacingOccurrences(of: "\"file\" : \"-\"", with: "\"file\" : \"\(file)\"") == direct.stdout)
        #expect(piped.contains("\"RSTR\" : 1"), "\(piped)")
    }

    /// The benchmarks' per-stage figures: a line per stage, each a share of the one-thread total.
    @Test func stagesSayWhereTheTimeGoes() throws {
        let result = runCLI("report", try Self.capture(), "--stages")
        #expect(result.status == 0, "\(result.stderr)")
        let names = result.stdout.split(separator: "\n").dropFirst().map { String($0.prefix(18)).trimmingCharacters(in: .whitespaces) }
        #expect(names == ["read", "decode", "flows", "TCP analysis", "summary", "total, one thread"], "\(result.stdout)")
        #expect(result.stdout.contains("100%"))
    }

    @Test func writesSummaryFilesThatDecode() throws {
        let out = Crafter.directory + "/run-\(UUID().uuidString)"
        let result = runCLI("report", try Self.capture(), "--out", out, "--format", "json")
        #expect(result.status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["report.html", "summary.json", "summary.md"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any])
        #expect(json["schemaVersion"] as? Int == 2)
        // Addresses are text wherever they appear.
        let reset = try #require((json["resets"] as? [[String: Any]])?.first?["event"] as? [String: Any])
        #expect((reset["sender"] as? [String: Any])?["address"] as? String == Crafter.server.ip, "\(reset)")
        #expect((json["topTalkers"] as? [[String: Any]])?.allSatisfy { $0["address"] is String } == true)
        #expect((json["connections"] as? [String: Any])?["byState"] as? [String: Int] == ["RSTR": 1, "REJ": 1])
        #expect((json["counts"] as? [String: Int])?["resets"] == 2)
        #expect(result.stdout == (try String(contentsOfFile: out + "/summary.json", encoding: .utf8)))
    }

    @Test func labelProblemsPointAtTheLine() throws {
        let labels = try Self.labels("labels:\n  - {address: 10.0.0.0/33, kind: pod}\n  - {address: 10.1.0.1, kind: lodbalancer}\n  - {adress: 10.2.0.1}\n")
        let result = runCLI("report", try Self.capture(), "--labels", labels)
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(labels):2:24: error: labels[0].address: \"33\" is not a prefix length"))
        #expect(result.stderr.contains("\(labels):3:31: error: labels[1].kind: \"lodbalancer\" is not one of"))
        #expect(result.stderr.contains("did you mean 'loadbalancer'?"))
        #expect(result.stderr.contains("\(labels):4:6: error: labels[2]: unknown key 'adress'; did you mean 'address'?"))
        #expect(result.stdout.isEmpty)
    }

    /// The recorded runbook failure in examples/captures, as `make demo` shows it.
    @Test func exampleCaptureReportMatchesGolden() throws {
        let result = runCLI("report", Repository.path("examples/captures/lb-rst-idle.pcap"),
                            "--labels", Repository.path("examples/captures/lb-rst-idle.labels.yaml"))
        #expect(result.status == 0)
        try expectGolden(result.stdout.replacingOccurrences(of: Repository.root.path + "/", with: ""),
                         "Tests/CapplanCLITests/Golden/report-lb-rst-idle.md")
    }

    /// A run stopped while the end of its capture was set aside to be commented: the file holds
    /// the blocks before the cut, `capture.pcapng.tail-at-OFFSET` the rest. `capplan cleanup` of
    /// the run directory, or `capplan report` of the file, puts the rest back and says so.
    @Test func aStoppedCommentSpliceIsPutBackByCleanupOrReport() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: try Self.crafted().writePcapng(interfaces: ["node-a/veth1"])))
        // The offset of the fourth packet's block: blocks are type, length, ..., the length again.
        var cut = 0, packets = 0
        while packets < 3, cut + 8 <= whole.count {
            let type = whole[cut..<cut + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            if type == 6 { packets += 1 }
            cut += Int(whole[cut + 4..<cut + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        }
        try #require(packets == 3 && cut < whole.count)
        // The report of the whole file, under the same name.
        let reference = Crafter.directory + "/whole-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: reference, withIntermediateDirectories: true)
        try whole.write(to: URL(fileURLWithPath: reference + "/capture.pcapng"))
        let expected = runCLI("report", reference + "/capture.pcapng", "--format", "json")
        for command in ["cleanup", "report"] {
            let directory = Crafter.directory + "/stopped-run-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(#"{"version": 2, "entries": []}"#.utf8).write(to: URL(fileURLWithPath: directory + "/journal.json"))
            let path = directory + "/capture.pcapng"
            try whole.prefix(cut).write(to: URL(fileURLWithPath: path))
            try whole.suffix(from: cut).write(to: URL(fileURLWithPath: path + ".tail-at-\(cut)"))
            let result = command == "cleanup" ? runCLI("cleanup", directory) : runCLI("report", path, "--format", "json")
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect((result.stdout + result.stderr).contains(command == "cleanup" ? "back in place" : "put back the packets"), "\(command)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == whole, "\(command)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["capture.pcapng", "journal.json"], "\(command)")
            if command == "report" { #expect(result.stdout.replacingOccurrences(of: directory, with: reference) == expected.stdout) }
        }
    }

    @Test func unreadableCaptureIsAClearError() throws {
        let notPcap = try Self.labels("this is not a capture\n")
        let result = runCLI("report", notPcap)
        #expect(result.status == 1)
        #expect(result.stderr.contains("capplan: cannot read the capture: \(notPcap): unknown file format"))
        #expect(runCLI("report").status == 2)
        // A missing file: libpcap's message names it, and the path is not said twice.
        let missing = notPcap + ".missing"
        let absent = runCLI("report", missing)
        #expect(absent.status == 1)
        #expect(absent.stderr == "capplan: cannot read the capture: \(missing): No such file or directory (pcap_open_offline)\n")
    }
}
