import CapplanAnalyse
public import CapplanPackets
import Foundation

/// Where `report`'s time goes, for the benchmarks: the file is read several times, each pass doing
/// one stage more on one thread (read; decode; flow lookup; the whole analysis; the summary built
/// and written as JSON), and each stage's cost is its pass's time less the one before.
public enum ReportStages {
    public struct Stage: Sendable {
        public var name: String
        public var seconds: Double
    }

    public static func measure(path: String) throws(PcapError) -> (packets: Int, stages: [Stage]) {
        var packets = 0
        var passes: [(String, Double)] = []
        func pass(_ name: String, _ work: (UnsafeRawBufferPointer, DecodedPacket?, Int, RawPacket) -> Void, decode: Bool,
                  finish: () throws -> Void = {}) throws(PcapError) {
            let reader = try openCaptureFile(path)
            let decoder = try PacketDecoder(linkType: reader.linkType)
            let started = DispatchTime.now().uptimeNanoseconds
            var number = 0
            var batch: [RawPacket] = []
            repeat {
                try? reader.next(into: &batch, limit: captureBatchLimit)
                for packet in batch {
                    number += 1
                    work(packet.bytes, decode ? decoder.decode(packet.bytes) : nil, number, packet)
                }
            } while !batch.isEmpty
            try? finish()
            passes.append((name, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
            packets = number
        }
        var touched = 0
        try pass("read", { raw, _, _, _ in touched &+= raw.count }, decode: false)
        try pass("decode", { _, decoded, _, _ in touched &+= decoded?.payloadLength ?? 0 }, decode: true)
        var probe = FlowLookupProbe()
        try pass("flows", { _, decoded, _, _ in if let decoded { probe.look(decoded) } }, decode: true)
        var analyzer = ConnectionAnalyzer()
        try pass("TCP analysis", { raw, decoded, number, packet in
            if let decoded { analyzer.add(decoded, number: number, timestamp: packet.timestamp, originalLength: packet.originalLength, raw: raw) }
        }, decode: true, finish: { analyzer.finish() })
        var whole = ConnectionAnalyzer()
        try pass("summary", { raw, decoded, number, packet in
            if let decoded { whole.add(decoded, number: number, timestamp: packet.timestamp, originalLength: packet.originalLength, raw: raw) }
        }, decode: true, finish: {
            whole.finish()
            _ = try SummaryJSON.render(CaptureReport.summarise(whole, identities: IdentityMap(), file: path, linkType: 1))
        })
        let stages = passes.indices.map { index in
            Stage(name: passes[index].0, seconds: max(0, passes[index].1 - (index > 0 ? passes[index - 1].1 : 0)))
        }
        return (packets, stages + [Stage(name: "total, one thread", seconds: passes.last?.1 ?? 0)])
    }
}
