internal import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// Live capture with libpcap on one or more interfaces at once, merged into one stream
/// in timestamp order. Each handle hands packets over in batches at most `bufferTimeout`
/// old (immediate mode would wake capplan for every packet: eight times tcpdump's CPU per
/// packet under iperf3, measured here) and is non-blocking; one poll loop serves them all,
/// so a stop request is seen within `pollInterval`.
public final class LiveCapture: PacketSource {
    public struct Statistics: Sendable, Equatable, Codable {
        public var interface: String
        public var received: UInt32
        public var droppedByKernel: UInt32
        public var droppedByInterface: UInt32

        public init(interface: String, received: UInt32, droppedByKernel: UInt32, droppedByInterface: UInt32) {
            self.interface = interface
            self.received = received
            self.droppedByKernel = droppedByKernel
            self.droppedByInterface = droppedByInterface
        }
    }

    public let interfaces: [String]
    public let linkType: Int32
    public let snaplen: Int
    /// How long a packet may wait for the other interfaces before it is passed on (merge window).
    public var mergeWindow: Int64 = 50_000_000
    public var pollInterval: Int32 = 100
    /// The longest a packet waits in the kernel's buffer before capplan sees it.
    static let bufferTimeoutMilliseconds: Int32 = 20

    // Read per packet by the capture loop alone (`close` runs after it): no dynamic exclusivity checks.
    @exclusivity(unchecked) private var handles: [OpaquePointer] = []
    @exclusivity(unchecked) private var merger: PacketMerger
    /// Live interfaces do not end by themselves.
    public let endedEarly: String? = nil

    /// A pcap_t pointer carried across the namespace thread.
    private struct Handle: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
    }

    /// Opens every interface; with `namespace`, inside that network namespace (the handles then
    /// capture there, while the rest of the process stays where it is).
    public static let defaultBufferSize = 8 << 20

    public init(interfaces: [String], filter: String, snaplen: Int, bufferSize: Int = defaultBufferSize, namespace: String? = nil) throws(PcapError) {
        guard !interfaces.isEmpty else { throw PcapError("pcap_create", "no interface to capture on") }
        self.interfaces = interfaces
        self.snaplen = snaplen
        merger = PacketMerger(count: interfaces.count)
        let openAll = { () throws -> [Handle] in
            var opened: [OpaquePointer] = []
            do {
                for name in interfaces { opened.append(try Self.open(name, filter: filter, snaplen: snaplen, bufferSize: bufferSize)) }
            } catch {
                for handle in opened { pcap_close(handle) }
                throw error
            }
            return opened.map(Handle.init)
        }
        let opened: [OpaquePointer]
        do {
            let handles = try namespace.map { try NetworkNamespace.perform(in: $0, openAll) } ?? openAll()
            opened = handles.map { (handle: Handle) in handle.pointer }
        } catch let error as PcapError {
            throw error
        } catch {
            throw PcapError("setns", "\(error)", path: namespace)
        }
        handles = opened
        let types = Set(opened.map { pcap_datalink($0) })
        guard types.count == 1, let type = types.first else {
            handles = []
            for handle in opened { pcap_close(handle) }
            throw PcapError("pcap_datalink", "the interfaces \(interfaces.joined(separator: ", ")) have different link types; capture them one at a time, or use interfaces: any")
        }
        linkType = type
    }

    deinit { close() }

    /// Idempotent.
    public func close() {
        for handle in handles { pcap_close(handle) }
        handles = []
    }

    private static func open(_ name: String, filter: String, snaplen: Int, bufferSize: Int) throws(PcapError) -> OpaquePointer {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(name, &errorBuffer) else {
            throw PcapError("pcap_create", PcapReader.message(errorBuffer), path: name)
        }
        func check(_ result: Int32, _ function: String) throws(PcapError) {
            guard result >= 0 else {
                let message = String(cString: pcap_geterr(handle))
                pcap_close(handle)
                throw PcapError(function, message.isEmpty ? String(cString: pcap_statustostr(result)) : message, path: name)
            }
        }
        try check(pcap_set_snaplen(handle, Int32(snaplen)), "pcap_set_snaplen")
        try check(pcap_set_timeout(handle, Self.bufferTimeoutMilliseconds), "pcap_set_timeout")
        try check(pcap_set_buffer_size(handle, Int32(bufferSize)), "pcap_set_buffer_size")
        try check(pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO)), "pcap_set_tstamp_precision")
        try check(pcap_activate(handle), "pcap_activate")
        do {
            try BPFProgram(filter, handle: handle).install(on: handle)
        } catch {
            pcap_close(handle)
            throw PcapError(error.function, error.message, path: name)
        }
        try check(pcap_setnonblock(handle, 1, &errorBuffer), "pcap_setnonblock")
        return handle
    }

    /// Captures until `shouldStop` says so, handing each packet to `body` in timestamp order.
    /// The bytes are valid only during the call. Packets still queued at the stop are delivered.
    public func run(shouldStop: () -> Bool, _ body: (RawPacket) -> Void) throws(PcapError) {
        var descriptors = handles.map { pollfd(fd: pcap_get_selectable_fd($0), events: Int16(POLLIN), revents: 0) }
        while !shouldStop() {
            let ready = poll(&descriptors, nfds_t(descriptors.count), pollInterval)
            if ready < 0 && errno != EINTR { throw PcapError("poll", String(cString: strerror(errno))) }
            for index in handles.indices where ready > 0 && descriptors[index].revents != 0 {
                try drain(index, body)
            }
            let limit = Self.now() - mergeWindow
            merger.deliver(while: { $0.timestamp.nanoseconds <= limit }, body)
        }
        for index in handles.indices { try drain(index, body) }
        merger.deliver(while: { _ in true }, body)
    }

    /// Reads everything the handle has now. A single interface needs no merge: packets go straight out.
    private func drain(_ index: Int, _ body: (RawPacket) -> Void) throws(PcapError) {
        let handle = handles[index]
        while true {
            var header: UnsafeMutablePointer<pcap_pkthdr>?
            var data: UnsafePointer<UInt8>?
            let result = pcap_next_ex(handle, &header, &data)
            if result == 0 { return }  // nothing more right now
            guard result == 1, let header, let data else {
                throw PcapError("pcap_next_ex", String(cString: pcap_geterr(handle)), path: interfaces[index])
            }
            let timestamp = Timestamp(nanoseconds: Int64(header.pointee.ts.tv_sec) * 1_000_000_000 + Int64(header.pointee.ts.tv_usec))
            let captured = Int(header.pointee.caplen)
            if handles.count == 1 {
                body(RawPacket(timestamp: timestamp, originalLength: Int(header.pointee.len), bytes: UnsafeRawBufferPointer(start: data, count: captured)))
            } else {
                merger.append(.init(timestamp: timestamp, originalLength: Int(header.pointee.len),
                                    bytes: Array(UnsafeBufferPointer(start: data, count: captured)), arrival: 0), to: index)
            }
        }
    }

    /// Kernel counters per interface (pcap_stats).
    public func statistics() -> [Statistics] {
        zip(interfaces, handles).map { name, handle in
            var stats = pcap_stat()
            _ = pcap_stats(handle, &stats)
            return Statistics(interface: name, received: stats.ps_recv, droppedByKernel: stats.ps_drop, droppedByInterface: stats.ps_ifdrop)
        }
    }

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
