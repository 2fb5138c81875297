import CapplanTestSupport
import Foundation
import Testing

struct RedactCommandTests {
    static let hexKey = String(repeating: "0123456789abcdef", count: 4)

    static func capture() throws -> String {
        var crafter = Crafter()
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: Crafter.client, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: ACK | PSH, seq: 1, ack: 1, payload: 100))
        return try crafter.write()
    }

    static func file(_ text: String, _ suffix: String = "yaml") throws -> String {
        let path = Crafter.directory + "/file-\(UUID().uuidString).\(suffix)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A pcapng of two named interfaces (mergecap of two captures) redacted to pcapng: each packet
    /// keeps its interface; with names: drop the interfaces are numbered; nothing of the input's
    /// name resolution survives.
    @Test func aPcapngStaysAPcapngWithItsInterfaces() throws {
        var crafter = Crafter()
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: Crafter.client, flags: SYN | ACK, seq: 0, ack: 1))
        let input = try crafter.writePcapng(interfaces: ["node-a/veth1", "node-a/eth0"], names: [(Crafter.client.ip, "web-1.myapp.pod")])
        for (names, expected) in [("keep", ["node-a/veth1", "node-a/eth0", "node-a/veth1"]), ("drop", ["interface 1", "interface 2", "interface 1"])] {
            let rules = try Self.file("redact:\n  payload: drop\n  addresses: pseudonymize\n  names: \(names)\n")
            let output = Crafter.directory + "/out-\(UUID().uuidString).pcapng"
            let result = runCLI("redact", input, output, "--rules", rules)
            #expect(result.status == 0, "\(result.stderr)")
            let rows = try Tshark.fields(output, filter: "ip", ["frame.interface_name", "ip.src"])
            #expect(rows.map { $0[0] } == expected)
            #expect(rows.count == 3 && !rows.contains { $0[1] == Crafter.client.ip || $0[1] == Crafter.server.ip })
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self)
            #expect(!text.contains("web-1") && !text.contains("about node-a"), "no name resolution or description is carried over")
        }
    }

    /// A capture cut inside its last packet (tcpdump killed while writing) is redacted up to the
    /// cut: the output holds the whole packets before it, and the exit status says the input was cut.
    @Test func aCutCaptureIsRedactedUpToTheCut() throws {
        for (name, input) in [("pcap", try Self.capture()), ("pcapng", try Self.pcapngCapture())] {
            let whole = try Data(contentsOf: URL(fileURLWithPath: input))
            let cut = Crafter.directory + "/cut-\(UUID().uuidString).\(name)"
            try whole.prefix(whole.count - 20).write(to: URL(fileURLWithPath: cut))
            let rules = try Self.file("redact:\n  payload: drop\n  addresses: pseudonymize\n")
            let output = Crafter.directory + "/out-\(UUID().uuidString).\(name)"
            let result = runCLI("redact", cut, output, "--rules", rules)
            #expect(result.status == 3, "\(name): \(result.stderr)")
            #expect(result.stderr.contains("ends in error after packet 2") && result.stderr.contains("holds the 2 packets"), "\(name): \(result.stderr)")
            #expect(result.stdout.contains("input ended in error"), "\(result.stdout)")
            #expect(try Tshark.count(output, filter: "frame") == 2, "\(name): the two whole packets")
            #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
        }
    }

    static func pcapngCapture() throws -> String {
        var crafter = Crafter()
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: Crafter.client, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: ACK | PSH, seq: 1, ack: 1, payload: 100))
        return try crafter.writePcapng(interfaces: ["eth0"])
    }

    @Test func redactsWithAKeyFromAFileAndReports() throws {
        let key = try Self.file(Self.hexKey + "\n", "key")
        let rules = try Self.file("redact:\n  payload: drop\n  addresses: pseudonymize\n  key: {file: \(key)}\n")
        let output = Crafter.directory + "/out-\(UUID().uuidString).pcap"
        let result = runCLI("redact", try Self.capture(), output, "--rules", rules)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("packets: 3 in, 3 out"))
        #expect(result.stdout.contains("payload: drop, cut in 1 packets (100 bytes removed)"))
        #expect(result.stdout.contains("addresses: Crypto-PAn in 3 packets"))
        #expect(result.stdout.contains("key: fingerprint "))
        #expect(!result.stdout.contains(Self.hexKey) && !result.stdout.contains("random"))
        #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
        let sources = try Tshark.fields(output, filter: "ip", ["ip.src"]).map { $0[0] }
        #expect(sources.count == 3 && !sources.contains(Crafter.client.ip))

        // The same key gives the same pseudonyms: a second run agrees with the first.
        let again = Crafter.directory + "/out-\(UUID().uuidString).pcap"
        #expect(runCLI("redact", try Self.capture(), again, "--rules", rules).status == 0)
        #expect(try Tshark.fields(again, filter: "ip", ["ip.src"]).map { $0[0] } == sources)
    }

    @Test func withoutAKeyARandomOneIsUsedAndSaid() throws {
        let rules = try Self.file("redact: {addresses: pseudonymize}\n")
        let result = runCLI("redact", try Self.capture(), Crafter.directory + "/out-\(UUID().uuidString).pcap", "--rules", rules, "--format", "json")
        #expect(result.status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["randomKey"] as? Bool == true)
        #expect((report["keyFingerprint"] as? String)?.count == 16)
        #expect((report["stats"] as? [String: Any])?["packetsOut"] as? Int == 3)
    }

    @Test func problemsAreClearAndNothingIsWritten() throws {
        let output = Crafter.directory + "/never-\(UUID().uuidString).pcap"
        let badRules = try Self.file("redact:\n  payload: {truncat: 5}\n  scrub: ['(open']\n")
        let invalid = runCLI("redact", try Self.capture(), output, "--rules", badRules)
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains("\(badRules):2:13: error: redact.payload: unknown key 'truncat' in truncate; did you mean 'truncate'?"))
        #expect(!invalid.stderr.contains("missing required field"), "the typo already says what is missing")
        #expect(invalid.stderr.contains("\(badRules):3:17: error: redact.scrub[0]: does not compile: missing closing parenthesis"))

        let missingEnvironment = try Self.file("redact: {addresses: pseudonymize, key: {env: CAPPLAN_TEST_NO_SUCH_KEY}}\n")
        let noKey = runCLI("redact", try Self.capture(), output, "--rules", missingEnvironment)
        #expect(noKey.status == 1)
        #expect(noKey.stderr.contains("CAPPLAN_TEST_NO_SUCH_KEY is not set"))

        let shortKey = try Self.file("abc", "key")
        let short = runCLI("redact", try Self.capture(), output, "--rules", try Self.file("redact: {addresses: pseudonymize, key: {file: \(shortKey)}}\n"))
        #expect(short.stderr.contains("a key is 32 bytes, or 64 hex digits"))

        let capture = try Self.capture()
        #expect(runCLI("redact", capture, capture, "--rules", badRules).status == 2)
        #expect(runCLI("redact", capture, output).status == 2)
        #expect(!FileManager.default.fileExists(atPath: output) && !FileManager.default.fileExists(atPath: output + ".partial"))
    }

    @Test func planRulesAndTheExampleRulesFileLoad() throws {
        let output = Crafter.directory + "/out-\(UUID().uuidString).pcap"
        let result = runCLI("redact", try Self.capture(), output, "--plan", Repository.path("plans/ingress-any.yaml"))
        // ingress-any.yaml takes its key from CAPPLAN_PSEUDONYM_KEY, which the tests do not set.
        #expect(result.status == 1 && result.stderr.contains("CAPPLAN_PSEUDONYM_KEY is not set"))
        let example = runCLI("redact", try Self.capture(), output, "--rules", Repository.path("examples/redact-rules.yaml"))
        #expect(example.stderr.contains("CAPPLAN_PSEUDONYM_KEY is not set"), "\(example.stderr)")
        #expect(runCLI("redact", try Self.capture(), output, "--plan", Repository.path("plans/lb-rst.yaml")).status == 0)
    }
}
