import CapplanPackets
import CapplanTestSupport
import Foundation
import Testing

/// capplan's pcapng writer and reader, against Wireshark's tools and libpcap on real traffic
/// (the shared lab's capture): what one writes the others read packet for packet.
@Suite(.serialized)
struct PcapngTests {
    /// Every packet of a file as (interface, nanoseconds, bytes, original length).
    static func packets(_ reader: any CaptureFileReader) throws -> [(Int, Int64, [UInt8], Int)] {
        var all: [(Int, Int64, [UInt8], Int)] = []
        while let packet = try reader.next() {
            all.append((packet.source, packet.timestamp.nanoseconds, Array(packet.bytes), packet.originalLength))
        }
        return all
    }

    /// The same read `batch` at a time, each batch's bytes copied once it is whole; with the
    /// packets read before an error, and the error.
    static func batches(_ reader: any CaptureFileReader, batch: Int) -> (packets: [(Int, Int64, [UInt8], Int)], error: String?) {
        var all: [(Int, Int64, [UInt8], Int)] = []
        var read: [RawPacket] = []
        do {
            repeat {
                try reader.next(into: &read, limit: batch)
                all += read.map { ($0.source, $0.timestamp.nanoseconds, Array($0.bytes), $0.originalLength) }
            } while !read.isEmpty
            return (all, nil)
        } catch {
            return (all, error.message)
        }
    }

    static func same(_ a: [(Int, Int64, [UInt8], Int)], _ b: [(Int, Int64, [UInt8], Int)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 && $0.3 == $1.3 }
    }

    /// The lab's real capture written as pcapng, its packets dealt alternately to two interfaces.
    static func written(comment: String = "capplan test section") throws -> (path: String, original: [(Int, Int64, [UInt8], Int)]) {
        let input = try NetLab.shared.get().ethernet
        let original = try packets(try PcapReader(path: input))
        let path = Crafter.directory + "/written-\(UUID().uuidString).pcapng"
        let writer = try PcapngWriter(path: path, comment: comment, application: "capplan tests", interfaces: [
            PcapngInterface(name: "node-a/veth1", description: "veth of pod myapp/web-1", comment: "capplan point: role=pod-veth node=node-a",
                            linkType: 1, snaplen: 262_144),
            PcapngInterface(name: "node-a/eth0", description: "uplink of node node-a", linkType: 1, snaplen: 262_144),
        ])
        writer.writeNames([(try #require(IPAddress(NetLab.client)), ["web-1.myapp.pod"])])
        for (index, packet) in original.enumerated() {
            packet.2.withUnsafeBytes { bytes in
                writer.write(interface: index % 2, timestamp: Timestamp(nanoseconds: packet.1), bytes: bytes, originalLength: packet.3,
                             direction: index % 3 == 0 ? .inbound : nil)
            }
        }
        writer.close()
        return (path, original)
    }

    @Test func wiresharkAndTcpdumpReadWhatTheWriterWrote() throws {
        let (path, original) = try Self.written()
        let rows = try Tshark.fields(path, filter: "frame", ["frame.interface_name", "frame.time_epoch", "frame.len", "frame.packet_flags_direction"])
        #expect(rows.count == original.count)
        for (index, row) in rows.enumerated() where index < original.count {
            #expect(row[0] == (index % 2 == 0 ? "node-a/veth1" : "node-a/eth0"))
            #expect(row[2] == String(original[index].3))
            let seconds = original[index].1 / 1_000_000_000, fraction = original[index].1 % 1_000_000_000
            #expect(row[1] == "\(seconds)." + String(format: "%09lld", fraction), "packet \(index + 1)")
            #expect(row[3] == (index % 3 == 0 ? "0x00000001" : ""), "packet \(index + 1) direction")
        }
        let names = try Tshark.fields(path, filter: "ip.src == \(NetLab.client) && !icmp", ["ip.src_host"], options: [], nameResolution: true)
        #expect(Set(names) == [["web-1.myapp.pod"]])
        let info = try NetLab.run(["capinfos", path], keepStandardError: false)
        #expect(info.contains("capplan test section"), "\(info)")
        #expect(info.contains("Number of interfaces in file: 2"))
        #expect(info.contains("Description = veth of pod myapp/web-1"))
        let tcpdump = try NetLab.run(["tcpdump", "-nr", path], keepStandardError: false)
        #expect(tcpdump.split(separator: "\n").count == original.count)
    }

    @Test func theReaderGivesBackEveryPacketWithItsInterface() throws {
        let (path, original) = try Self.written()
        let reader = try PcapngReader(path: path)
        #expect(reader.interfaces.map(\.name) == ["node-a/veth1", "node-a/eth0"])
        #expect(reader.interfaces.first?.comment == "capplan point: role=pod-veth node=node-a")
        #expect(reader.sectionComment == "capplan test section")
        #expect(reader.names.map(\.names) == [["web-1.myapp.pod"]])
        let read = try Self.packets(reader)
        #expect(read.count == original.count)
        for (index, packet) in read.enumerated() where index < original.count {
            #expect(packet.0 == index % 2 && packet.1 == original[index].1 && packet.2 == original[index].2 && packet.3 == original[index].3,
                    "packet \(index + 1)")
        }
        // In batches: the same packets, none of a batch's bytes moved by reading its later ones.
        for size in [1, 5, 256] {
            let batched = Self.batches(try PcapngReader(path: path), batch: size)
            let matches = batched.error == nil && Self.same(batched.packets, read)
            #expect(matches, "batches of \(size): \(batched.packets.count) packets, \(batched.error ?? "no error")")
        }
    }

    /// A damaged packet block after good ones: read in batches, every packet before it comes out,
    /// then the error `next()` gives at the same place.
    @Test func aDamagedBlockInABatchEndsItAfterThePacketsBeforeIt() throws {
        var bytes = Self.block(0x0A0D_0D0A, Self.le32(0x1A2B_3C4D) + [1, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
        bytes += Self.block(1, [1, 0, 0, 0] + Self.le32(65_535))
        func packet(interface: UInt32, _ index: Int) -> [UInt8] {
            Self.block(6, Self.le32(interface) + Self.le32(0) + Self.le32(UInt32(index)) + Self.le32(60) + Self.le32(60)
                + [UInt8](repeating: UInt8(index), count: 60))
        }
        for index in 0..<10 { bytes += packet(interface: 0, index) }
        bytes += packet(interface: 3, 10)  // no interface 3 was described
        for index in 11..<15 { bytes += packet(interface: 0, index) }
        let path = try Self.file(bytes)
        let reader = try PcapngReader(path: path)
        var count = 0
        var oneError: String?
        do {
            while try reader.next() != nil { count += 1 }
        } catch {
            oneError = error.message
        }
        #expect(count == 10)
        #expect(oneError?.contains("interface 3, which no block described") == true)
        let expected = (0..<10).map { (0, Int64($0) * 1000, [UInt8](repeating: UInt8($0), count: 60), 60) }
        for size in [1, 4, 256] {
            let batched = Self.batches(try PcapngReader(path: path), batch: size)
            let matches = Self.same(batched.packets, expected)
            #expect(matches, "batches of \(size): \(batched.packets.count) packets")
            #expect(batched.error == oneError, "batches of \(size)")
        }
    }

    /// A pcapng written by Wireshark's editcap (microsecond units, its own options), read by the
    /// reader, is the same packets libpcap reads from the pcap it came from.
    @Test func aPcapngWiresharkWroteIsWhatLibpcapReads() throws {
        let input = try NetLab.shared.get().any
        let converted = Crafter.directory + "/editcap-\(UUID().uuidString).pcapng"
        try NetLab.run(["editcap", "-F", "pcapng", input, converted])
        let expected = try Self.packets(try PcapReader(path: input)), read = try Self.packets(try openCaptureFile(converted))
        #expect(read.count == expected.count && read.count > 0)
        #expect(zip(read, expected).allSatisfy { $0.1 == $1.1 && $0.2 == $1.2 && $0.3 == $1.3 })
    }

    /// A file cut anywhere ends in a clear error after the last whole packet, never a crash.
    @Test func aFileCutAnywhereEndsInAnError() throws {
        let (path, _) = try Self.written()
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(1600))
        let all = try Self.packets(try PcapngReader(path: path))
        for length in stride(from: 0, through: whole.count, by: 3) {
            let cut = try Self.file(Array(whole.prefix(length)))
            do {
                let reader = try PcapngReader(path: cut)
                var count = 0
                do {
                    while try reader.next() != nil { count += 1 }
                } catch {
                    #expect(error.message.contains("truncated") || error.message.contains("length"), "\(length): \(error.message)")
                }
                #expect(count < all.count)
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    /// A block larger than the writer's buffer is written whole and in its place among the others.
    @Test func aBlockLargerThanTheBufferKeepsItsPlace() throws {
        let path = Crafter.directory + "/large-\(UUID().uuidString).pcapng"
        let writer = try PcapngWriter(path: path, comment: nil, application: nil,
                                      interfaces: [PcapngInterface(name: "eth0", linkType: 1, snaplen: 1 << 22)])
        let sizes = [60, 3 << 20, 1_500, PcapngWriter.bufferSize - 40, 61, PcapngWriter.bufferSize + 1]
        let packets = sizes.enumerated().map { index, size in (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) } }
        for (index, packet) in packets.enumerated() {
            packet.withUnsafeBytes { writer.write(interface: 0, timestamp: Timestamp(nanoseconds: Int64(index)), bytes: $0, originalLength: $0.count,
                                                  direction: index == 1 ? .outbound : nil, comment: index == 3 ? "near the buffer's size" : nil) }
        }
        try writer.flush()
        writer.close()
        let read = try Self.packets(try PcapngReader(path: path))
        #expect(read.map(\.2) == packets)
        #expect(read.map(\.1) == Array(0..<Int64(sizes.count)))
    }

    /// A write the disk refuses (/dev/full) is an error when the blocks are flushed, in the system's words.
    @Test func aFullDiskIsReportedAtTheFlush() throws {
        let writer = try PcapngWriter(path: "/dev/full", comment: nil, application: nil,
                                      interfaces: [PcapngInterface(name: "eth0", linkType: 1, snaplen: 128)])
        [UInt8](repeating: 0, count: 60).withUnsafeBytes {
            writer.write(interface: 0, timestamp: Timestamp(nanoseconds: 1), bytes: $0, originalLength: 60)
        }
        let error = #expect(throws: PcapError.self) { try writer.flush() }
        #expect(error?.message.contains("No space left on device") == true, "\(String(describing: error))")
        writer.close()
    }

    @Test func commentsAreAddedToTheNumberedPacketsOnly() throws {
        let (path, original) = try Self.written()
        try PcapngWriter.addComments(path: path, [2: "capplan: reset sent by pod myapp/web-1", 3: "second"])
        let rows = try Tshark.fields(path, filter: "frame", ["frame.number", "frame.comment", "frame.packet_flags_direction"])
        #expect(rows.count == original.count)
        #expect(rows.filter { !$0[1].isEmpty }.map { [$0[0], $0[1]] } == [["2", "capplan: reset sent by pod myapp/web-1"], ["3", "second"]])
        #expect(rows.first?[2] == "0x00000001", "options already there stay")
        #expect(try Self.packets(try PcapngReader(path: path)).map(\.2) == original.map(\.2))
    }

    /// With the writer's checkpoints, the part before the first commented packet is copied as it is:
    /// the file is the same, byte for byte, as when every block is read.
    @Test func commentsFromACheckpointWriteTheSameFile() throws {
        let input = try NetLab.shared.get().ethernet
        let original = try Self.packets(try PcapReader(path: input))
        try #require(original.count > 40, "the lab capture has \(original.count) packets")
        var files: [String] = []
        for every in [8, 1 << 16] {
            let path = Crafter.directory + "/checkpoints-\(UUID().uuidString).pcapng"
            let writer = try PcapngWriter(path: path, comment: "checkpoints", application: "capplan tests",
                                          interfaces: [PcapngInterface(name: "node-a/veth1", linkType: 1, snaplen: 262_144)], checkpointEvery: every)
            for packet in original {
                packet.2.withUnsafeBytes { writer.write(interface: 0, timestamp: Timestamp(nanoseconds: packet.1), bytes: $0, originalLength: packet.3) }
            }
            writer.close()
            #expect(writer.checkpoints.count == (every == 8 ? (original.count - 1) / 8 : 0))
            try PcapngWriter.addComments(path: path, [original.count - 3: "late", original.count - 1: "last"], checkpoints: writer.checkpoints)
            files.append(path)
        }
        let (a, b) = (try Data(contentsOf: URL(fileURLWithPath: files[0])), try Data(contentsOf: URL(fileURLWithPath: files[1])))
        #expect(a == b, "the file commented from a checkpoint differs from the one read block by block")
        let rows = try Tshark.fields(files[0], filter: "frame.comment", ["frame.number", "frame.comment"])
        #expect(rows == [["\(original.count - 3)", "late"], ["\(original.count - 1)", "last"]])
    }

    /// Packets written as the capture does, with a checkpoint every `every` packets.
    static func checkpointed(_ packets: [(Int, Int64, [UInt8], Int)], at path: String, every: Int) throws -> PcapngWriter {
        let writer = try PcapngWriter(path: path, comment: "checkpoints", application: "capplan tests",
                                      interfaces: [PcapngInterface(name: "node-a/veth1", linkType: 1, snaplen: 262_144)], checkpointEvery: every)
        for packet in packets {
            packet.2.withUnsafeBytes { writer.write(interface: 0, timestamp: Timestamp(nanoseconds: packet.1), bytes: $0, originalLength: packet.3) }
        }
        writer.close()
        return writer
    }

    /// What lies beside `path` that starts with its name.
    static func beside(_ path: String) throws -> [String] {
        let url = URL(fileURLWithPath: path)
        return try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
            .filter { $0.hasPrefix(url.lastPathComponent + ".") }
    }

    /// Comments near the end of a long capture are spliced into the file itself (the same inode),
    /// and a splice stopped at any stage leaves a file tshark reads with no packet lost:
    /// `PcapngTailSplice.finish` makes it the commented capture, from what lies beside it.
    @Test func aSpliceStoppedAtAnyStageIsFinishedLater() throws {
        let packets = try Self.packets(try PcapReader(path: try NetLab.shared.get().ethernet))
        try #require(packets.count > 40, "the lab capture has \(packets.count) packets")
        let path = Crafter.directory + "/splice-\(UUID().uuidString).pcapng"
        let writer = try Self.checkpointed(packets, at: path, every: 8)
        let url = URL(fileURLWithPath: path)
        let original = try Data(contentsOf: url)
        let inode = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        try PcapngWriter.addComments(path: path, [packets.count - 3: "late", packets.count - 1: "last"], checkpoints: writer.checkpoints)
        let commented = try Data(contentsOf: url)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == inode, "the file was written anew")
        #expect(try Self.beside(path).isEmpty)
        let checkpoint = try #require(writer.checkpoints.last { $0.packets < packets.count - 3 })
        let cut = Int(checkpoint.offset)
        #expect(original.prefix(cut) == commented.prefix(cut))
        let tail = commented.suffix(from: cut)
        let whole = ".tail-at-\(cut)"
        let stages: [(stage: String, file: Data, beside: [(String, Data)])] = [
            ("writing the new end", original, [(".tail-partial", tail.prefix(tail.count / 2))]),
            ("the new end whole, the file not cut", original, [(whole, tail)]),
            ("the file cut", original.prefix(cut), [(whole, tail)]),
            ("half the new end appended", original.prefix(cut) + tail.prefix(tail.count / 2), [(whole, tail)]),
            ("the new end appended", commented, [(whole, tail)]),
        ]
        for (stage, file, beside) in stages {
            try file.write(to: url)
            for (suffix, bytes) in beside { try bytes.write(to: URL(fileURLWithPath: path + suffix)) }
            if stage == "the file cut" {
                #expect(try Tshark.fields(path, filter: "frame", ["frame.number"]).count == checkpoint.packets, "\(stage)")
            }
            let finished = try PcapngTailSplice.finish(path: path)
            #expect(finished == (stage != "writing the new end"), "\(stage)")
            #expect(try Data(contentsOf: url) == (finished ? commented : original), "\(stage)")
            #expect(try Self.beside(path).isEmpty, "\(stage)")
        }
        #expect(try Tshark.fields(path, filter: "frame.comment", ["frame.number", "frame.comment"])
            == [["\(packets.count - 3)", "late"], ["\(packets.count - 1)", "last"]])
    }

    /// A splice under way holds the capture locked: `finish` (a report or cleanup in another
    /// process) waits for it rather than removing the new end being written.
    @Test func finishingWaitsForASpliceUnderWay() async throws {
        let path = try Self.written().path
        let partial = path + ".tail-partial"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: partial))
        let held = open(path, O_RDONLY)
        try #require(held >= 0 && flock(held, LOCK_EX) == 0)
        let finishing = Task.detached { try PcapngTailSplice.finish(path: path) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(FileManager.default.fileExists(atPath: partial), "finish did not wait for the lock")
        close(held)
        #expect(try await finishing.value == false)
        #expect(!FileManager.default.fileExists(atPath: partial))
    }

    /// A capture of several megabytes, read in pieces: comments land on the numbered packets
    /// wherever the pieces break (one on each side of a break, two in a row, the first and the
    /// last), and every other block is written as it was.
    @Test func commentsAcrossAManyMegabyteCapture() throws {
        var crafter = Crafter()
        for index in 0..<30_000 {
            crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: ACK, seq: UInt32(1 + 80 * index), ack: 1, payload: 80 + index % 7),
                        after: 0.0001)
        }
        let path = try crafter.writePcapng(interfaces: ["node-a/veth1", "node-a/eth0"])
        let original = try Self.packets(try PcapngReader(path: path))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size > 4 << 20, "the capture is \(size) bytes")
        let numbers = [1, 8000, 8001, 8002, 17_345, 29_999, 30_000]
        try PcapngWriter.addComments(path: path, Dictionary(uniqueKeysWithValues: numbers.map { ($0, "finding at \($0)") }))
        let rows = try Tshark.fields(path, filter: "frame.comment", ["frame.number", "frame.comment"])
        #expect(rows == numbers.map { ["\($0)", "finding at \($0)"] })
        let after = try Self.packets(try PcapngReader(path: path))
        #expect(after.count == original.count)
        #expect(after.elementsEqual(original) { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 && $0.3 == $1.3 })
        // Once more with one early comment: nearly all of the file is the rest, copied in the kernel.
        try PcapngWriter.addComments(path: path, [5: "early"])
        let again = try Tshark.fields(path, filter: "frame.comment", ["frame.number", "frame.comment"])
        let expected = ([(5, "early")] + numbers.map { ($0, "finding at \($0)") }).sorted { $0.0 < $1.0 }.map { ["\($0.0)", $0.1] }
        #expect(again == expected)
        #expect(try Self.packets(try PcapngReader(path: path)).elementsEqual(original) { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 && $0.3 == $1.3 })
    }

    /// A disk without room for the commented capture: an error, the capture as it was, and nothing
    /// left beside it (a 3 MB tmpfs holds the capture). Written anew whole (no checkpoints), the
    /// disk fills while the copy is written; from a checkpoint near the end, in place, the room
    /// for the longer end is missing before the file is cut.
    @Test(arguments: [false, true]) func aDiskThatFillsLeavesTheCaptureAsItWas(inPlace: Bool) throws {
        var crafter = Crafter()
        for index in 0..<16_000 {
            crafter.tcp(Crafter.TCP(from: Crafter.client, to: Crafter.server, flags: ACK, seq: UInt32(1 + 80 * index), ack: 1, payload: 80), after: 0.0001)
        }
        let crafted = try crafter.writePcapng(interfaces: ["node-a/veth1"])
        let mount = Crafter.directory + "/small-disk-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        _ = try NetLab.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mount])
        defer {
            _ = try? NetLab.run(["umount", mount])
            try? FileManager.default.removeItem(atPath: mount)
        }
        let path = mount + "/capture.pcapng"
        var checkpoints: [PcapngCheckpoint] = []
        if inPlace {
            checkpoints = try Self.checkpointed(try Self.packets(try PcapngReader(path: crafted)), at: path, every: 1024).checkpoints
        } else {
            try FileManager.default.copyItem(atPath: crafted, toPath: path)
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before.count > 2 << 20 && before.count < 3 << 20, "the capture is \(before.count) bytes")
        let error = #expect(throws: PcapError.self) { try PcapngWriter.addComments(path: path, [15_000: "late"], checkpoints: checkpoints) }
        #expect(error?.description.contains(inPlace ? "free on its disk" : "cannot add comments") == true, "\(String(describing: error))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount) == ["capture.pcapng"])
    }

    /// Each interface's timestamp unit (`if_tsresol`: powers of ten and of two) gives the time
    /// tshark gives, on a file crafted block by block: the reader works out a unit's size once.
    @Test func timestampUnitsAreReadAsWiresharkReadsThem() throws {
        // (if_tsresol byte, ticks, expected nanoseconds since the epoch)
        let units: [(UInt8, UInt64, Int64)] = [
            (3, 1_700_000_000_123, 1_700_000_000_123_000_000),        // milliseconds
            (6, 1_700_000_000_123_456, 1_700_000_000_123_456_000),    // microseconds, the default
            (9, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789), // nanoseconds
            (0x80 | 20, 1_700_000_000 << 20 | 1 << 19, 1_700_000_000_500_000_000),  // 2^-20 s
        ]
        var bytes = Self.block(0x0A0D_0D0A, Self.le32(0x1A2B_3C4D) + [1, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
        for (resolution, _, _) in units {
            bytes += Self.block(1, [1, 0, 0, 0] + Self.le32(65_535) + [9, 0, 1, 0, resolution, 0, 0, 0] + [0, 0, 0, 0])
        }
        let frame = [UInt8](repeating: 0xAB, count: 60)
        for (interface, (_, ticks, _)) in units.enumerated() {
            bytes += Self.block(6, Self.le32(UInt32(interface)) + Self.le32(UInt32(ticks >> 32)) + Self.le32(UInt32(ticks & 0xFFFF_FFFF))
                + Self.le32(60) + Self.le32(60) + frame)
        }
        let path = try Self.file(bytes)
        #expect(try Self.packets(try PcapngReader(path: path)).map(\.1) == units.map(\.2))
        let rows = try Tshark.fields(path, filter: "frame", ["frame.time_epoch"])
        #expect(rows.map { $0.first ?? "" } == units.map { "\($0.2 / 1_000_000_000)." + String(format: "%09lld", $0.2 % 1_000_000_000) })
    }

    /// A section written big-endian, then one little-endian: each packet's time, lengths and bytes
    /// are what tshark reads, whether read one by one or in batches of any size.
    @Test func sectionsOfEitherByteOrderReadAsWiresharkReadsThem() throws {
        var bytes: [UInt8] = []
        var frames: [[UInt8]] = []
        for bigEndian in [true, false] {
            let word = bigEndian ? { (value: UInt32) in Self.le32(value.byteSwapped) } : Self.le32
            func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
                let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
                let length = UInt32(padded.count + 12)
                return word(type) + word(length) + padded + word(length)
            }
            let options: [UInt8] = bigEndian ? [0, 1, 0, 0] : [1, 0, 0, 0]  // version 1.0, in the section's order
            bytes += block(0x0A0D_0D0A, word(0x1A2B_3C4D) + options + [UInt8](repeating: 0xFF, count: 8))
            bytes += block(1, (bigEndian ? [0, 1, 0, 0] : [1, 0, 0, 0]) + word(65_535))
            for index in 0..<40 {
                let frame = (0..<(50 + index)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index &+ (bigEndian ? 1 : 0)) }
                frames.append(frame)
                let ticks = UInt64(1_700_000_000_000_000 + index * 1_000 + (bigEndian ? 0 : 500_000))
                bytes += block(6, word(0) + word(UInt32(ticks >> 32)) + word(UInt32(ticks & 0xFFFF_FFFF)) + word(UInt32(frame.count))
                    + word(UInt32(frame.count + 4)) + frame)
            }
        }
        let path = try Self.file(bytes)
        let one = try Self.packets(try PcapngReader(path: path))
        #expect(one.map(\.2) == frames)
        let rows = try Tshark.fields(path, filter: "frame", ["frame.time_epoch", "frame.len"])
        #expect(rows.count == frames.count)
        let times = one.map { "\($0.1 / 1_000_000_000)." + String(format: "%09lld", $0.1 % 1_000_000_000) }
        #expect(rows.map { $0.first ?? "" } == times)
        #expect(rows.map { $0.last ?? "" } == one.map { "\($0.3)" } && one.allSatisfy { $0.3 == $0.2.count + 4 })
        for size in [1, 7, 256] {
            let batched = Self.batches(try PcapngReader(path: path), batch: size)
            #expect(batched.error == nil && Self.same(batched.packets, one), "batches of \(size): \(batched.packets.count) packets")
        }
    }

    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// A little-endian pcapng block: type, length, body (padded to 4 bytes), length.
    static func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
        let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
        let length = UInt32(padded.count + 12)
        return le32(type) + le32(length) + padded + le32(length)
    }

    static func file(_ bytes: [UInt8]) throws -> String {
        let path = Crafter.directory + "/cut-\(UUID().uuidString).pcapng"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
