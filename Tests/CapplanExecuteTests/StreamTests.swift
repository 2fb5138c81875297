import CapplanExecute
import CapplanPackets
import CapplanTestSupport
import Foundation
import Testing

/// The Kubernetes capture's plumbing without a cluster: real pcap files streamed through real
/// pipes by real processes (`cat`, as `kubectl exec ... tcpdump -w -` streams them), read by
/// PcapStreams; and the children capplan starts.
struct StreamTests {
    /// Two captures whose packets interleave in time: one stream per file.
    static func interleavedFiles() throws -> (String, String, count: Int) {
        var first = Crafter(), second = Crafter()
        for index in 0..<50 {
            let a = Crafter.TCP(from: (ip: "198.51.100.1", port: 40000), to: (ip: "203.0.113.12", port: 443), flags: ACK, seq: UInt32(index))
            let b = Crafter.TCP(from: (ip: "198.51.100.2", port: 40001), to: (ip: "203.0.113.12", port: 443), flags: ACK, seq: UInt32(index))
            first.tcp(a, after: 0.010)
            second.clock = first.clock + 5_000_000  // 5 ms later than its twin in the first file
            second.tcp(b, after: 0)
        }
        return (try first.write(), try second.write(), 100)
    }

    @Test func streamsAreMergedInTimestampOrderAndReadToTheirEnd() throws {
        let (one, two, count) = try Self.interleavedFiles()
        let children = try [one, two].map { try ChildProcess(["cat", $0], standardOutput: .pipe) }
        let streams = try PcapStreams(streams: children.enumerated().map { ("stream\($0.offset)", $0.element.standardOutput) }, headerTimeout: 10)
        streams.mergeWindow = 50_000_000
        var times: [Int64] = []
        try streams.run(shouldStop: { false }) { packet in times.append(packet.timestamp.nanoseconds) }
        #expect(times.count == count)
        #expect(times == times.sorted(), "in timestamp order across both streams")
        #expect(streams.endedEarly?.contains("stream0") == true, "both streams ended by themselves, and that is said")
        #expect(streams.counts.map(\.packets) == [50, 50])
        for child in children { #expect(child.wait(upTo: 5) == 0) }
    }

    /// A stream that ends while the run goes on is read again from the descriptor `resume` gives
    /// (the second half of the capture, as a new tcpdump would send it); `later` waits; `giveUp`
    /// ends the point, and with every point given up the capture ends, saying so.
    @Test func aStreamThatBreaksIsReadAgainFromItsNewDescriptor() throws {
        var first = Crafter(), second = Crafter()
        for index in 0..<40 {
            let segment = Crafter.TCP(from: (ip: "198.51.100.1", port: 40000), to: (ip: "203.0.113.12", port: 443), flags: ACK, seq: UInt32(index))
            if index < 20 { first.tcp(segment, after: 0.010) } else { second.clock = first.clock + Int64(index - 19) * 10_000_000; second.tcp(segment, after: 0) }
        }
        let (one, two) = (try first.write(), try second.write())
        var children = [try ChildProcess(["cat", one], standardOutput: .pipe)]
        let streams = try PcapStreams(streams: [("node-1/veth0", children[0].standardOutput)], headerTimeout: 10)
        streams.mergeWindow = 10_000_000
        var asked: [(String, PcapStreams.Resumption)] = []
        streams.resume = { index, why in
            let answer: PcapStreams.Resumption
            switch asked.count {
            case 0: answer = .later
            case 1:
                guard let child = try? ChildProcess(["cat", two], standardOutput: .pipe) else { return .giveUp }
                children.append(child)
                answer = .reopen(child.standardOutput)
            default: answer = .giveUp
            }
            asked.append((why, answer))
            return answer
        }
        var seqs: [UInt32] = []
        let deadline = Date().addingTimeInterval(20)
        try streams.run(shouldStop: { Date() > deadline }) { packet in
            let tcp = 14 + 20
            seqs.append(packet.bytes[(tcp + 4)..<(tcp + 8)].reduce(0) { $0 << 8 | UInt32($1) })
        }
        #expect(seqs == Array(0..<40), "both halves, in order, nothing twice")
        #expect(asked.count == 3, "asked once (later), again (reopened), and after the second end (given up)")
        #expect(asked.allSatisfy { $0.0 == "the stream ended" })
        #expect(streams.endedEarly?.contains("node-1/veth0") == true)
        #expect(Date() < deadline, "it ended when the point was given up, not at the deadline")
        for child in children { #expect(child.wait(upTo: 5) == 0) }
    }

    @Test func aStreamThatIsNotPcapIsAClearError() throws {
        let child = try ChildProcess(["echo", "error: unable to upgrade connection: pod does not exist"], standardOutput: .pipe)
        #expect {
            _ = try PcapStreams(streams: [("node-1/veth0", child.standardOutput)], headerTimeout: 10, describeFailure: { _ in "tcpdump: no such device" })
        } throws: { error in
            let text = "\(error)"
            return text.contains("node-1/veth0") && text.contains("ended before its pcap header") && text.contains("tcpdump: no such device")
        }
        child.wait(upTo: 5)
    }

    @Test func aStreamWithoutAHeaderTimesOut() throws {
        let child = try ChildProcess(["sleep", "30"], standardOutput: .pipe)
        defer { child.stop() }
        #expect {
            _ = try PcapStreams(streams: [("node-1/eth0", child.standardOutput)], headerTimeout: 0.3)
        } throws: { "\($0)".contains("node-1/eth0") && "\($0)".contains("no pcap header within") }
    }

    @Test func childrenGetNothingOfCapplansButTheirOwnDescriptorsAndAreStopped() throws {
        let held = open("/dev/null", O_RDONLY)  // not close-on-exec: it must still not reach the child
        defer { close(held) }
        let log = Crafter.directory + "/fds-\(UUID().uuidString).log"
        let listing = try ChildProcess(["ls", "/proc/self/fd"], standardOutput: .file(log))
        #expect(listing.wait(upTo: 5) == 0)
        let descriptors = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
        #expect(descriptors.allSatisfy { $0 <= 3 }, "0, 1, 2 and ls's own directory only: \(descriptors)")

        let sleeper = try ChildProcess(["sleep", "30"])
        #expect(sleeper.isRunning)
        sleeper.stop(grace: 2)
        #expect(sleeper.exitStatus == 128 + SIGTERM)
        #expect(Processes.startTicks(of: sleeper.pid) == nil, "reaped")
        #expect(try ChildProcess(["ls", "/nonexistent-capplan"]).wait(upTo: 5) == 2, "ls's status for a missing argument")
    }

    @Test func capturedOutputKeepsStreamsApart() throws {
        let result = try Processes.capture(["ls", "-d", "/", "/nonexistent-capplan"])
        #expect(result.status == 2 && result.output == "/\n" && result.errors.contains("/nonexistent-capplan") && !result.timedOut)
        let slow = try Processes.capture(["sleep", "10"], timeout: 0.3)
        #expect(slow.timedOut)
    }

    /// A gap in run.json says in words how it ended: started again, given up and why, or still
    /// waiting for a new start when the capture stopped; `givenUp` is written only when there is one.
    @Test func aGapSaysHowItEnded() throws {
        func gap(_ fields: String, recreated: Bool = false) throws -> RunRecord.StreamGap {
            let json = #"{"point": "vm/eth0", "from": "2026-12-04T05:33:58Z", "why": "the stream ended", "helperRecreated": "# + "\(recreated)" + fields + "}"
            return try JSONDecoder().decode(RunRecord.StreamGap.self, from: Data(json.utf8))
        }
        let resumed = try gap(#", "to": "2026-12-04T05:34:04Z", "seconds": 6.04"#, recreated: true)
        #expect(resumed.words == "the capture stream of vm/eth0 broke at 2026-12-04T05:33:58Z (the stream ended) and was started again 6.0 s later, "
                + "at 2026-12-04T05:34:04Z, after its helper pod was created again; what passed meanwhile was not captured")
        let givenUp = try gap(#", "givenUp": "pods \"capplan-1\" is forbidden: exceeded quota", "droppedByTcpdump": 3"#)
        #expect(givenUp.words == "the capture stream of vm/eth0 ended at 2026-12-04T05:33:58Z (the stream ended) and was given up: "
                + #"pods "capplan-1" is forbidden: exceeded quota; tcpdump reported 3 dropped as it exited"#)
        let waiting = try gap("")
        #expect(waiting.words.hasSuffix("and was not running again when the capture stopped; what passed meanwhile was not captured"), "\(waiting.words)")
        let written = String(decoding: try JSONEncoder().encode(waiting), as: UTF8.self)
        let writtenGivenUp = String(decoding: try JSONEncoder().encode(givenUp), as: UTF8.self)
        #expect(!written.contains("givenUp") && writtenGivenUp.contains("exceeded quota"), "\(written)\n\(writtenGivenUp)")
    }
}
