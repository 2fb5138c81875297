@testable import CapplanExecute
import CapplanLoad
import CapplanPackets
import CapplanRedact
import CapplanTestSupport
import Foundation
import Testing

/// `capture.keep` on its own: packets 100 ms apart, each carrying its index, go through the keeper
/// into a real pcap; the file is read back to see exactly which were kept. The lab test
/// (ApplyTests) checks the same against tcpdump on live traffic.
struct WindowKeeperTests {
    /// Runs `count` packets through a keeper; `events` are the indices of the packets that are events.
    static func run(_ keep: KeepWindows, count: Int, events: Set<Int>) throws -> (keeper: WindowKeeper, kept: [Int]) {
        let path = Crafter.directory + "/keep-\(UUID().uuidString).pcap"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try RedactingWriter(path: path, rules: .none, linkType: 1, snaplen: 262_144)
        let keeper = WindowKeeper(keep: keep, sources: ["lo"])
        for index in 0..<count {
            let frame = Crafter.ethernet(Crafter.ipv4("198.51.100.10", "203.0.113.12", proto: 17, id: UInt16(index),
                                                      body: Crafter.udpHeader(40000, 9999, payload: Array("packet \(index)".utf8))))
            frame.withUnsafeBytes { bytes in
                let packet = RedactedPacket(timestamp: Timestamp(nanoseconds: 1_700_000_000_000_000_000 + Int64(index) * 100_000_000),
                                            bytes: bytes, originalLength: bytes.count)
                keeper.add(packet, interface: 0, direction: nil, number: index + 1, event: events.contains(index) ? "event \(index)" : nil, to: writer)
            }
        }
        keeper.finish()
        writer.close()
        let reader = try openCaptureFile(path)
        var kept: [Int] = []
        while let packet = try reader.next() {
            let ip = 14, id = Int(packet.bytes[ip + 4]) << 8 | Int(packet.bytes[ip + 5])
            kept.append(id)
        }
        return (keeper, kept)
    }

    static func keep(before: Int64, after: Int64, windows: Int, memory: Int64 = 64 << 20) -> KeepWindows {
        KeepWindows(around: .reset, from: nil, before: PlanDuration(milliseconds: before), after: PlanDuration(milliseconds: after),
                    windows: windows, memory: ByteSize(bytes: memory))
    }

    @Test func eachWindowHoldsWhatCameBeforeAndAfterItsEvent() throws {
        // 1 s before, 0.5 s after: packets 10 before and 5 after each event (100 ms apart, ends included).
        let (keeper, kept) = try Self.run(Self.keep(before: 1000, after: 500, windows: 3), count: 150, events: [30, 33, 60, 90, 120])
        #expect(kept == Array(20...38) + Array(50...65) + Array(80...95))
        // Window 1 holds 19 packets, window 2 16: the events are the 11th of each.
        #expect(keeper.windows.map(\.packet) == [11, 19 + 11, 19 + 16 + 11], "the event's number in the file")
        #expect(keeper.windows.map(\.events) == [2, 1, 1], "33 came inside window 1 and extended it")
        #expect(keeper.windows.first?.endSeconds == 0.8)
        #expect(keeper.counts.eventsNotKept == 1, "120 came after the third window")
        #expect(keeper.counts.keptPackets == kept.count && keeper.counts.discardedPackets == 150 - kept.count)
        #expect(keeper.closesLastWindowAt != nil)
        // The analysis numbered packets 1...150; the file's numbers are their ranks among the kept.
        #expect(keeper.fileNumber(of: 21) == 1 && keeper.fileNumber(of: 31) == 11 && keeper.fileNumber(of: 51) == 20)
        #expect(keeper.fileNumber(of: 20) == nil && keeper.fileNumber(of: 150) == nil)
        #expect(keeper.windows.allSatisfy { !$0.startLost })
    }

    @Test func theRingNeverHoldsMoreThanItsBound() throws {
        // A second before holds 11 packets; a ring of 1 KiB has facts for fewer.
        let ring = PacketRing(capacity: 1024), size = 14 + 20 + 8 + "packet 10".utf8.count
        let held = min(ring.entryCapacity, ring.byteCapacity / size)
        #expect(held < 10)
        let (keeper, kept) = try Self.run(Self.keep(before: 1000, after: 0, windows: 5, memory: 1024), count: 40, events: [20])
        #expect(kept == Array((20 - held)...20), "what the ring could hold, the oldest gone first, then the event")
        #expect(keeper.counts.ringPeakBytes <= 1024)
        #expect(keeper.counts.pushedOutByMemory > 0)
        #expect(keeper.windows.first?.startLost == true)
    }

    /// Packets of random sizes through a small ring, wrapping around many times: the ring always
    /// gives back the newest packets it holds, byte for byte, oldest first, within its bound.
    @Test func theRingWrapsAroundWithoutLosingAByte() {
        var random = SplitMix64(seed: 42)
        let ring = PacketRing(capacity: 4096)
        var pushed: [[UInt8]] = []
        var gone = 0
        for index in 0..<2000 {
            let packet = (0..<Int(random.next() % 300 + 1)).map { UInt8(truncatingIfNeeded: index &+ $0) }
            packet.withUnsafeBytes { bytes in
                ring.push(RedactedPacket(timestamp: Timestamp(nanoseconds: Int64(index)), bytes: bytes, originalLength: bytes.count),
                          number: index, interface: 0, direction: nil) { entry in
                    #expect(entry.number == gone, "the oldest goes first")
                    gone += 1
                }
            }
            pushed.append(packet)
            #expect(ring.used <= 4096)
            if index % 97 == 0 {  // now and then, empty it as a window would
                var numbers: [Int] = []
                ring.drain { entry, bytes in
                    #expect(Array(bytes.bytes) == pushed[entry.number])
                    numbers.append(entry.number)
                }
                #expect(numbers == Array(gone...index))
                gone = index + 1
            }
        }
        #expect(ring.count > 0 && ring.count == 2000 - gone)
    }

    @Test func withoutAnEventNothingIsKept() throws {
        let (keeper, kept) = try Self.run(Self.keep(before: 5000, after: 2000, windows: 10), count: 100, events: [])
        #expect(kept.isEmpty && keeper.windows.isEmpty)
        #expect(keeper.counts.discardedPackets == 100 && keeper.closesLastWindowAt == nil)
    }
}
