import CapplanAnalyse
import CapplanExecute
import CapplanLoad
import CapplanPackets
import CapplanReport
import CapplanTestSupport
import Testing

/// Expectations judged against the analysis of a crafted capture: a pod resets its
/// connection to an external endpoint on 443, and a connection to 5432 is refused.
struct VerdictTests {
    static func summary() throws -> (Summary, IdentityMap) {
        var crafter = Crafter()
        let pod = (ip: "198.51.100.17", port: UInt16(40000)), endpoint = (ip: "203.0.113.12", port: UInt16(443))
        crafter.tcp(Crafter.TCP(from: pod, to: endpoint, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: endpoint, to: pod, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: pod, to: endpoint, flags: ACK, seq: 1, ack: 1))
        crafter.tcp(Crafter.TCP(from: pod, to: endpoint, flags: RST | ACK, seq: 1, ack: 1), after: 30)
        crafter.tcp(Crafter.TCP(from: (ip: pod.ip, port: 40001), to: (ip: "203.0.113.5", port: 5432), flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: (ip: "203.0.113.5", port: 5432), to: (ip: pod.ip, port: 40001), flags: RST | ACK, seq: 0, ack: 1))
        var identities = IdentityMap()
        identities.add(try CIDR.parse(pod.ip).get(), Identity(name: "myapp/web-1", kind: .pod))
        return (try CaptureReport.analyse(path: try crafter.write(), identities: identities), identities)
    }

    static func expectations(_ yaml: String) throws -> [CapplanLoad.Expectation] {
        let plan = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {local: {}}\nexpect:\n" + yaml
        let loaded = PlanLoader.load(source: plan, path: "t.yaml")
        return try #require(loaded.plan, "\(loaded.printer.render(loaded.diagnostics))").expectations
    }

    @Test(arguments: [
        ("  - {seen: reset, from: pods, to: external, port: 443}", true, 1),
        ("  - {seen: reset, from: pod:web-1}", true, 1),
        ("  - {seen: reset, from: pod:myapp/web-1}", true, 1),
        ("  - {seen: reset, from: pod:other/web-1}", false, 0),
        ("  - {seen: reset, from: external}", false, 0),
        ("  - {notSeen: reset}", false, 1),
        ("  - {seen: refused, to: pods, port: 5432}", true, 1),
        ("  - {seen: refused, port: 443}", false, 0),
        ("  - {seen: handshake, from: pods, to: 203.0.113.0/24}", true, 1),
        ("  - {seen: reset, atLeast: 2}", false, 1),
        ("  - {notSeen: dns-failure}", true, 0),
    ] as [(String, Bool, Int)])
    func expectationIsJudged(_ yaml: String, _ held: Bool, _ observed: Int) throws {
        let (summary, identities) = try Self.summary()
        let verdict = Verdict.judge(try Self.expectations(yaml), summary: summary, identities: identities)
        let result = try #require(verdict.results.first)
        #expect(result.held == held, "\(result)")
        #expect(result.observed == observed, "\(result)")
        #expect(verdict.passed == held)
    }

    /// Kernel drops make a result that rests on an absence unsure: the verdict is inconclusive,
    /// unless a result failed for certain. What was seen stays certain.
    @Test(arguments: [
        ("  - {notSeen: dns-failure}", Verdict.Outcome.inconclusive, [true]),
        ("  - {seen: reset, from: external}", .inconclusive, [true]),
        ("  - {seen: reset, from: pods}", .pass, [false]),
        ("  - {seen: reset, from: pods}\n  - {notSeen: refused}", .fail, [false, false]),
        ("  - {notSeen: refused}\n  - {notSeen: dns-failure}", .fail, [false, true]),
    ] as [(String, Verdict.Outcome, [Bool])])
    func dropsMakeWhatWasNotSeenUnsure(_ yaml: String, _ outcome: Verdict.Outcome, _ doubtful: [Bool]) throws {
        let (summary, identities) = try Self.summary()
        let verdict = Verdict.judge(try Self.expectations(yaml), summary: summary, identities: identities, kernelDrops: 12)
        #expect(verdict.outcome == outcome, "\(verdict)")
        #expect(verdict.results.map(\.doubtful) == doubtful)
        #expect(verdict.doubts == (doubtful.contains(true) ? ["the kernel dropped 12 packets during the capture"] : []))
        let clean = Verdict.judge(try Self.expectations(yaml), summary: summary, identities: identities)
        #expect(clean.outcome != .inconclusive && clean.doubts.isEmpty, "without drops the same capture is certain")
    }

    @Test func allMustHold() throws {
        let (summary, identities) = try Self.summary()
        let verdict = Verdict.judge(try Self.expectations("  - {seen: reset}\n  - {notSeen: refused}\n"), summary: summary, identities: identities)
        #expect(verdict.results.map(\.held) == [true, false])
        #expect(!verdict.passed)
        #expect(verdict.results[0].expectation == "seen: reset")
        #expect(verdict.results[0].packets == [4])
    }
}
