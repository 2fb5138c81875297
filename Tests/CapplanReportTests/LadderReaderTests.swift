import CapplanPackets
@testable import CapplanReport
import CapplanTestSupport
import Foundation
import Testing

/// The ladders report.html draws are read back from the capture after the report: a second pass
/// that must cost little even when the connection a finding names is a bulk transfer.
struct LadderReaderTests {
    /// A connection with a handshake, `segments` data segments from the server and its reset.
    static func bulkTransfer(segments: Int, after: Double = 0.001) -> Crafter {
        var crafter = Crafter()
        let c = Crafter.client, s = Crafter.server
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: c, to: s, flags: ACK, seq: 1, ack: 1))
        for index in 0..<segments {
            crafter.tcp(Crafter.TCP(from: s, to: c, flags: ACK, seq: UInt32(1 + 100 * index), ack: 1, payload: 100), after: after)
        }
        crafter.tcp(Crafter.TCP(from: s, to: c, flags: RST | ACK, seq: UInt32(1 + 100 * segments), ack: 1))
        return crafter
    }

    static func labels(_ ladders: [Ladder]) -> [[String]] { ladders.map { $0.arrows.map(\.label) } }

    /// The bulk transfer's segments lengthen one arrow's run of data: counted from their bytes, not decoded.
    @Test func aBulkTransfersDataIsCountedWithoutADecodeEach() throws {
        let path = try Self.bulkTransfer(segments: 20_000).write()
        let summary = try CaptureReport.analyse(path: path)
        let (ladders, decoded) = LadderReader.passOverLadders(path: path, summary: summary)
        #expect(Self.labels(ladders) == [["SYN", "SYN-ACK", "ACK", "data ×20000, 2000000 B", "RST-ACK TTL 64, out of window"]],
                "\(Self.labels(ladders))")
        // The handshake, the first data segment (it starts the run) and the reset.
        #expect(decoded <= 5, "decoded \(decoded) packets of 20,004")
    }

    /// A capture of two points holds each packet twice: the ladder is drawn from the first point's
    /// copies, and the second point's are passed by without a decode.
    @Test func anotherPointsCopiesArePassedBy() throws {
        let once = Self.bulkTransfer(segments: 2000)
        var twice = Crafter()
        for packet in once.packets {
            twice.packets.append(packet)
            twice.packets.append((packet.time + 20_000, packet.bytes))
        }
        let path = try twice.writePcapng(interfaces: ["a/veth1", "a/eth0"])
        let summary = try CaptureReport.analyse(path: path)
        let (ladders, decoded) = LadderReader.passOverLadders(path: path, summary: summary)
        let single = try once.write()
        let expected = LadderReader.read(path: single, summary: try CaptureReport.analyse(path: single))
        #expect(Self.labels(ladders) == Self.labels(expected), "\(Self.labels(ladders))")
        #expect(Self.labels(ladders).first?.contains("data ×2000, 200000 B") == true, "\(Self.labels(ladders))")
        #expect(decoded <= 6, "decoded \(decoded) packets of 4008")
    }
}
