@testable import CapplanPackets
import CapplanTestSupport
import Foundation
import Testing

/// The classic pcap reader hands plain records out of large chunks and lets libpcap read from the
/// first record it would not serve. Both ways must give the same packets and the same error, on
/// files made to cross every edge and on tcpdump's own test captures (many malformed on purpose).
struct PcapReaderTests {
    /// Every packet (nanoseconds, original length, bytes), and the error that ended the file, if one did.
    /// `batch`: read that many at a time, each batch's bytes copied only once it is whole, so a
    /// batch whose reading moved the bytes of its earlier packets reads differently.
    static func read(_ path: String, chunked: Bool, batch: Int? = nil) -> (packets: [(Int64, Int, [UInt8])], error: String?) {
        var packets: [(Int64, Int, [UInt8])] = []
        func keep(_ packet: RawPacket) { packets.append((packet.timestamp.nanoseconds, packet.originalLength, Array(packet.bytes))) }
        do {
            let reader = try PcapReader(path: path, chunked: chunked)
            if let batch {
                var read: [RawPacket] = []
                repeat {
                    try reader.next(into: &read, limit: batch)
                    #expect(read.count <= batch)
                    read.forEach(keep)
                } while !read.isEmpty
            } else {
                while let packet = try reader.next() { keep(packet) }
            }
            return (packets, nil)
        } catch {
            return (packets, error.message)
        }
    }

    /// The chunked reader, one packet and seven at a time, reads what libpcap reads.
    static func expectSame(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let libpcap = read(path, chunked: false)
        for (way, chunked) in [("one at a time", read(path, chunked: true)), ("in batches", read(path, chunked: true, batch: 7))] {
            let errors: (String?, String?) = (chunked.error, libpcap.error)
            #expect(errors.0 == errors.1, "\(path), \(way)", sourceLocation: sourceLocation)
            let counts: (Int, Int) = (chunked.packets.count, libpcap.packets.count)
            #expect(counts.0 == counts.1, "\(path), \(way)", sourceLocation: sourceLocation)
            let differs: [Bool] = zip(chunked.packets, libpcap.packets).map { (a: (Int64, Int, [UInt8]), b: (Int64, Int, [UInt8])) -> Bool in
                a.0 != b.0 || a.1 != b.1 || a.2 != b.2
            }
            let first: Int? = differs.firstIndex(of: true)
            #expect(first == nil, "\(path), \(way): packet \((first ?? 0) + 1) differs", sourceLocation: sourceLocation)
        }
    }

    /// A classic pcap file: its header and records as given (caplen, len, bytes), in either byte order.
    static func write(bigEndian: Bool, nanosecond: Bool, snaplen: UInt32, records: [(caplen: UInt32, length: UInt32, bytes: [UInt8])],
                      cutLast: Int = 0, secondsApart: UInt32 = 1) throws -> String {
        var data: [UInt8] = []
        func u32(_ value: UInt32) { data += bigEndian ? withUnsafeBytes(of: value.bigEndian, Array.init) : withUnsafeBytes(of: value.littleEndian, Array.init) }
        func u16(_ value: UInt16) { data += bigEndian ? withUnsafeBytes(of: value.bigEndian, Array.init) : withUnsafeBytes(of: value.littleEndian, Array.init) }
        u32(nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4)
        u16(2)
        u16(4)
        u32(0)
        u32(0)
        u32(snaplen)
        u32(1)
        for (index, record) in records.enumerated() {
            u32(1_700_000_000 + UInt32(index) * secondsApart)
            u32(UInt32(index * 1000 % 999_999))
            u32(record.caplen)
            u32(record.length)
            data += record.bytes
        }
        data.removeLast(min(cutLast, data.count))
        let path = Crafter.directory + "/reader-\(UUID().uuidString).pcap"
        try Data(data).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func recordsAcrossChunksReadAsLibpcapReadsThem(bigEndian: Bool, nanosecond: Bool) throws {
        var random = SplitMix64(seed: 7)
        // Sizes from 0 to 9,000 bytes: over 2 MiB in all, so records straddle the 256 KiB chunks.
        let records = (0..<600).map { _ -> (caplen: UInt32, length: UInt32, bytes: [UInt8]) in
            let size = Int(random.next() % 9001)
            return (UInt32(size), UInt32(size + Int(random.next() % 3)), (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
        let whole = try Self.write(bigEndian: bigEndian, nanosecond: nanosecond, snaplen: 65535, records: records)
        Self.expectSame(whole)
        #expect(Self.read(whole, chunked: true).packets.count == 600)
        // Cut in a record's header, then in its bytes: the packets before it and libpcap's error.
        let cutHeader = try Self.write(bigEndian: bigEndian, nanosecond: nanosecond, snaplen: 65535, records: records,
                                       cutLast: Int(records[599].caplen) + 6)
        let cutBytes = try Self.write(bigEndian: bigEndian, nanosecond: nanosecond, snaplen: 65535, records: records, cutLast: 1)
        for path in [cutHeader, cutBytes] {
            Self.expectSame(path)
            #expect(Self.read(path, chunked: true).packets.count == 599)
            #expect(Self.read(path, chunked: true).error?.contains("truncated") == true)
        }
    }

    /// A record longer than the snaplen, halfway: the chunks serve the first half, libpcap the rest.
    @Test func aRecordLongerThanTheSnaplenHandsTheRestToLibpcap() throws {
        var records = (0..<100).map { index in (caplen: UInt32(60), length: UInt32(60), bytes: [UInt8](repeating: UInt8(index), count: 60)) }
        records[50] = (caplen: 200, length: 200, bytes: [UInt8](repeating: 0xEE, count: 200))
        let path = try Self.write(bigEndian: false, nanosecond: false, snaplen: 128, records: records)
        Self.expectSame(path)
        #expect(Self.read(path, chunked: true).packets.count == Self.read(path, chunked: false).packets.count)
    }

    @Test func tcpdumpsTestCapturesReadTheSameBothWays() throws {
        var classic = 0
        for path in try Corpus.captures(in: "tcpdump-tests") {
            guard !PcapngReader.looksLikePcapng(path) else { continue }
            classic += 1
            Self.expectSame(path)
        }
        #expect(classic > 500, "expected most of tcpdump's test captures to be classic pcap, found \(classic)")
    }
}
