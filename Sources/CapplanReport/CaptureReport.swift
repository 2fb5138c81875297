public import CapplanAnalyse
public import CapplanPackets

/// Reads a capture with libpcap, decodes and analyses it in one pass, and builds the summary.
public enum CaptureReport {
    /// Analyses the file at `path`. Throws only when the file cannot be opened as a capture at all;
    /// an error part-way (a file cut mid-packet) is reported in the summary after the packets before it.
    public static func analyse(path: String, identities: IdentityMap = IdentityMap(),
                               progress: ((Int) -> Void)? = nil) throws(PcapError) -> Summary {
        let reader = try PcapReader(path: path)
        let decoder = try PacketDecoder(linkType: reader.linkType)
        var analyzer = ConnectionAnalyzer()
        var number = 0
        var readError: String?
        while true {
            let next: RawPacket?
            do {
                next = try reader.next()
            } catch {
                readError = error.message
                break
            }
            guard let packet = next else { break }
            number += 1
            analyzer.add(decoder.decode(packet.bytes), number: number, timestamp: packet.timestamp,
                         originalLength: packet.originalLength, raw: packet.bytes)
            if number & 0xFFFF == 0 { progress?(number) }
        }
        analyzer.finish()
        return SummaryBuilder(analyzer: analyzer, identities: identities, file: path,
                              linkType: linkName(reader.linkType), readError: readError).build()
    }

    /// The summary of packets analysed elsewhere (a live capture), once `analyzer.finish()` ran.
    public static func summarise(_ analyzer: ConnectionAnalyzer, identities: IdentityMap, file: String, linkType: Int32,
                                 readError: String? = nil) -> Summary {
        SummaryBuilder(analyzer: analyzer, identities: identities, file: file, linkType: linkName(linkType), readError: readError).build()
    }

    static func linkName(_ linkType: Int32) -> String { LinkType.name(of: linkType) }
}
