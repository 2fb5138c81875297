import CapplanAnalyse
import CapplanPackets
import CapplanReport
import CapplanTestSupport
import Testing

/// Real packets between network namespaces, analysed by capplan and cross-checked
/// with tshark on the same files: on Ethernet and on `tcpdump -i any`.
@Suite(.serialized)
struct RealCaptureTests {
    static func captures() throws -> NetLab.Captures { try NetLab.shared.get() }

    static func summary(_ file: String) throws -> Summary { try CaptureReport.analyse(path: file) }

    static func file(_ which: String) throws -> String {
        let captures = try captures()
        switch which {
        case "ethernet": return captures.ethernet
        case "any": return captures.any
        default: return captures.pcapng
        }
    }

    static func connection(_ summary: Summary, port: UInt16, proto: String = "tcp") -> ConnectionRecord? {
        summary.connections.list.first { $0.proto == proto && $0.responder.port == port }
    }

    @Test(arguments: ["ethernet", "any", "pcapng"])
    func everyScenarioGetsItsZeekState(_ which: String) throws {
        let summary = try Self.summary(try Self.file(which))
        let expected: [(UInt16, String, ConnState)] = [
            (8001, NetLab.server, .SF), (8002, NetLab.server, .RSTR), (8003, NetLab.server, .RSTO),
            (8004, NetLab.server, .REJ), (443, NetLab.silent, .S0),
        ]
        for (port, address, state) in expected {
            let record = summary.connections.list.first { $0.responder.port == port && $0.responder.address.description == address }
            #expect(record?.state == state, "\(which): \(address):\(port) is \(String(describing: record?.state)), history \(record?.history ?? "-")")
            #expect(record?.originator.address.description == NetLab.client, "\(which): \(address):\(port) originator")
        }
        // On the router, copies from two interfaces interleave, so the exact letters are pinned on the client's capture.
        if which == "ethernet" {
            #expect(Self.connection(summary, port: 8001)?.history.hasPrefix("ShAD") == true, "\(Self.connection(summary, port: 8001)?.history ?? "-")")
        }
        #expect(Self.connection(summary, port: 8004)?.history == "Sr")
    }

    @Test(arguments: ["ethernet", "any", "pcapng"])
    func resetsNameTheirSenders(_ which: String) throws {
        let summary = try Self.summary(try Self.file(which))
        let serverReset = try #require(summary.resets.first { $0.event.sender.port == 8002 })
        #expect(serverReset.event.sender.address.description == NetLab.server)
        #expect(serverReset.event.receiver.address.description == NetLab.client)
        #expect(!serverReset.event.fromOriginator)
        let clientReset = try #require(summary.resets.first { $0.event.receiver.port == 8003 })
        #expect(clientReset.event.sender.address.description == NetLab.client)
        #expect(clientReset.event.fromOriginator)
        let idle = try #require(clientReset.event.idleSeconds)
        #expect(abs(idle - NetLab.idleSeconds) < 0.5, "idle \(idle)")
        #expect(clientReset.event.bytesFromSender == 4)  // "ping"
        #expect(clientReset.event.bytesFromReceiver == 2)  // "ok"
        #expect(clientReset.interpretation.contains("idle timeout"))
        #expect(summary.findings.contains { $0.kind == "reset" && $0.text.contains("\(NetLab.client)") && $0.text.contains("idle") })
        #expect(summary.findings.contains { $0.kind == "refused" && $0.text.contains("\(NetLab.server):8004") })
    }

    @Test(arguments: ["ethernet", "any", "pcapng"])
    func unansweredSynsICMPAndDNSAreFound(_ which: String) throws {
        let summary = try Self.summary(try Self.file(which))
        let unanswered = try #require(summary.unansweredSyns.first { $0.destination.address.description == NetLab.silent })
        #expect(unanswered.synRetries >= 1, "Linux retries a SYN after 1 s; the client waited 3.5 s")
        #expect(summary.findings.contains { $0.kind == "unanswered-syn" && $0.text.contains("\(NetLab.silent):443") })
        #expect(summary.icmpErrors.contains { $0.description == "host unreachable" && $0.reporter.description == NetLab.router
            && $0.quotedDestination.description == "\(NetLab.unreachable):443" })
        #expect(summary.icmpErrors.count == 2)
        #expect(summary.icmpErrors.contains { $0.description == "port unreachable" && $0.reporter.description == NetLab.server
            && $0.quotedDestination.port == 9 && $0.quotedProtocol == 17 })
        let failure = try #require(summary.dnsFailures.first)
        #expect(summary.dnsFailures.count == 1, "\(summary.dnsFailures)")
        #expect(failure.name == "missing.example.test" && failure.outcome == "NXDOMAIN" && failure.type == "A")
        #expect(failure.server.description == "\(NetLab.server):53")
    }

    /// tshark agrees on the number of TCP conversations and on every reset: same packet, same sender.
    @Test(arguments: ["ethernet", "any"])
    func tsharkAgreesOnConversationsAndResets(_ which: String) throws {
        let captures = try Self.captures()
        let file = which == "ethernet" ? captures.ethernet : captures.any
        let summary = try Self.summary(file)
        let streams = Set(try Tshark.fields(file, filter: "tcp", ["tcp.stream"]).map { $0[0] })
        #expect(summary.connections.tcp == streams.count)

        // With -i any, tshark lists each RST once per interface it crossed; capplan counts the first copy.
        var theirs: [String: (frame: Int, source: String)] = [:]
        for row in try Tshark.fields(file, filter: "tcp.flags.reset == 1", ["frame.number", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.seq_raw"]) {
            let key = row[1...].joined(separator: " ")
            if theirs[key] == nil, let frame = Int(row[0]) { theirs[key] = (frame, "\(row[1]):\(row[2])") }
        }
        let ours = summary.resets.map { "\($0.event.packet) \($0.event.sender)" }.sorted()
        #expect(ours == theirs.values.map { "\($0.frame) \($0.source)" }.sorted())
    }

    /// Expert counts where Wireshark's definitions and capplan's match. On `-i any` through a
    /// router, tshark sees every packet twice and calls the second copy a retransmission or
    /// duplicate ACK; capplan drops such copies, so only the Ethernet file is compared there.
    @Test func tsharkAgreesOnExpertCounts() throws {
        let file = try Self.captures().ethernet
        let expert = try Self.summary(file).expert
        #expect(expert.retransmissions == (try Tshark.count(file, filter: "tcp.analysis.retransmission")))
        #expect(expert.zeroWindows == (try Tshark.count(file, filter: "tcp.analysis.zero_window")))
        #expect(expert.keepAlives == (try Tshark.count(file, filter: "tcp.analysis.keep_alive")))
        #expect(expert.duplicateAcks == (try Tshark.count(file, filter: "tcp.analysis.duplicate_ack")))
        #expect(expert.segmentsNotCaptured == (try Tshark.count(file, filter: "tcp.analysis.lost_segment")))
    }

    /// The router's captures hold each packet twice (in and out): `-i any` and a pcapng of both
    /// interfaces. Counted once, they agree with the client's Ethernet capture of the same traffic.
    @Test(arguments: ["any", "pcapng"])
    func routerCapturesCountEachPacketOnce(_ which: String) throws {
        let router = try Self.summary(try Self.file(which))
        let ethernet = try Self.summary(try Self.captures().ethernet)
        #expect(router.capture.linkType == (which == "any" ? "Linux cooked v2" : "Ethernet"))
        #expect(router.capture.duplicateCopiesDropped > 0)
        #expect(router.expert == ethernet.expert, "copies on the second interface are not retransmissions")
        // TCP and UDP: the router's own ICMPv6 (neighbour discovery on its far side) is traffic the client never sees.
        func states(_ summary: Summary) -> [String: Int] {
            Dictionary(grouping: summary.connections.list.filter { $0.proto != "icmp" }, by: { $0.state.rawValue }).mapValues(\.count)
        }
        #expect(states(router) == states(ethernet))
        #expect(router.connections.tcp == ethernet.connections.tcp && router.connections.udp == ethernet.connections.udp)
    }
}
