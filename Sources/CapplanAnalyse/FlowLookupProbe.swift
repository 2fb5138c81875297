public import CapplanPackets

/// The flow lookup alone, as the analysis does it per packet (key, find, insert when new), for the
/// per-stage figures of the benchmarks (`capplan report --stages`): what the flow table costs
/// apart from the TCP analysis that follows it.
public struct FlowLookupProbe {
    private var table = FlowTable()
    private var slots = 0

    public init() {}

    public mutating func look(_ packet: DecodedPacket) {
        guard packet.network == .ipv4 || packet.network == .ipv6, packet.transport != .none else { return }
        let key = FlowKey(source: Endpoint(address: packet.source, port: packet.sourcePort),
                          destination: Endpoint(address: packet.destination, port: packet.destinationPort), proto: packet.ipProtocol)
        if table.find(key) == nil {
            table.insert(key, slots)
            slots += 1
        }
    }
}
