import CapplanAnalyse
import CapplanPackets
import CapplanRedact
import CapplanReport
import CapplanTestSupport
import Foundation
import Testing

/// Real traffic with planted secrets (HTTP Authorization, cookies, a password in a body,
/// both ends' addresses, a DNS answer), redacted and then analysed: nothing of it is left
/// anywhere in the output directory, tshark reads the pcap with valid checksums, and the
/// analysis agrees with the original's up to the renamed addresses.
@Suite(.serialized)
struct RealRedactionTests {
    static let rules = RedactionRules(payload: .keep, pseudonymizeAddresses: true, macs: .zero,
                                      scrub: ["(?i)authorization: [^\\r\\n]*", "(?i)(set-)?cookie: [^\\r\\n]*", "password=[^&\\r\\n]*"],
                                      key: CryptoPAnTests.key)

    static let plantedAddresses = [NetLab.client, NetLab.server, NetLab.router, NetLab.dnsAnswer, NetLab.silent, NetLab.unreachable]

    /// Redacts `which` capture into a fresh run directory, then writes the report there too.
    static func redactedRun(_ which: String) throws -> (directory: String, original: Summary, redacted: Summary) {
        let captures = try NetLab.shared.get()
        let input = which == "ethernet" ? captures.ethernet : captures.any
        let directory = Crafter.directory + "/run-\(which)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let output = directory + "/capture.pcap"
        let (path, _) = try RedactorTests.redact(input, rules)
        try FileManager.default.moveItem(atPath: path, toPath: output)
        let redacted = try CaptureReport.analyse(path: output)
        try SummaryMarkdown.render(redacted).write(toFile: directory + "/summary.md", atomically: true, encoding: .utf8)
        try SummaryJSON.render(redacted).write(toFile: directory + "/summary.json", atomically: true, encoding: .utf8)
        return (directory, try CaptureReport.analyse(path: input), redacted)
    }

    @Test(arguments: ["ethernet", "any"])
    func nothingPlantedIsLeftInTheRunDirectory(_ which: String) throws {
        let (directory, original, _) = try Self.redactedRun(which)
        // The secrets really were in the original capture.
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: which == "ethernet" ? try NetLab.shared.get().ethernet : try NetLab.shared.get().any)))
        for secret in NetLab.plantedSecrets { #expect(input.contains(sequence: Array(secret.utf8)), "\(secret) was never sent") }
        #expect(original.capture.packets > 0)

        for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
            for secret in NetLab.plantedSecrets {
                #expect(!bytes.contains(sequence: Array(secret.utf8)), "\(secret) is in \(file)")
            }
            for address in Self.plantedAddresses {
                #expect(!bytes.contains(sequence: Array(address.utf8)), "\(address) is in \(file)")
                if file.hasSuffix(".pcap") {
                    #expect(!bytes.contains(sequence: try #require(IPAddress(address)).bytes), "\(address)'s bytes are in \(file)")
                }
            }
        }
    }

    @Test func tsharkReadsTheOutputWithValidChecksums() throws {
        let (directory, _, _) = try Self.redactedRun("ethernet")
        let rows = try Tshark.fields(directory + "/capture.pcap", filter: "ip",
                                     ["frame.number", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status"],
                                     options: ["ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE"])
        #expect(rows.count > 40)
        let bad = rows.filter { row in row.dropFirst().joined(separator: ",").split(separator: ",").contains("0") }
        #expect(bad.isEmpty, "bad checksums in frames \(bad.map { $0[0] })")
        let malformed = try Tshark.count(directory + "/capture.pcap", filter: "_ws.malformed || _ws.expert.severity == error && !tcp.analysis")
        #expect(malformed == 0)
    }

    /// The same connections, states, resets and expert counts; every address renamed the same way.
    @Test(arguments: ["ethernet", "any"])
    func analysisAgreesUpToRenamedAddresses(_ which: String) throws {
        let (_, original, redacted) = try Self.redactedRun(which)
        let pan = try CryptoPAn(key: CryptoPAnTests.key)
        #expect(redacted.connections.byState == original.connections.byState)
        #expect(redacted.connections.total == original.connections.total)
        #expect(redacted.expert == original.expert)
        #expect(redacted.counts.resets == original.counts.resets)
        #expect(redacted.resets.map { "\($0.event.packet) \($0.event.sender.port)>\($0.event.receiver.port) \($0.event.fromOriginator)" }
                == original.resets.map { "\($0.event.packet) \($0.event.sender.port)>\($0.event.receiver.port) \($0.event.fromOriginator)" })
        for (before, after) in zip(original.resets, redacted.resets) {
            #expect(pan.anonymize(before.event.sender.address) == after.event.sender.address)
            #expect(pan.anonymize(before.event.receiver.address) == after.event.receiver.address)
        }
        #expect(redacted.findings.map(\.kind) == original.findings.map(\.kind))
        #expect(redacted.dnsFailures.map(\.name) == original.dnsFailures.map(\.name))
    }
}
