import CapplanTestSupport
import Foundation
import Testing

struct ReportCommandTests {
    /// A connection the server resets after 30 s idle, and one that is refused.
    static func capture() throws -> String {
        var crafter = Crafter()
        let c = Crafter.client, s = Crafter.server
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: ACK | PSH, seq: 1, ack: 1, payload: 50))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: ACK, seq: 1, ack: 51))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: RST | ACK, seq: 1, ack: 51), after: 30)
        crafter.tcp(Crafter.TCP(from: (ip: c.ip, port: 40001), to: (ip: s.ip, port: 5432), flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: (ip: s.ip, port: 5432), to: (ip: c.ip, port: 40001), flags: RST | ACK, seq: 0, ack: 1))
        return try crafter.write()
    }

    static func labels(_ text: String) throws -> String {
        let path = Crafter.directory + "/labels-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
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

    @Test func writesSummaryFilesThatDecode() throws {
        let out = Crafter.directory + "/run-\(UUID().uuidString)"
        let result = runCLI("report", try Self.capture(), "--out", out, "--format", "json")
        #expect(result.status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["summary.json", "summary.md"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any])
        #expect(json["schemaVersion"] as? Int == 1)
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

    @Test func unreadableCaptureIsAClearError() throws {
        let notPcap = try Self.labels("this is not a capture\n")
        let result = runCLI("report", notPcap)
        #expect(result.status == 1)
        #expect(result.stderr.contains("capplan: cannot read the capture: \(notPcap): unknown file format"))
        #expect(runCLI("report").status == 2)
    }
}
