public import CapplanPackets

/// The one redact → write stage, shared by `apply` (live packets) and `capplan redact` (a file):
/// every packet is redacted before any byte of it reaches the file.
public final class RedactingWriter {
    public let redactor: Redactor
    private let writer: PcapWriter
    /// Packets written so far (the drop filter may leave some out).
    public private(set) var written = 0

    public init(path: String, rules: RedactionRules, linkType: Int32, snaplen: Int) throws {
        redactor = try Redactor(rules: rules, linkType: linkType, snaplen: snaplen)
        writer = try PcapWriter(path: path, linkType: linkType, snaplen: snaplen)
    }

    /// Redacts and writes one packet; returns the redacted packet (valid until the next call),
    /// or nil when the drop filter leaves it out.
    public func write(_ packet: RawPacket) -> RedactedPacket? {
        guard let redacted = redactor.redact(packet) else { return nil }
        writer.write(timestamp: redacted.timestamp, bytes: redacted.bytes, originalLength: redacted.originalLength)
        written += 1
        return redacted
    }

    public func flush() throws { try writer.flush() }

    public func close() { writer.close() }
}
