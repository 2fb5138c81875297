/// The link-layer header types capplan captures on, as libpcap's DLT numbers.
public enum LinkType: Int32, Sendable, CaseIterable, Codable {
    /// Ethernet: veths, bridges and physical NICs.
    case ethernet = 1
    /// Linux cooked capture v2: what libpcap delivers for the `any` pseudo-interface.
    case linuxSLL2 = 276

    public var displayName: String {
        switch self {
        case .ethernet: "Ethernet"
        case .linuxSLL2: "Linux cooked v2 (interface any)"
        }
    }
}
