@testable import CapplanPackets
import CapplanTestSupport
import Testing

/// Several files read as one stream in time order: each file is read in batches, so a packet's
/// bytes must stay put while the other files' packets are handed out around it.
struct MergedReadersTests {
    static func records(_ count: Int, seed: UInt64) -> [(caplen: UInt32, length: UInt32, bytes: [UInt8])] {
        var random = SplitMix64(seed: seed)
        // Up to 9,000 bytes each: the files span several of the reader's 256 KiB chunks.
        return (0..<count).map { _ in
            let size = Int(random.next() % 9001)
            return (UInt32(size), UInt32(size), (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
    }

    @Test func filesMergeInTimeOrderAndACutOneEndsAlone() throws {
        let whole = try PcapReaderTests.write(bigEndian: false, nanosecond: false, snaplen: 65535, records: Self.records(600, seed: 1))
        let cut = try PcapReaderTests.write(bigEndian: true, nanosecond: false, snaplen: 65535, records: Self.records(400, seed: 2), cutLast: 1)
        let third = try PcapReaderTests.write(bigEndian: false, nanosecond: false, snaplen: 65535, records: Self.records(500, seed: 3),
                                              secondsApart: 3)
        let alone = [PcapReaderTests.read(whole, chunked: true), PcapReaderTests.read(cut, chunked: true), PcapReaderTests.read(third, chunked: true)]
        #expect(alone[0].error == nil && alone[0].packets.count == 600)
        #expect(alone[1].error?.contains("truncated") == true && alone[1].packets.count == 399)
        // The files' packets by time; the earlier file's first on a tie. The first two files'
        // times are the same packet for packet; the third's are three times as far apart, so the
        // others go several times in a row between two of its packets, and it goes on alone at the end.
        let expected = alone.enumerated().flatMap { index, file in file.packets.enumerated().map { (index, $0.offset, $0.element) } }
            .sorted { ($0.2.0, $0.0, $0.1) < ($1.2.0, $1.0, $1.1) }
        let merged = MergedReaders([try PcapReader(path: whole), try PcapReader(path: cut), try PcapReader(path: third)])
        var got: [(Int, Int64, [UInt8])] = []
        while let (index, packet) = merged.next() { got.append((index, packet.timestamp.nanoseconds, Array(packet.bytes))) }
        #expect(got.count == expected.count)
        let differs: [Bool] = zip(got, expected).map { (read: (Int, Int64, [UInt8]), want: (Int, Int, (Int64, Int, [UInt8]))) -> Bool in
            read.0 != want.0 || read.1 != want.2.0 || read.2 != want.2.2
        }
        let first: Int? = differs.firstIndex(of: true)
        #expect(first == nil, "packet \((first ?? 0) + 1) differs")
        #expect(merged.readError == alone[1].error)
    }
}
