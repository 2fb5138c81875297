@testable import CapplanAnalyse
import CapplanTestSupport
import Testing

/// A batch hands back every packet's item and bytes as they were appended, through its storage's
/// growth and after it is emptied for reuse: a packet of 9,000 bytes and thousands of items in a
/// batch made for 4 items and 64 bytes.
struct PacketBatchTests {
    @Test func itemsAndBytesComeBackAsAppendedThroughGrowthAndReuse() {
        let batch = PacketBatch<(number: Int, raw: Range<Int>)>(items: 4, bytes: 64)
        var random = SplitMix64(seed: 5)
        for round in 0..<3 {
            var expected: [[UInt8]] = []
            for number in 0..<(round == 1 ? 3 : 2_000) {
                let size = number == 7 ? 9_000 : Int(random.next() % 120)
                let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                expected.append(bytes)
                let range = bytes.withUnsafeBytes { batch.append(bytes: $0) }
                batch.append((number, range))
            }
            #expect(batch.count == expected.count)
            let mismatched = batch.appended.enumerated().filter { index, item in
                item.number != index || Array(batch.bytes(item.raw)) != expected[index]
            }.map(\.offset)
            #expect(mismatched.isEmpty, "round \(round): packets \(mismatched.prefix(5)) came back changed")
            batch.removeAll()
            #expect(batch.isEmpty)
        }
    }
}
