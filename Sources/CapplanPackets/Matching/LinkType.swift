/// The link-layer header types capplan reads, as libpcap's DLT numbers (pcap/dlt.h): the one
/// vocabulary for the decoder, the redactor, plan validation and the report.
public enum LinkType: Int32, Sendable, CaseIterable, Codable {
    case null = 0
    /// Ethernet: veths, bridges and physical NICs.
    case ethernet = 1
    case rawBSD = 12, rawOpenBSD = 14, rawLinktype = 101
    /// PPP, and PPP in HDLC-like framing.
    case ppp = 9, pppSerial = 50
    case loop = 108
    case linuxSLL = 113
    case ipv4 = 228, ipv6 = 229
    /// Linux cooked capture v2: what libpcap delivers for the `any` pseudo-interface.
    case linuxSLL2 = 276

    /// A DLT read from a file or a stream; one capplan cannot decode is an error that says which it can.
    public init(dlt: Int32) throws(PcapError) {
        guard let known = LinkType(rawValue: dlt) else {
            throw PcapError("decode", "link type \(dlt) is not one capplan decodes (Ethernet, Linux cooked v1/v2, raw IP, loopback, PPP)")
        }
        self = known
    }

    /// The link types live captures give: a veth, bridge or NIC, and the `any` pseudo-interface.
    public static let captured: [LinkType] = [.ethernet, .linuxSLL2]

    /// As plan validation says it: which interface gives it, where that helps.
    public var displayName: String { self == .linuxSLL2 ? name + " (interface any)" : name }

    /// As a report says it.
    public var name: String {
        switch self {
        case .null: "NULL (BSD loopback)"
        case .ethernet: "Ethernet"
        case .rawBSD, .rawOpenBSD, .rawLinktype: "raw IP"
        case .loop: "OpenBSD loopback"
        case .linuxSLL: "Linux cooked v1"
        case .ipv4: "raw IPv4"
        case .ipv6: "raw IPv6"
        case .linuxSLL2: "Linux cooked v2"
        case .ppp, .pppSerial: "PPP"
        }
    }

    /// The name of any DLT, known to capplan or not.
    public static func name(of dlt: Int32) -> String {
        LinkType(rawValue: dlt)?.name ?? "DLT \(dlt)"
    }
}
