public import CapplanPackets

/// One side of a connection: an address and a port (0 for ICMP).
public struct Endpoint: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, BitwiseCopyable {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `(address, port) < (address, port)`, word by word (family, high half, low half, port): every
    /// flow key and path view puts its two endpoints in order for every packet, and the tuple
    /// comparison through `IPAddress`'s `<` cost about twice as much.
    @inline(__always)
    public static func < (a: Endpoint, b: Endpoint) -> Bool {
        if a.address.isIPv6 != b.address.isIPv6 { return b.address.isIPv6 }
        if a.address.high != b.address.high { return a.address.high < b.address.high }
        if a.address.low != b.address.low { return a.address.low < b.address.low }
        return a.port < b.port
    }

    /// `10.0.0.1:443`, `[2001:db8::1]:443`.
    public var description: String {
        address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// A flow's identity that is the same for A→B and B→A (the smaller endpoint first).
struct FlowKey: Hashable {
    var low: Endpoint
    var high: Endpoint
    var proto: UInt8

    /// The key, and whether the packet goes from `low` to `high`.
    @inline(__always)
    init(source: Endpoint, destination: Endpoint, proto: UInt8) {
        if source < destination {
            low = source
            high = destination
        } else {
            low = destination
            high = source
        }
        self.proto = proto
    }
}
