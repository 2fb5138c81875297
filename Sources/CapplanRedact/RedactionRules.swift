public import CapplanPackets

/// What to remove from every packet: the plan's `redact:` section, in the packet layer's terms.
public struct RedactionRules: Sendable {
    public enum Payload: Sendable, Equatable {
        case keep, drop
        case truncate(Int)
    }

    public enum MACs: String, Sendable { case keep, zero, pseudonymize }

    public var payload: Payload
    public var pseudonymizeAddresses: Bool
    public var keepNetworks: [CIDR]
    public var macs: MACs
    /// PCRE2 patterns whose matches in TCP and UDP payloads are masked byte for byte.
    public var scrub: [String]
    /// A BPF filter of packets to leave out entirely.
    public var dropFilter: String?
    /// The 32-byte Crypto-PAn key; nil: a fresh random key for this run.
    public var key: [UInt8]?

    public init(payload: Payload = .drop, pseudonymizeAddresses: Bool = false, keepNetworks: [CIDR] = [], macs: MACs = .keep,
                scrub: [String] = [], dropFilter: String? = nil, key: [UInt8]? = nil) {
        self.payload = payload
        self.pseudonymizeAddresses = pseudonymizeAddresses
        self.keepNetworks = keepNetworks
        self.macs = macs
        self.scrub = scrub
        self.dropFilter = dropFilter
        self.key = key
    }

    /// Nothing is changed (`redact: none`).
    public static let none = RedactionRules(payload: .keep)

    public var changesNothing: Bool {
        payload == .keep && !pseudonymizeAddresses && macs == .keep && scrub.isEmpty && dropFilter == nil
    }
}

/// What redaction did, for the report: how many packets each rule touched.
public struct RedactionStats: Sendable, Codable, Equatable {
    public var packetsIn = 0
    public var packetsOut = 0
    public var droppedByFilter = 0
    public var payloadsCut = 0
    public var payloadBytesRemoved: Int64 = 0
    public var addressesPseudonymized = 0
    public var macsRewritten = 0
    public var dnsAnswersRewritten = 0
    public var arpRewritten = 0
    /// Addresses pseudonymized in text: the nodes' rule counters and conntrack tables.
    public var textAddressesRewritten = 0
    /// Matches per scrub pattern, in the order of the rules.
    public var scrubMatches: [Int] = []
    public var checksumsUpdated = 0
}
