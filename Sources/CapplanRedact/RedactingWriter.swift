public import CapplanPackets

/// The one redact → write stage, shared by `apply` (live packets) and `capplan redact` (a file):
/// every packet is redacted before any byte of it reaches the file.
public final class RedactingWriter {
    public let redactor: Redactor
    /// Classic pcap (one link type), or pcapng (a section comment and one interface per capture
    /// point): exactly one is set. Two fields rather than an enum: matching an enum per packet cost
    /// a retain and a release.
    private let pcap: PcapWriter?
    private let pcapng: PcapngWriter?
    /// With two threads (`RedactPipeline`) the caller's reads `redactor` for every packet while the
    /// writing thread counts `written`: kept off each other's cache lines.
    private let apart = CacheLinePadding()
    /// Packets written so far (the drop filter may leave some out).
    // Counted per packet by the one thread that writes: no dynamic exclusivity checks.
    @exclusivity(unchecked) public private(set) var written = 0

    /// What a pcapng's first blocks say: the section's comment and application, and the interfaces.
    public struct PcapngHeader: Sendable {
        public var comment: String
        public var application: String
        public var interfaces: [PcapngInterface]

        public init(comment: String, application: String, interfaces: [PcapngInterface]) {
            self.comment = comment
            self.application = application
            self.interfaces = interfaces
        }
    }

    /// Writes classic pcap, or pcapng when `pcapng` describes the file's first blocks.
    public convenience init(path: String, rules: RedactionRules, linkType: Int32, snaplen: Int, pcapng: PcapngHeader? = nil) throws {
        try self.init(path: path, redactor: try Redactor(rules: rules, linkType: linkType, snaplen: snaplen), linkType: linkType, snaplen: snaplen,
                      pcapng: pcapng)
    }

    /// With a redactor made beforehand (its key already chose the run's pseudonyms).
    public init(path: String, redactor: Redactor, linkType: Int32, snaplen: Int, pcapng: PcapngHeader? = nil) throws {
        self.redactor = redactor
        if let pcapng {
            self.pcapng = try PcapngWriter(path: path, comment: pcapng.comment, application: pcapng.application, interfaces: pcapng.interfaces)
            pcap = nil
        } else {
            pcap = try PcapWriter(path: path, linkType: linkType, snaplen: snaplen)
            self.pcapng = nil
        }
    }

    /// Redacts and writes one packet; returns the redacted packet (valid until the next call),
    /// or nil when the drop filter leaves it out.
    public func write(_ packet: RawPacket) -> RedactedPacket? {
        guard let redacted = redact(packet) else { return nil }
        append(redacted, interface: packet.source)
        return redacted
    }

    /// The redaction alone, for a caller that looks at the packet before `append` writes it.
    public func redact(_ packet: RawPacket) -> RedactedPacket? { redactor.redact(packet) }

    /// The redaction, with what the redacted bytes decode to in `decoded` (`Redactor.redactDecoded`).
    public func redactDecoded(_ packet: RawPacket, into decoded: inout DecodedPacket) -> RedactedPacket? {
        redactor.redactDecoded(packet, into: &decoded)
    }

    /// Writes a packet `redact` returned; `direction` goes into a pcapng's packet flags. Returns
    /// its number in the file (`written`): read from another module, the property would be
    /// checked for exclusive access on every packet.
    @discardableResult
    public func append(_ redacted: RedactedPacket, interface: Int, direction: PacketDirection? = nil) -> Int {
        pcap?.write(timestamp: redacted.timestamp, bytes: redacted.bytes, originalLength: redacted.originalLength)
        pcapng?.write(interface: interface, timestamp: redacted.timestamp, bytes: redacted.bytes, originalLength: redacted.originalLength,
                      direction: direction)
        written += 1
        return written
    }

    /// The pcapng writer's checkpoints (none for a classic pcap), for adding comments later.
    public var checkpoints: [PcapngCheckpoint] { pcapng?.checkpoints ?? [] }

    /// A pcapng's name resolution: addresses as the capture shows them (already pseudonymized by
    /// the caller when the rules say so). Nothing for classic pcap.
    public func writeNames(_ entries: [(address: IPAddress, names: [String])]) {
        pcapng?.writeNames(entries)
    }

    public func flush() throws {
        try pcap?.flush()
        try pcapng?.flush()
    }

    public func close() {
        pcap?.close()
        pcapng?.close()
    }
}
