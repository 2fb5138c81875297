import CapplanTestSupport
import Foundation
import Testing

/// `capplan apply` on the local lab (scripts/lab/local-lab), run as the real binary, the way
/// a user runs it: every example plan ends in its verdict; a wrong expectation fails the run;
/// SIGINT or SIGTERM at any moment leaves a readable capture, a summary and nothing running;
/// a SIGKILLed run is cleaned up by `capplan cleanup`.
@Suite(.serialized)
struct ApplyTests {
    /// The lab is brought up once for the suite and taken down when the test process exits.
    static let lab: Result<Void, NetLab.LabError> = {
        guard getuid() == 0 else { return .failure(NetLab.LabError(description: "the local lab needs root (CI runs as root)")) }
        do throws(NetLab.LabError) {
            try NetLab.run([Repository.path("scripts/lab/local-lab"), "up"], timeout: 30)
            atexit { _ = try? NetLab.run([Repository.path("scripts/lab/local-lab"), "down"], timeout: 30, check: false) }
            return .success(())
        } catch {
            return .failure(error)
        }
    }()

    static let labNamespaces = ["cpl-app", "cpl-client", "cpl-node", "cpl-ext"]

    /// A copy of an example plan whose runs go to a fresh temporary directory, with `change` applied to its text.
    static func plan(_ name: String, change: (String) -> String = { $0 }) throws -> (path: String, runs: String) {
        try lab.get()
        return try planCopy("examples/local/\(name).yaml", change: change)
    }

    static func runDirectory(_ runs: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: runs)
        return runs + "/" + (try #require(names.first))
    }

    /// Processes still running in the lab's namespaces (the lab has none of its own).
    static func leftovers() throws -> [String] {
        try labNamespaces.flatMap { ns in
            try NetLab.run(["ip", "netns", "pids", ns]).split(separator: "\n").map { "\(ns): \($0)" }
        }
    }

    /// Every example plan: apply performs exactly the steps plan shows, and ends in the plan's verdict.
    @Test(arguments: ["idle-reset", "lb-idle-reset", "refused", "node-reject", "syn-dropped", "icmp-unreachable", "dns-failure"])
    func examplePlanEndsInItsVerdict(_ name: String) throws {
        let (path, _) = try Self.plan(name)
        let (result, directory) = try expectApplyPerformsThePlan(path)
        #expect(result.status == 0, "\(result.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        #expect(files.isSuperset(of: ["capture.pcapng", "summary.md", "summary.json", "run.json", "steps.log", "journal.json"]))
        let run = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/run.json"))) as? [String: Any])
        #expect((run["verdict"] as? [String: Any]).flatMap { ($0["results"] as? [[String: Any]])?.allSatisfy { $0["held"] as? Bool == true } } == true)
        // The CPU split where the capture stopped: the capture's share, and the report's after it.
        let cpu = try #require(run["cpuSeconds"] as? [String: Double], "run.json has no cpuSeconds")
        #expect((cpu["capture"] ?? 0) > 0 && (cpu["report"] ?? -1) >= 0, "\(cpu)")
        #expect(try Tshark.count(directory + "/capture.pcapng", filter: "frame") > 0)
        #expect(try Self.leftovers().isEmpty)
    }

    @Test func thePodIsNamedAsTheSenderOfTheReset() throws {
        let (path, runs) = try Self.plan("idle-reset")
        let result = try runBinary(["apply", path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("198.51.100.10:"), "\(result.stdout)")
        #expect(result.stdout.contains("(pod cpl-app) reset its connection to 203.0.113.12:443"))
        #expect(result.stdout.contains("the pod side gave up on an idle connection"))
        #expect(result.stdout.contains("## Verdict: PASS"))
        let run = try String(contentsOfFile: try Self.runDirectory(runs) + "/run.json", encoding: .utf8)
        #expect(run.contains("cpl-app: eth0 iflink"), "how the veth was found is recorded")
    }

    /// Who sent the reset, as capplan's path ladder says, against what dumpcap saw on each of the
    /// two points on its own: the node's firewall's RST never crosses the uplink; the endpoint's
    /// crosses it first; the pod's leaves its veth first.
    @Test(arguments: [("node-reject", "node", false), ("refused", "external", true), ("idle-reset", "pod", true)])
    func theResetsSenderIsWhatEachPointSaw(_ name: String, _ sender: String, _ crossedUplink: Bool) throws {
        let (path, runs) = try Self.plan(name)
        let veth = try Self.hostVeth(of: "cpl-app")
        let oracle = NSTemporaryDirectory() + "capplan-oracle-\(name)-\(getpid()).pcapng"
        defer { try? FileManager.default.removeItem(atPath: oracle) }
        let dumpcap = Process()
        dumpcap.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        // It stops by itself (a child of this process may not see signals: they can arrive blocked).
        dumpcap.arguments = ["netns", "exec", "cpl-node", "dumpcap", "-q", "-a", "duration:14", "-i", veth, "-i", "ext0", "-f", "tcp", "-w", oracle]
        dumpcap.standardError = FileHandle.nullDevice
        try dumpcap.run()
        defer { if dumpcap.isRunning { dumpcap.terminate() } }
        Thread.sleep(forTimeInterval: 2)  // dumpcap has opened both interfaces
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(waitForExit(dumpcap, timeout: 20))
        #expect(result.status == 0, "\(result.stderr)")

        let seenBy = Set(try Tshark.fields(oracle, filter: "tcp.flags.reset == 1", ["frame.interface_name"]).compactMap(\.first))
        #expect(seenBy == (crossedUplink ? [veth, "ext0"] : [veth]), "dumpcap saw the RST on \(seenBy)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try Self.runDirectory(runs) + "/summary.json")))
                                   as? [String: Any])
        let ladders = ((summary["path"] as? [String: Any])?["connections"] as? [[String: Any]] ?? []).flatMap { $0["ladder"] as? [[String: Any]] ?? [] }
        let reset = try #require(ladders.first { ($0["packet"] as? String)?.hasPrefix("RST") == true })
        #expect((reset["sender"] as? [String: Any])?["kind"] as? String == sender)
        let points = Set((reset["seen"] as? [[String: Any]] ?? []).compactMap { ($0["point"] as? String)?.replacingOccurrences(of: "cpl-node/", with: "") })
        #expect(points == seenBy, "capplan's points that saw the RST are dumpcap's")
    }

    /// The node's state is kept beside the capture and redacted like it: with addresses
    /// pseudonymized, the firewall rule names the endpoint by the same pseudonym as the packets.
    @Test func nodeStateIsRedactedLikeThePackets() throws {
        let (path, runs) = try Self.plan("node-reject") { $0.replacingOccurrences(of: "redact: {payload: drop}", with: "redact: {payload: drop, addresses: pseudonymize}") }
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let directory = try Self.runDirectory(runs)
        let rules = try String(contentsOfFile: directory + "/node-state/cpl-node/iptables-after.txt", encoding: .utf8)
        let endpoint = try #require(try Tshark.fields(directory + "/capture.pcapng", filter: "tcp.flags.syn == 1", ["ip.dst"]).first?.first)
        #expect(endpoint != "203.0.113.12", "the capture's addresses are pseudonymized")
        #expect(!rules.contains("203.0.113.12"), "no original address survives in the node's rules")
        #expect(rules.contains("-A FORWARD -d \(endpoint)/32 -p tcp -m tcp --dport 9443 -j REJECT"), "\(rules)")
        let summary = try String(contentsOfFile: directory + "/summary.md", encoding: .utf8)
        #expect(summary.contains("`-A FORWARD -d \(endpoint)/32 -p tcp -m tcp --dport 9443 -j REJECT --reject-with tcp-reset` counted +1"), "\(summary)")
    }

    /// apply's pcapng, read by Wireshark and tcpdump: an interface per capture point named
    /// `node/interface`, the pod's name for its address, the direction of each packet on the pod's
    /// veth, and the finding's words on the RST; `capplan report` reads the file back to the same
    /// connections and path findings (the rule counters live in node-state/, not in the file).
    @Test func thePcapngTellsWiresharkWhereEachPacketWas() throws {
        let (path, runs) = try Self.plan("node-reject")
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let directory = try Self.runDirectory(runs), capture = directory + "/capture.pcapng"
        let veth = "cpl-node/" + (try Self.hostVeth(of: "cpl-app"))
        let rows = try Tshark.fields(capture, filter: "tcp", ["frame.interface_name", "tcp.flags.str", "frame.packet_flags_direction", "frame.comment"])
        let syn = try #require(rows.first { $0[1].contains("S") }), rst = try #require(rows.first { $0[1].contains("R") })
        #expect(syn[0] == veth && syn[2] == "0x00000001", "the pod's SYN enters the host at its veth: \(syn)")
        #expect(rst[0] == veth && rst[2] == "0x00000002", "\(rst)")
        #expect(rst[3].hasPrefix("capplan: RST-ACK made by node cpl-node"), "\(rst)")
        let interfaces = try NetLab.run(["capinfos", "-I", capture], keepStandardError: false)
        #expect(interfaces.contains("Name = cpl-node/ext0") && interfaces.contains("Description = veth of pod cpl-app"), "\(interfaces)")
        #expect(try NetLab.run(["capinfos", capture], keepStandardError: false).contains("of plan lab-node-reject (sha256 "))
        let named = try Tshark.fields(capture, filter: "tcp.flags.syn == 1", ["ip.src_host"], nameResolution: true)
        #expect(named.first == ["cpl-app.pod"])
        #expect(try NetLab.run(["tcpdump", "-nr", capture], keepStandardError: false).split(separator: "\n").count == rows.count)

        let again = try runBinary(["report", capture, "--format", "json"])
        #expect(again.status == 0, "\(again.stderr)")
        let applied = try Self.json(directory + "/summary.json"), reread = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(NSDictionary(dictionary: applied["connections"] as? [String: Any] ?? [:]).isEqual(to: reread["connections"] as? [String: Any] ?? ["": 0]))
        func texts(_ summary: [String: Any]) -> [String] {
            (summary["findings"] as? [[String: Any]] ?? []).compactMap { ($0["text"] as? String)?.components(separatedBy: "; during the run").first }
        }
        #expect(texts(applied) == texts(reread) && !texts(applied).isEmpty, "\(texts(applied)) vs \(texts(reread))")
    }

    /// With addresses pseudonymized and names dropped, no original address and no name is anywhere in the file.
    @Test func aRedactedPcapngHoldsNoAddressAndNoName() throws {
        let (path, runs) = try Self.plan("node-reject") {
            $0.replacingOccurrences(of: "redact: {payload: drop}", with: "redact: {payload: drop, addresses: pseudonymize, names: drop}")
        }
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let capture = try Self.runDirectory(runs) + "/capture.pcapng"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: capture)))
        for address in ["198.51.100.10", "203.0.113.12"] {
            let binary = address.split(separator: ".").compactMap { UInt8($0) }
            #expect(!Self.contains(bytes, binary), "\(address) in binary")
            #expect(!Self.contains(bytes, Array(address.utf8)), "\(address) as text")
        }
        for name in ["cpl-app", "cpl-node"] { #expect(!Self.contains(bytes, Array(name.utf8)), "\(name)") }
        #expect(try Tshark.count(capture, filter: "tcp") == 2)
        #expect(try Tshark.fields(capture, filter: "tcp", ["frame.interface_name"]).allSatisfy { $0.first?.hasPrefix("node1/") == true })
    }

    /// Two real runs of one plan: the same findings, nothing new, exit 0.
    @Test func twoRunsOfAPlanDiffToNothingNew() throws {
        let (path, runs) = try Self.plan("node-reject")
        for _ in 0..<2 { #expect(try runBinary(["apply", path, "--quiet"]).status == 0) }
        let directories = try FileManager.default.contentsOfDirectory(atPath: runs).sorted().map { runs + "/" + $0 }
        try #require(directories.count == 2)
        let diff = try runBinary(["diff", directories[0], directories[1]])
        #expect(diff.status == 0, "\(diff.stdout)\(diff.stderr)")
        #expect(diff.stdout.contains("verdict: PASS → PASS") && diff.stdout.contains("0 new, 0 gone"), "\(diff.stdout)")
        #expect(diff.stdout.contains("(plan lab-node-reject)") && !diff.stdout.contains("warning"), "\(diff.stdout)")
    }

    /// A result that rests on what was not seen, from a capture that says it missed packets, is
    /// unsure and the verdict INCONCLUSIVE (exit 5): DNS headers cut by a small snaplen; only the
    /// pod's direction captured (the filter keeps its packets alone, as `tcpdump -Q in` would on
    /// its veth), so the endpoint's reset is not there to see.
    @Test(arguments: [
        ("dns-failure", "  duration: 8s", "  duration: 8s\n  snaplen: 44", "DNS messages' headers were cut off"),
        ("lb-idle-reset", "  filter: tcp port 443\n  duration: 20s", "  filter: tcp port 443 and src host 198.51.100.10\n  duration: 6s",
         "one side's packets only, though that side acknowledged the other: a direction was not captured"),
    ])
    func aCaptureThatMissedWhatAResultNeedsIsInconclusive(_ name: String, _ from: String, _ to: String, _ why: String) throws {
        let (path, runs) = try Self.plan(name) { $0.replacingOccurrences(of: from, with: to) }
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains(to))
        let result = try runBinary(["apply", path])
        #expect(result.status == 5, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("## Verdict: INCONCLUSIVE") && result.stdout.contains(why), "\(result.stdout)")
        #expect(result.stdout.contains("| unsure |"))
        let run = try Self.json(try Self.runDirectory(runs) + "/run.json")
        #expect((run["verdict"] as? [String: Any])?["outcome"] as? String == "INCONCLUSIVE")
        #expect(try Self.leftovers().isEmpty)
    }

    /// A flood into a 64 KiB kernel buffer: the kernel drops packets, run.json counts them, and a
    /// result that rests on not seeing something is unsure: INCONCLUSIVE, exit 5.
    @Test func aCaptureTheKernelCouldNotKeepUpWithIsInconclusive() throws {
        let flood = """
        apiVersion: capplan/v1
        kind: CapturePlan
        metadata: {name: lab-flood}
        target: {local: {netns: cpl-node}}
        pods: [{name: cpl-app}]
        capture: {filter: udp, duration: 5s, bufferSize: 64KiB}
        reproduce:
          - at: 0.5s
            local: {netns: cpl-app, command: [python3, scripts/lab/traffic.py, flood, "300000", 203.0.113.12]}
        redact: {payload: drop}
        expect:
          - notSeen: dns-failure

        """
        let (path, runs) = try Self.plan("icmp-unreachable") { _ in flood }
        #expect(try runBinary(["plan", path]).stdout.contains("kernel buffer 64KiB per interface"))
        let result = try runBinary(["apply", path])
        #expect(result.status == 5, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("## Verdict: INCONCLUSIVE") && result.stdout.contains("the kernel dropped"), "\(result.stdout)")
        let run = try Self.json(try Self.runDirectory(runs) + "/run.json")
        let kernel = (run["packets"] as? [String: Any])?["kernel"] as? [[String: Any]] ?? []
        #expect(kernel.contains { ($0["droppedByKernel"] as? Int ?? 0) > 0 }, "\(kernel)")
        #expect(try Self.leftovers().isEmpty)
    }

    /// `capture.keep` on a minute of busy traffic with resets at moments drawn from a fresh seed:
    /// the file holds exactly the packets of the windows around each reset (5 s before, 2 s after),
    /// as a full tcpdump capture of the same veth in the same run shows them; the SYN of each reset
    /// connection is there when it fell inside its window; the ring stayed within its bound.
    @Test func aLongRunKeepsExactlyTheWindowsAroundEachReset() throws {
        let seed = Int.random(in: 1...1_000_000)
        let (path, runs) = try Self.plan("intermittent-reset") { $0.replacingOccurrences(of: "\"4711\"", with: "\"\(seed)\"") }
        let full = Crafter.directory + "/full-\(UUID().uuidString).pcap"
        defer { try? FileManager.default.removeItem(atPath: full) }
        let tcpdump = try NetLab.Background(["ip", "netns", "exec", "cpl-node", "tcpdump", "-n", "-i", try Self.hostVeth(of: "cpl-app"),
                                             "--time-stamp-precision", "nano", "-U", "-w", full, "--", "tcp port 8080"], ready: "listening on")
        let result = try runBinary(["apply", path, "--quiet"])
        tcpdump.waitForExit(timeout: 1)
        #expect(result.status == 0, "seed \(seed): \(result.stderr)")
        let directory = try Self.runDirectory(runs)
        let keep = try #require(try Self.json(directory + "/run.json")["keep"] as? [String: Any])
        let counts = try #require(keep["counts"] as? [String: Any])
        #expect((counts["ringPeakBytes"] as? Int ?? .max) <= keep["memoryBound"] as? Int ?? 0)

        let fields = ["frame.time_epoch", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "ip.id"]
        let seen = try Tshark.fields(full, filter: "tcp", fields).map(KeyedPacket.init)
        let kept = try Tshark.fields(directory + "/capture.pcapng", filter: "tcp", fields).map(KeyedPacket.init)
        let windows = KeyedPacket.windows(around: seen.filter(\.isReset).map(\.nanos), before: 5_000_000_000, after: 2_000_000_000)
        #expect(windows.count >= 2 && windows.count == (keep["windows"] as? [Any])?.count, "seed \(seed)")
        // Two captures of one packet may differ by a few µs: packets within 10 ms of an edge are left out of the comparison.
        func clear(_ packet: KeyedPacket) -> Bool { windows.allSatisfy { abs(packet.nanos - $0.lowerBound) > 10_000_000 && abs(packet.nanos - $0.upperBound) > 10_000_000 } }
        let expected = seen.filter { packet in clear(packet) && windows.contains { $0.contains(packet.nanos) } }.map(\.key)
        #expect(kept.filter(clear).map(\.key).sorted() == expected.sorted(), "seed \(seed)")
        #expect(counts["seenPackets"] as? Int == seen.count && counts["keptPackets"] as? Int == kept.count, "seed \(seed): \(counts)")
        #expect(counts["discardedPackets"] as? Int == seen.count - kept.count && kept.count < seen.count, "seed \(seed)")
        for reset in seen.filter(\.isReset) {
            guard let syn = seen.first(where: { $0.isSyn && $0.clientPort == reset.clientPort }),
                  windows.contains(where: { $0.contains(syn.nanos) && $0.contains(reset.nanos) }), clear(syn) else { continue }
            #expect(kept.contains { $0.key == syn.key }, "seed \(seed): the SYN of the connection reset at \(reset.nanos)")
        }
        #expect(try Self.leftovers().isEmpty)
    }

    /// A TCP packet as tshark shows it: when, and the fields that tell it apart from every other.
    struct KeyedPacket {
        var nanos: Int64
        var key: String
        var flags: Int
        var clientPort: String

        init(_ fields: [String]) {
            let parts = (fields.first ?? "0").split(separator: ".")
            let fraction = String((parts.count > 1 ? String(parts[1]) : "") + "000000000").prefix(9)
            nanos = (Int64(parts.first ?? "0") ?? 0) * 1_000_000_000 + (Int64(fraction) ?? 0)
            key = fields.dropFirst().joined(separator: "|")
            flags = fields.count > 5 ? Int(fields[5].dropFirst(2), radix: 16) ?? 0 : 0
            clientPort = fields.count > 2 ? (fields[1] == "8080" ? fields[2] : fields[1]) : ""
        }

        var isReset: Bool { flags & 0x04 != 0 }
        var isSyn: Bool { flags & 0x12 == 0x02 }

        /// Each event's window, joined where one began inside another (as capture.keep extends an open window).
        static func windows(around events: [Int64], before: Int64, after: Int64) -> [ClosedRange<Int64>] {
            var windows: [ClosedRange<Int64>] = []
            for event in events.sorted() {
                if let last = windows.last, event <= last.upperBound {
                    windows[windows.count - 1] = last.lowerBound...(event + after)
                } else {
                    windows.append((event - before)...(event + after))
                }
            }
            return windows
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in haystack[start..<(start + needle.count)].elementsEqual(needle) }
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// The host-side name of a lab pod's veth: the node's interface whose index is the pod's eth0 iflink.
    static func hostVeth(of pod: String) throws -> String {
        let index = try NetLab.run(["ip", "netns", "exec", pod, "cat", "/sys/class/net/eth0/iflink"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let line = try NetLab.run(["ip", "-n", "cpl-node", "-o", "link"]).split(separator: "\n").first { $0.hasPrefix("\(index):") }
        let name = try #require(line?.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces).split(separator: "@").first)
        return String(name)
    }

    @Test func anExpectationThatDoesNotHoldFailsTheRun() throws {
        let (path, _) = try Self.plan("idle-reset") { $0.replacingOccurrences(of: "  - seen: reset\n    from: pods", with: "  - notSeen: reset\n    from: pods") }
        let result = try runBinary(["apply", path])
        #expect(result.status == 3)
        #expect(result.stdout.contains("## Verdict: FAIL"))
        #expect(try Self.leftovers().isEmpty)
    }

    /// An interrupt at different moments: while resolving and starting, with the endpoint up,
    /// with the client connected. Each leaves a readable pcap, a summary, and nothing running.
    @Test(arguments: [("INT", 0.3), ("INT", 1.5), ("TERM", 2.5), ("INT", 4.5)] as [(String, Double)])
    func interruptLeavesAValidCaptureAndNothingRunning(_ signal: String, _ after: Double) throws {
        let (path, runs) = try Self.plan("idle-reset") { $0.replacingOccurrences(of: "stop: {when: reset, grace: 1s}\n", with: "")
            .replacingOccurrences(of: "duration: 20s", with: "duration: 60s") }
        let process = try startBinary(["apply", path, "--quiet"])
        Thread.sleep(forTimeInterval: after)
        kill(process.processIdentifier, signal == "INT" ? SIGINT : SIGTERM)
        let finished = waitForExit(process, timeout: 20)
        #expect(finished)
        #expect(process.terminationStatus == 130)
        let directory = try Self.runDirectory(runs)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        #expect(files.isSuperset(of: ["capture.pcapng", "summary.md", "run.json"]), "\(files)")
        #expect((try? Tshark.count(directory + "/capture.pcapng", filter: "frame")) != nil, "tshark reads the capture")
        #expect(try Self.leftovers().isEmpty)
        #expect(try String(contentsOfFile: directory + "/run.json", encoding: .utf8).contains("SIG\(signal) received"))
    }

    /// Ctrl-C twice: the second skips the report when it comes before it is written; either
    /// way the capture is readable, the exit says interrupted and nothing is left running.
    @Test func aSecondInterruptGoesStraightToCleanup() throws {
        let (path, runs) = try Self.plan("idle-reset") { $0.replacingOccurrences(of: "duration: 20s", with: "duration: 60s")
            .replacingOccurrences(of: "stop: {when: reset, grace: 1s}\n", with: "") }
        let process = try startBinary(["apply", path, "--quiet"])
        Thread.sleep(forTimeInterval: 2)
        kill(process.processIdentifier, SIGINT)
        Thread.sleep(forTimeInterval: 0.02)
        kill(process.processIdentifier, SIGINT)
        #expect(waitForExit(process, timeout: 20))
        #expect(process.terminationStatus == 130)
        let directory = try Self.runDirectory(runs)
        #expect((try? Tshark.count(directory + "/capture.pcapng", filter: "frame")) != nil)
        let log = try String(contentsOfFile: directory + "/steps.log", encoding: .utf8)
        #expect(log.contains("undo: stop"), "the endpoint and the client were stopped")
        #expect(try Self.leftovers().isEmpty)
    }

    @Test func aKilledRunIsCleanedUpFromItsJournal() throws {
        let (path, runs) = try Self.plan("idle-reset") { $0.replacingOccurrences(of: "duration: 20s", with: "duration: 60s")
            .replacingOccurrences(of: "stop: {when: reset, grace: 1s}\n", with: "") }
        let process = try startBinary(["apply", path, "--quiet"])
        Thread.sleep(forTimeInterval: 2.5)
        kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(process, timeout: 10)
        #expect(!(try Self.leftovers()).isEmpty, "the endpoint the run started is still running")
        let directory = try Self.runDirectory(runs)
        let cleanup = try runBinary(["cleanup", directory])
        #expect(cleanup.status == 0, "\(cleanup.stderr)")
        #expect(cleanup.stdout.contains("stopped"))
        #expect(try Self.leftovers().isEmpty)
        #expect(try runBinary(["cleanup", directory]).stdout.contains("nothing left to undo"))
    }
}

/// Starts the built binary from the package root without waiting for it.
/// `environment` replaces capplan's (nil: this process's); `errors` keeps its stderr in a file.
func startBinary(_ arguments: [String], environment: [String: String]? = nil, errors: String? = nil) throws -> Process {
    let process = Process()
    process.executableURL = try builtExecutable()
    process.arguments = arguments
    process.currentDirectoryURL = Repository.root
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    if let errors {
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errors)
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}

func waitForExit(_ process: Process, timeout: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
    }
    process.waitUntilExit()
    return true
}
