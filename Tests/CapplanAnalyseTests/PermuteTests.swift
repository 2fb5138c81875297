@testable import CapplanAnalyse
import CapplanTestSupport
import Testing

/// Records are put in order by moving each once along the cycles of a permutation: the result is
/// the same as building the array anew, for elements that hold references too.
struct PermuteTests {
    @Test func movesEachElementWhereTheOrderSays() {
        var random = SplitMix64(seed: 5)
        for count in [0, 1, 2, 3, 17, 1000] {
            // Strings too long to sit inline, so a lost or doubled element shows as a wrong value or a crash.
            let original = (0..<count).map { "a connection record that lives on the heap, number \($0)" }
            var order = Array(0..<count)
            for index in order.indices.reversed() where index > 0 { order.swapAt(index, Int(random.next() % UInt64(index + 1))) }
            var permuted = original
            permuted.permute(into: order)
            #expect(permuted == order.map { original[$0] }, "\(count) elements")
        }
    }
}
