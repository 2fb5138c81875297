@testable import CapplanAnalyse
import CapplanPackets
import Testing

/// The flows' store keeps an array's value semantics over memory it grows by `realloc`.
struct FlowStoreTests {
    private func flow(_ number: Int) -> Flow {
        Flow(originator: Endpoint(address: IPAddress(ipv4: 0xC633_6401), port: UInt16(truncatingIfNeeded: number)),
             responder: Endpoint(address: IPAddress(ipv4: 0xCB00_710C), port: 443), proto: 6, number: number, time: Int64(number), flipped: false)
    }

    /// Flows appended past several growths are all there, in their slots, as written.
    @Test func growingKeepsEveryFlowInItsSlot() {
        var store = FlowStore()
        for number in 0..<5000 { store.append(flow(number)) }
        #expect(store.count == 5000)
        let intact = store.withUnsafeBufferPointer { flows in flows.indices.allSatisfy { flows[$0].firstPacket == $0 && flows[$0].start == Int64($0) } }
        #expect(intact)
        store[1234].lastPacket = 99_999
        #expect(store[1234].lastPacket == 99_999)
        #expect(store[1233].lastPacket == 1233)
    }

    /// A copy is a value: writing to one leaves the other as it was, and emptying one does not
    /// take the flows from the other (a finishing analysis lets go of flows another thread reads).
    @Test func aCopyIsAValue() {
        var original = FlowStore()
        for number in 0..<3000 { original.append(flow(number)) }
        var copy = original
        copy[7].lastPacket = -1
        copy.append(flow(3000))
        #expect(original[7].lastPacket == 7)
        #expect(original.count == 3000)
        #expect(copy[7].lastPacket == -1 && copy.count == 3001)
        let held = original
        original.removeAll()
        #expect(original.isEmpty)
        #expect(held.count == 3000 && held[2999].firstPacket == 2999)
    }
}
