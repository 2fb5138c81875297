internal import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// Owns a libpcap dumper writing a classic pcap file with nanosecond timestamps;
/// closes it in deinit. Every write goes through libpcap, the one pcap library.
public final class PcapWriter {
    public let path: String
    private var dead: OpaquePointer?
    private var dumper: OpaquePointer?

    public init(path: String, linkType: Int32, snaplen: Int) throws(PcapError) {
        guard let dead = pcap_open_dead_with_tstamp_precision(linkType, Int32(snaplen), UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw PcapError("pcap_open_dead", "cannot open a handle for link type \(linkType)", path: path)
        }
        guard let file = fopen(path, "wb") else {
            let message = String(cString: strerror(errno))
            pcap_close(dead)
            throw PcapError("fopen", message, path: path)
        }
        // A larger buffer than stdio's 4 KiB, set before libpcap writes the file header: fewer
        // write calls. `flush` still pushes everything out, so an interrupted run loses no more.
        setvbuf(file, nil, _IOFBF, Self.bufferSize)
        guard let dumper = pcap_dump_fopen(dead, file) else {
            let message = String(cString: pcap_geterr(dead))
            fclose(file)
            pcap_close(dead)
            throw PcapError("pcap_dump_fopen", message, path: path)
        }
        self.path = path
        self.dead = dead
        self.dumper = dumper
    }

    deinit { close() }

    static let bufferSize = 1 << 18

    public func write(timestamp: Timestamp, bytes: UnsafeRawBufferPointer, originalLength: Int) {
        guard let dumper, let base = bytes.baseAddress else { return }
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestamp.nanoseconds / 1_000_000_000)
        header.ts.tv_usec = Int(timestamp.nanoseconds % 1_000_000_000)
        header.caplen = UInt32(bytes.count)
        header.len = UInt32(max(originalLength, bytes.count))
        pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header,
                  base.assumingMemoryBound(to: UInt8.self))
    }

    /// Pushes buffered packets to the file, so an interrupted run leaves a readable pcap.
    public func flush() throws(PcapError) {
        guard let dumper else { return }
        if pcap_dump_flush(dumper) != 0 { throw PcapError("pcap_dump_flush", "cannot write \(path)", path: path) }
    }

    /// Idempotent.
    public func close() {
        if let dumper { pcap_dump_close(dumper) }
        if let dead { pcap_close(dead) }
        dumper = nil
        dead = nil
    }
}
