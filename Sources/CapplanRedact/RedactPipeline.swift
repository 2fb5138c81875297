public import CapplanPackets

/// `capplan redact` on two cores: the caller's thread reads and redacts, a second thread
/// (`HandOff`) writes, in the order handed over, so the file is byte for byte what one thread
/// writes. With one thread the caller does both.
public final class RedactPipeline {
    private let writer: RedactingWriter
    private let writing: HandOff<Batch>?
    // Touched per packet by the caller's thread alone: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var batch = Batch()
    static let batchSize = 2048

    /// Redacted packets copied out of the redactor's buffer, for the writing thread.
    struct Batch: Sendable {
        struct Record: Sendable {
            var timestamp: Timestamp
            var bytes: Range<Int>
            var originalLength: Int
            var interface: Int
        }

        var records: [Record] = []
        var bytes: [UInt8] = []
    }

    /// `writer` is written by the second thread alone until `finish`; its redactor by the caller's.
    public init(writer: RedactingWriter, threads: Int) {
        self.writer = writer
        guard threads > 1 else {
            writing = nil
            return
        }
        let output = UncheckedWriter(writer)
        writing = HandOff(name: "capplan writer") { batch in
            batch.bytes.withUnsafeBytes { raw in
                for record in batch.records {
                    output.writer.append(RedactedPacket(timestamp: record.timestamp, bytes: UnsafeRawBufferPointer(rebasing: raw[record.bytes]),
                                                        originalLength: record.originalLength), interface: record.interface)
                }
            }
            batch.records.removeAll(keepingCapacity: true)
            batch.bytes.removeAll(keepingCapacity: true)
        }
        writing?.start()
    }

    /// Redacts one packet and hands it to the writing thread (or writes it).
    public func add(_ packet: RawPacket) {
        // Compared with nil, not bound: binding the HandOff retained and released it per packet.
        if writing == nil {
            _ = writer.write(packet)
            return
        }
        guard let redacted = writer.redact(packet) else { return }
        let start = batch.bytes.count
        batch.bytes.append(contentsOf: redacted.bytes)
        batch.records.append(.init(timestamp: redacted.timestamp, bytes: start..<batch.bytes.count, originalLength: redacted.originalLength,
                                   interface: packet.source))
        if batch.records.count >= Self.batchSize { handOver() }
    }

    private func handOver() {
        guard let writing else { return }
        writing.submit(batch)
        batch = writing.reuse() ?? Batch()
    }

    /// Waits until every packet is written; call before flushing or closing the writer.
    public func finish() {
        guard let writing else { return }
        if !batch.records.isEmpty { writing.submit(batch) }
        batch = Batch()
        writing.finish()
    }

    /// The writer, handed to the writing thread: it alone appends until `finish` returns.
    private struct UncheckedWriter: @unchecked Sendable {
        let writer: RedactingWriter
        init(_ writer: RedactingWriter) { self.writer = writer }
    }
}
