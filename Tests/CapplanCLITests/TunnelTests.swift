import CapplanTestSupport
import Foundation
import Testing

/// Connections carried in tunnels are analysed as the inner connection, the tunnel named:
/// against Zeek's own conn.log on its GRE, MPLS, PPPoE and PPP traces, and on real VXLAN, Geneve,
/// IP-in-IP and GRE traffic made here between two network namespaces, with tshark as the oracle.
/// Redaction rewrites the outer and the inner addresses alike.
@Suite(.serialized)
struct TunnelTests {
    static let zeek = Corpus.folder("zeek")

    /// Zeek's TCP and UDP connections of a conn.log: (proto, orig, resp, state).
    static func zeekConnections(_ name: String) throws -> [[String]] {
        let text = try #require(try? String(contentsOfFile: zeek + "/\(name).conn.log", encoding: .utf8), Corpus.missing("zeek"))
        let lines = text.split(separator: "\n").map(String.init)
        let fields = try #require(lines.first { $0.hasPrefix("#fields") }?.split(separator: "\t").dropFirst().map(String.init))
        func column(_ name: String) throws -> Int { try #require(fields.firstIndex(of: name)) }
        let (proto, origH, origP, respH, respP, state) = (try column("proto"), try column("id.orig_h"), try column("id.orig_p"),
                                                         try column("id.resp_h"), try column("id.resp_p"), try column("conn_state"))
        return lines.filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
            .filter { $0.count == fields.count && ($0[proto] == "tcp" || $0[proto] == "udp") }
            .map { [$0[proto], "\($0[origH]) \($0[origP])", "\($0[respH]) \($0[respP])", $0[state]] }
    }

    static func capplanConnections(_ path: String) throws -> [[String: Any]] {
        let result = runCLI("report", path, "--format", "json")
        try #require(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        return (json["connections"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
    }

    static func endpoint(_ value: Any?) -> String {
        let endpoint = value as? [String: Any]
        return "\(endpoint?["address"] as? String ?? "?") \(endpoint?["port"] as? Int ?? -1)"
    }

    @Test(arguments: [("tunnels-gre-sample", "pcap", "GRE"), ("mixed-vlan-mpls", "pcap", "MPLS"), ("pppoe", "pcap", "PPPoE"),
                      ("ppp-quic-interop-retry", "pcap", nil)] as [(String, String, String?)])
    func zeeksTunnelledConnectionsAreFoundInside(_ name: String, _ suffix: String, _ tunnel: String?) throws {
        let expected = try Self.zeekConnections(name)
        try #require(!expected.isEmpty)
        let found = try Self.capplanConnections(Self.zeek + "/\(name).\(suffix)")
        for row in expected {
            let match = found.first { record in
                record["proto"] as? String == row[0] && Self.endpoint(record["originator"]) == row[1] && Self.endpoint(record["responder"]) == row[2]
            }
            #expect(match?["state"] as? String == row[3], "\(name): Zeek's \(row) is \(match.map { "\($0["state"] ?? "")" } ?? "missing")")
        }
        if let tunnel { #expect(found.contains { $0["tunnel"] as? String == tunnel }, "\(name): no connection named \(tunnel)") }
    }

    /// A tunnel made here: the kind's name in capplan's records and the underlay's capture filter.
    struct Kind: Sendable, CustomTestStringConvertible {
        var name: String
        var tunnel: String
        var filter: String
        var testDescription: String { tunnel }
        var isUDP: Bool { filter.hasPrefix("udp") }
    }

    /// VXLAN is the kernel's own device. This kernel has no geneve, ipip or gre link type, so those
    /// ends are scripts/lab/tunnel.py: the kernel's TCP/IP stack on a TUN/TAP device, its packets
    /// carried by raw and UDP sockets, so the underlay holds the real encapsulation.
    static let kinds = [Kind(name: "vxlan", tunnel: "VXLAN", filter: "udp port 4789"),
                        Kind(name: "geneve", tunnel: "Geneve", filter: "udp port 6081"),
                        Kind(name: "ipip", tunnel: "IP-in-IP", filter: "ip proto 4"),
                        Kind(name: "gre", tunnel: "GRE", filter: "ip proto 47")]

    static var tunnelScript: String {
        URL(fileURLWithPath: NetLab.script).deletingLastPathComponent().appendingPathComponent("tunnel.py").path
    }

    /// Two namespaces joined by a veth (the underlay, 203.0.113.1 and .2) and a tunnel over it
    /// (198.51.100.1 and .2); a connection to a closed port of the inner address is refused.
    /// Captured on the underlay by tcpdump.
    static func tunnelCapture(_ kind: Kind) throws -> String {
        NetLab.sweepLeftoversOnce()
        let (a, b) = ("cpt-tn-a-\(getpid())", "cpt-tn-b-\(getpid())")
        var ends: [NetLab.Background] = []
        defer {
            for end in ends { end.stop() }
            for ns in [a, b] { _ = try? NetLab.run(["ip", "netns", "delete", ns], check: false) }
        }
        for ns in [a, b] { try NetLab.run(["ip", "netns", "add", ns]) }
        try NetLab.run(["ip", "link", "add", "ua", "netns", a, "type", "veth", "peer", "name", "ub", "netns", b])
        for (ns, device, under, inner, local, remote) in [(a, "ua", "203.0.113.1/24", "198.51.100.1/24", "203.0.113.1", "203.0.113.2"),
                                                          (b, "ub", "203.0.113.2/24", "198.51.100.2/24", "203.0.113.2", "203.0.113.1")] {
            try NetLab.run(["ip", "-n", ns, "addr", "add", under, "dev", device])
            try NetLab.run(["ip", "-n", ns, "link", "set", device, "up"])
            if kind.name == "vxlan" {
                try NetLab.run(["ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "42", "local", local, "remote", remote,
                                "dstport", "4789", "dev", device])
                try NetLab.run(["ip", "-n", ns, "addr", "add", inner, "dev", "vx0"])
                try NetLab.run(["ip", "-n", ns, "link", "set", "vx0", "up"])
            } else {
                ends.append(try NetLab.Background(["ip", "netns", "exec", ns, "python3", tunnelScript, kind.name, local, remote, inner, "20"],
                                                  ready: "ready"))
            }
        }
        let file = Crafter.directory + "/\(kind.name)-\(UUID().uuidString).pcap"
        try? FileManager.default.createDirectory(atPath: Crafter.directory, withIntermediateDirectories: true)
        let tcpdump = try NetLab.Background(["ip", "netns", "exec", a, "tcpdump", "-i", "ua", "--immediate-mode", "-U", "-w", file, kind.filter],
                                            ready: "listening")
        defer { tcpdump.stop() }
        let said = try NetLab.run(["ip", "netns", "exec", a, "python3", NetLab.script, "connect", "198.51.100.2", "8004", "2"], timeout: 10)
        #expect(said.contains("refused"), "the connection should be refused: \(said)")
        Thread.sleep(forTimeInterval: 0.5)
        tcpdump.stop()
        return file
    }

    @Test(arguments: kinds)
    func aRealTunnelledConnectionIsAnalysedInside(_ kind: Kind) throws {
        let capture = try Self.tunnelCapture(kind)
        // tshark decodes each of them (VXLAN on 4789, Geneve on 6081): the inner RST and who sent it.
        let oracle = try Tshark.fields(capture, filter: "tcp.flags.reset == 1", ["ip.src"])
        try #require(!oracle.isEmpty, "tcpdump caught no refusal: \((try? NetLab.run(["tcpdump", "-nr", capture])) ?? "")")
        #expect(oracle.first?.first == "203.0.113.2,198.51.100.2", "outer then inner: \(oracle)")
        let found = try Self.capplanConnections(capture)
        let refused = try #require(found.first { $0["state"] as? String == "REJ" }, "\(found)")
        #expect(Self.endpoint(refused["originator"]).hasPrefix("198.51.100.1 "))
        #expect(Self.endpoint(refused["responder"]) == "198.51.100.2 8004")
        #expect(refused["tunnel"] as? String == kind.tunnel)

        // Redacted: neither the underlay's addresses nor the pod network's survive; checksums stay right.
        let rules = Crafter.directory + "/\(kind.name)-rules-\(UUID().uuidString).yaml"
        try "redact:\n  payload: drop\n  addresses: pseudonymize\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let output = Crafter.directory + "/\(kind.name)-redacted-\(UUID().uuidString).pcap"
        let redacted = runCLI("redact", capture, output, "--rules", rules)
        #expect(redacted.status == 0, "\(redacted.stderr)")
        let rows = try Tshark.fields(output, filter: "tcp", ["ip.src", "ip.dst", "tcp.checksum.status", "ip.checksum.status", "udp.checksum"],
                                     options: ["tcp.check_checksum:TRUE", "ip.check_checksum:TRUE"])
        #expect(!rows.isEmpty)
        // Checksums that were right (the veths may leave some to the hardware) are right after.
        let before = try Tshark.fields(capture, filter: "tcp", ["tcp.checksum.status"], options: ["tcp.check_checksum:TRUE"]).map { $0[0] }
        #expect(before.contains("1"), "the capture has TCP checksums to keep right: \(before)")
        for (row, was) in zip(rows, before) {
            let addresses = (row[0] + "," + row[1]).split(separator: ",").map(String.init)
            #expect(addresses.count == 4 && addresses.allSatisfy { !$0.hasPrefix("203.0.113.") && !$0.hasPrefix("198.51.100.") }, "\(row)")
            #expect(row[2] == was, "the inner TCP checksum is as good as it was (\(was)): \(row)")
            #expect(row[3] == "1,1", "both IPv4 header checksums are right: \(row)")
            if kind.isUDP { #expect(row[4] == "0x0000", "the outer UDP checksum says none: \(row)") }
        }
        let again = try Self.capplanConnections(output)
        #expect(again.contains { $0["state"] as? String == "REJ" && $0["tunnel"] as? String == kind.tunnel })
    }
}
