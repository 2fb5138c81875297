import CapplanPackets
import CapplanReport
import Foundation
import CapplanTestSupport
import Testing

/// Bad files get a clear message or a correct report, never a crash.
struct FileRobustnessTests {
    static func file(_ bytes: [UInt8]) throws -> String {
        
        let path = Crafter.directory + "/bytes-\(UUID().uuidString).pcap"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func sample() throws -> String {
        var crafter = Crafter()
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: Crafter.client, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: ACK | PSH, seq: 1, ack: 1, payload: 300))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: Crafter.client, flags: RST | ACK, seq: 1, ack: 301))
        return try crafter.write()
    }

    @Test func fileCutMidPacketReportsWhatCameBefore() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: try Self.sample()))
        let cut = try Self.file(Array(whole.prefix(whole.count - 30)))  // inside the last packet
        let summary = try CaptureReport.analyse(path: cut)
        #expect(summary.capture.packets == 3)
        #expect(summary.capture.readError?.contains("truncated") == true, "\(summary.capture.readError ?? "nil")")
        #expect(summary.findings.contains { $0.kind == "capture" && $0.text.contains("ends in error after packet 3") })
    }

    @Test func randomBytesEmptyFilesAndMissingFilesAreClearErrors() throws {
        var generator = SystemRandomNumberGenerator()
        let random = try Self.file((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for path in [random, try Self.file([]), try Self.file([0xD4, 0xC3, 0xB2]), "/nonexistent.pcap", NetLab.directory] {
            #expect(throws: PcapError.self) { try CaptureReport.analyse(path: path) }
            do {
                _ = try CaptureReport.analyse(path: path)
            } catch {
                #expect(!error.message.isEmpty)
                #expect(error.description.hasPrefix(path))
            }
        }
    }

    @Test func headerOnlyFileIsAnEmptyReport() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: try Self.sample()))
        let summary = try CaptureReport.analyse(path: try Self.file(Array(whole.prefix(24))))
        #expect(summary.capture.packets == 0)
        #expect(summary.findings.isEmpty)
        #expect(SummaryMarkdown.render(summary).contains("Nothing went wrong that the packets show"))
    }

    /// mergecap -F pcapng of captures with different snaplens or link types: libpcap refuses the
    /// second interface; capplan's own pcapng reader reads every packet with its interface's link type.
    @Test func pcapngWithInterfacesLibpcapRefusesIsReadWhole() throws {
        let first = try Self.sample()
        var crafter = Crafter()
        crafter.clock += 5_000_000_000
        crafter.tcp(Crafter.TCP(from: (ip: "198.51.100.11", port: 5555), to: Crafter.server, flags: SYN, seq: 0))
        let second = try crafter.write(snaplen: 65535)  // another snaplen: mergecap keeps two interfaces
        let merged = Crafter.directory + "/merged-\(UUID().uuidString).pcapng"
        try NetLab.run(["mergecap", "-F", "pcapng", "-w", merged, first, second])
        let interfaces = try NetLab.run(["capinfos", "-I", merged], keepStandardError: false)
        #expect(interfaces.contains("Number of interfaces in file: 2"), "\(interfaces)")
        let summary = try CaptureReport.analyse(path: merged)
        #expect(summary.capture.readError == nil, "\(summary.capture.readError ?? "")")
        #expect(summary.capture.packets == 5)
        #expect(summary.connections.total == 2)

        // Interfaces of different link types: each packet is decoded by its own interface's type.
        var raw = Crafter()
        raw.raw(Crafter.ipv4(Crafter.client.ip, Crafter.server.ip, proto: 17, body: Crafter.udpHeader(1, 2, payload: [])))
        let mixed = Crafter.directory + "/mixed-\(UUID().uuidString).pcapng"
        try NetLab.run(["mergecap", "-F", "pcapng", "-w", mixed, first, try raw.write(linkType: 12)])
        let mixedSummary = try CaptureReport.analyse(path: mixed)
        #expect(mixedSummary.capture.readError == nil, "\(mixedSummary.capture.readError ?? "")")
        #expect(mixedSummary.connections.udp == 1 && mixedSummary.connections.tcp == 1, "\(mixedSummary.connections.byState)")
    }

    /// A small snaplen cuts TCP headers: packets decode as far as they go and are counted.
    @Test func smallSnaplenIsCountedNotFatal() throws {
        var crafter = Crafter()
        crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: SYN, seq: 0, options: [2, 4, 5, 0xB4]))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: Crafter.client, flags: SYN | ACK, seq: 0, ack: 1))
        for snaplen in [14, 20, 34, 40, 54] {
            let summary = try CaptureReport.analyse(path: try crafter.write(snaplen: snaplen))
            #expect(summary.capture.packets == 2)
            #expect(summary.capture.truncatedPackets == (snaplen < 54 ? 2 : 0) + (snaplen == 54 ? 1 : 0), "snaplen \(snaplen)")
        }
    }
}
