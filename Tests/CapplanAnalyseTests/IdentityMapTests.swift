import CapplanAnalyse
import CapplanPackets
import Testing

/// Address → identity: the most specific name wins, the first of two for one address, and a
/// cluster's worth of pods (each a single address) is named in one pass, looked up by hash.
struct IdentityMapTests {
    static func block(_ text: String) throws -> CIDR { try CIDR.parse(text).get() }
    static func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }

    @Test func theMostSpecificNameWins() throws {
        var map = IdentityMap()
        map.add(try Self.block("0.0.0.0/0"), Identity(name: "", kind: .external))
        map.add(try Self.block("10.244.0.0/16"), Identity(name: "pod network", kind: .other))
        map.add(try Self.block("10.244.1.0/24"), Identity(name: "pod network of node b", kind: .other))
        map.add(try Self.block("10.244.1.7/32"), Identity(name: "myapp/web-1", kind: .pod))
        map.add(try Self.block("10.244.1.7/32"), Identity(name: "myapp/web-2", kind: .pod))
        map.add(try Self.block("2001:db8::/32"), Identity(name: "v6", kind: .other))
        #expect(map.identity(of: try Self.address("10.244.1.7"))?.name == "myapp/web-1", "the first of two for one address")
        #expect(map.identity(of: try Self.address("10.244.1.8"))?.name == "pod network of node b")
        #expect(map.identity(of: try Self.address("10.244.2.8"))?.name == "pod network")
        #expect(map.identity(of: try Self.address("203.0.113.12"))?.kind == .external)
        #expect(map.identity(of: try Self.address("2001:db8::1"))?.name == "v6")
        #expect(map.identity(of: try Self.address("2001:db9::1")) == nil, "0.0.0.0/0 holds no IPv6 address")
        #expect(map.hostNames.map(\.names) == [["web-1.myapp.pod"], ["web-2.myapp.pod"]])
    }

    @Test func blocksAddedInAnyOrderAreTriedLongestFirst() throws {
        let blocks = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25"]
        for order in [blocks, blocks.reversed(), [blocks[2], blocks[0], blocks[3], blocks[1]]] {
            var map = IdentityMap()
            for text in order { map.add(try Self.block(text), Identity(name: text, kind: .other)) }
            #expect(map.identity(of: try Self.address("10.1.2.200"))?.name == "10.1.2.128/25", "\(order)")
            #expect(map.identity(of: try Self.address("10.1.2.100"))?.name == "10.1.2.0/24", "\(order)")
            #expect(map.identity(of: try Self.address("10.1.3.1"))?.name == "10.1.0.0/16", "\(order)")
        }
    }

    /// 60,000 pods: each named (adding one sorted every entry again, and each lookup read them in turn).
    @Test func aLargeClusterIsNamed() throws {
        var map = IdentityMap()
        map.add(try Self.block("10.0.0.0/8"), Identity(name: "pod network", kind: .other))
        for n in 0..<60_000 as Range<UInt32> {
            map.add(CIDR(address: IPAddress(ipv4: 0x0A00_0000 | n), prefixLength: 32), Identity(name: "ns/pod-\(n)", kind: .pod))
        }
        #expect((0..<60_000 as Range<UInt32>).allSatisfy { map.identity(of: IPAddress(ipv4: 0x0A00_0000 | $0))?.name == "ns/pod-\($0)" })
        #expect(map.identity(of: IPAddress(ipv4: 0x0A01_0000))?.name == "pod network")
        let pseudonyms = map.mapped { IPAddress(ipv4: UInt32(truncatingIfNeeded: $0.low) ^ 0x0100_0000) }
        #expect(pseudonyms.identity(of: IPAddress(ipv4: 0x0B00_0005))?.name == "ns/pod-5")
        #expect(pseudonyms.identity(of: IPAddress(ipv4: 0x0B01_0000))?.name == "pod network")
    }
}
