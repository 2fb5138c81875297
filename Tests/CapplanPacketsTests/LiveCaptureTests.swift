import CapplanPackets
import CapplanTestSupport
import Foundation
import Testing

/// Live capture with libpcap inside a network namespace the test makes, checked against
/// tcpdump capturing the same interface at the same time.
@Suite(.serialized)
struct LiveCaptureTests {
    /// Two namespaces joined by a veth pair on 198.51.100.0/24; removed at the end.
    struct Pair {
        let a: String, b: String, link: String
        init() throws {
            NetLab.sweepLeftoversOnce()
            let prefix = "clc\(getpid() % 100_000)"
            (a, b, link) = ("\(prefix)-a", "\(prefix)-b", "\(prefix)-va")
            teardown()
            try NetLab.run(["ip", "netns", "add", a])
            try NetLab.run(["ip", "netns", "add", b])
            try NetLab.run(["ip", "link", "add", link, "netns", a, "type", "veth", "peer", "name", "\(prefix)-vb", "netns", b])
            try NetLab.run(["ip", "-n", a, "addr", "add", "198.51.100.1/24", "dev", link])
            try NetLab.run(["ip", "-n", b, "addr", "add", "198.51.100.2/24", "dev", "\(prefix)-vb"])
            for (ns, device) in [(a, link), (b, "\(prefix)-vb"), (a, "lo"), (b, "lo")] {
                try NetLab.run(["ip", "-n", ns, "link", "set", device, "up"])
            }
        }

        func teardown() {
            for ns in [a, b] { _ = try? NetLab.run(["ip", "netns", "delete", ns], check: false) }
        }

        /// `count` UDP datagrams from namespace a to each address, 2 ms apart (bounded: about a second).
        func send(_ count: Int, to addresses: [String]) throws {
            try NetLab.run(["ip", "netns", "exec", a, "python3", NetLab.script, "udp", String(count)] + addresses, timeout: 30)
        }
    }

    @Test func capturesWhatTcpdumpCaptures() throws {
        guard getuid() == 0 else { throw NetLab.LabError(description: "network namespace tests need root") }
        let pair = try Pair()
        defer { pair.teardown() }
        let tcpdumpFile = Crafter.directory + "/tcpdump-\(UUID().uuidString).pcap"
        let tcpdump = try NetLab.Background(["ip", "netns", "exec", pair.a, "tcpdump", "-i", pair.link, "--immediate-mode", "-U", "-n",
                                             "-w", tcpdumpFile, "udp port 9999"], ready: "listening on")
        let capture = try LiveCapture(interfaces: [pair.link], filter: "udp port 9999", snaplen: 262_144, namespace: pair.a)
        let sender = Thread { try? pair.send(200, to: ["198.51.100.2"]) }
        let deadline = Date().addingTimeInterval(8)
        var ours = 0
        var last = Timestamp(nanoseconds: 0)
        var ordered = true
        sender.start()
        try capture.run(shouldStop: { ours >= 200 || Date() > deadline }) { packet in
            ours += 1
            ordered = ordered && packet.timestamp >= last
            last = packet.timestamp
        }
        Thread.sleep(forTimeInterval: 0.3)
        tcpdump.stop()
        #expect(ours == 200)
        #expect(ordered)
        #expect(try Tshark.count(tcpdumpFile, filter: "udp.port == 9999") == ours)
        #expect(capture.statistics().first?.droppedByKernel == 0)
    }

    @Test func severalInterfacesMergeInTimeOrder() throws {
        guard getuid() == 0 else { throw NetLab.LabError(description: "network namespace tests need root") }
        let pair = try Pair()
        defer { pair.teardown() }
        let capture = try LiveCapture(interfaces: [pair.link, "lo"], filter: "udp port 9999", snaplen: 262_144, namespace: pair.a)
        let deadline = Date().addingTimeInterval(8)
        var byDestination: [String: Int] = [:]
        var last = Timestamp(nanoseconds: 0)
        var ordered = true
        let decoder = try PacketDecoder(linkType: capture.linkType)
        let sender = Thread { try? pair.send(100, to: ["198.51.100.2", "127.0.0.1"]) }
        sender.start()
        try capture.run(shouldStop: { byDestination.values.reduce(0, +) >= 200 || Date() > deadline }) { packet in
            byDestination[decoder.decode(packet.bytes).destination.description, default: 0] += 1
            ordered = ordered && packet.timestamp >= last
            last = packet.timestamp
        }
        #expect(byDestination == ["198.51.100.2": 100, "127.0.0.1": 100])
        #expect(ordered, "merged in timestamp order")
        #expect(capture.statistics().map(\.interface) == [pair.link, "lo"])
    }

    @Test func badInterfacesAndFiltersAreClearErrors() throws {
        guard getuid() == 0 else { throw NetLab.LabError(description: "network namespace tests need root") }
        let pair = try Pair()
        defer { pair.teardown() }
        do {
            _ = try LiveCapture(interfaces: ["nosuchif0"], filter: "", snaplen: 65535, namespace: pair.a)
            Issue.record("opened an interface that does not exist")
        } catch {
            #expect(error.description.contains("nosuchif0"))
        }
        #expect(throws: PcapError.self) { try LiveCapture(interfaces: [pair.link], filter: "tcp prot 1", snaplen: 65535, namespace: pair.a) }
        #expect(throws: PcapError.self) { try LiveCapture(interfaces: ["lo"], filter: "", snaplen: 65535, namespace: "no-such-namespace") }
    }

    /// A namespace that a test run which is gone left behind is removed, and what still runs in
    /// it is killed; one that a running process could own is kept (`NetLab.sweepLeftovers`).
    @Test func namespacesOfATestRunThatIsGoneAreSwept() throws {
        guard getuid() == 0 else { throw NetLab.LabError(description: "network namespace tests need root") }
        // A residue no process has, half the range away from this one's: pids are handed out in
        // turn, so the next processes started get residues near it, not this one.
        let residues = Set(NetLab.runningPids().map { $0 % 100_000 }), start = Int(getpid()) % 100_000 + 50_000
        let gone = try #require((0..<100_000).lazy.map { (start + $0) % 100_000 }.first { $0 > 0 && !residues.contains($0) })
        let (leftover, kept) = ("cpt\(gone)-z", "cpt\(getpid() % 100_000)-z")
        let sleeper = Process()
        defer {
            if sleeper.isRunning { kill(sleeper.processIdentifier, SIGKILL) }
            for ns in [leftover, kept] { _ = try? NetLab.run(["ip", "netns", "delete", ns], check: false) }
        }
        for ns in [leftover, kept] { try NetLab.run(["ip", "netns", "add", ns]) }
        sleeper.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sleeper.arguments = ["ip", "netns", "exec", leftover, "sleep", "30"]
        try sleeper.run()
        let started = Date().addingTimeInterval(5)
        while try NetLab.run(["ip", "netns", "pids", leftover]).isEmpty, Date() < started { Thread.sleep(forTimeInterval: 0.02) }

        let swept = NetLab.sweepLeftovers()
        #expect(swept.contains(leftover) && !swept.contains(kept), "\(swept)")
        #expect(try !NetLab.namespaces().contains(leftover) && NetLab.namespaces().contains(kept))
        let killed = Date().addingTimeInterval(5)
        while sleeper.isRunning, Date() < killed { Thread.sleep(forTimeInterval: 0.02) }
        #expect(!sleeper.isRunning, "what ran in the namespace is killed")
    }
}
