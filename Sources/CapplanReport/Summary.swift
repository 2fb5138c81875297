public import CapplanAnalyse
public import CapplanPackets

/// The result of analysing one capture: what `summary.json` holds (schema version 1,
/// documented in docs/summary-schema.md) and what `summary.md` renders.
public struct Summary: Sendable, Codable {
    /// 2: addresses are text (`198.51.100.10`), no longer `{high, low, isIPv6}`.
    public static let currentSchemaVersion = 2

    public var schemaVersion = Summary.currentSchemaVersion
    public var capture: CaptureInfo
    /// The answer first: what matters, in plain words, with packet numbers as evidence.
    public var findings: [Finding]
    public var connections: ConnectionTable
    /// Exact counts; the lists below hold at most 1000 of each, in capture order.
    public var counts: EventCounts
    public var resets: [LabelledReset]
    public var refused: [ConnectionGroup]
    public var unansweredSyns: [ConnectionGroup]
    public var icmpErrors: [ICMPErrorEvent]
    public var dnsFailures: [DNSFailure]
    public var topTalkers: [TopTalker]
    public var expert: ExpertCounts
    /// Every address that appears above, with its label where the identity map had one.
    public var labels: [String: Identity]
    /// `interfaces: path`: the capture points, and each connection followed across them.
    public var path: PathReport?

    public struct CaptureInfo: Sendable, Codable {
        public var file: String
        public var linkType: String
        public var packets: Int
        /// `capture.keep`: the packets the file holds; `packets` counts every one seen and analysed.
        public var keptPackets: Int? = nil
        public var bytes: Int64
        public var start: String?
        public var end: String?
        public var durationSeconds: Double
        public var truncatedPackets: Int
        /// DNS messages whose header the snaplen cut off: their outcome is unknown.
        public var dnsMessagesCut = 0
        public var undecodedPackets: Int
        public var fragments: Int
        /// Copies of one packet seen on a second interface (`-i any`), counted once.
        public var duplicateCopiesDropped: Int
        /// Connections ended early because the open-flow limit was reached; absent when none were.
        public var connectionsEvicted: Int? = nil
        /// Set when the file ended in error (e.g. cut mid-packet); the report covers what came before.
        public var readError: String?
    }

    public struct Finding: Sendable, Codable, Equatable {
        public enum Severity: String, Sendable, Codable { case error, warning, info }
        /// reset, refused, unanswered-syn, icmp-error, dns-failure, zero-window, retransmissions, capture.
        public var kind: String
        public var severity: Severity
        public var text: String
        public var packets: [Int]
        public var times: [Double]
    }

    public struct EventCounts: Sendable, Codable {
        public var resets: Int
        public var icmpErrors: Int
        public var dnsFailures: Int
    }

    public struct ConnectionTable: Sendable, Codable {
        public var total: Int
        public var tcp: Int
        public var udp: Int
        /// ICMP messages grouped as Zeek does (see connections.list, proto "icmp").
        public var icmp = 0
        public var byState: [String: Int]
        /// Connections in the order they started (at most `ConnectionAnalyzer.recordLimit`).
        public var list: [ConnectionRecord]
    }

    public struct LabelledReset: Sendable, Codable {
        public var event: ResetEvent
        public var senderLabel: Identity?
        public var receiverLabel: Identity?
        /// Why, as far as the packets tell.
        public var interpretation: String
    }

    public struct ConnectionGroup: Sendable, Codable {
        public var destination: Endpoint
        public var destinationLabel: Identity?
        public var clients: [String]
        public var connections: Int
        public var synRetries: Int
        public var packets: [Int]
    }

    public struct TopTalker: Sendable, Codable {
        public var address: IPAddress
        public var label: Identity?
        public var packets: Int
        public var bytes: Int64
    }
}

extension Summary {
    /// `text` (an address or endpoint) followed by its address's label, when the identity map had one:
    /// `198.51.100.10:40000 (pod myapp/web-1)`.
    public func labelled(_ text: String, address: IPAddress) -> String {
        labels[address.description].map { "\(text) (\($0))" } ?? text
    }
}
