internal import CPcap

/// A BPF program compiled by libpcap: the one owner of `bpf_program` in capplan. Plan
/// validation, live capture and the redactor's drop filter all compile through it, so a filter
/// means the same thing everywhere (the compiler tcpdump uses, with its optimizer on).
public final class BPFProgram {
    private var program = bpf_program()

    /// Compiles `expression` for a link type (a DLT) on a dead handle.
    public init(_ expression: String, linkType: Int32, snaplen: Int32 = 262_144) throws(PcapError) {
        guard let dead = pcap_open_dead(linkType, snaplen) else {
            throw PcapError("pcap_open_dead", "libpcap could not open a handle for link type \(linkType)")
        }
        defer { pcap_close(dead) }
        try compile(expression, on: dead)
    }

    /// Compiles `expression` for an open capture handle (its link type and snaplen).
    init(_ expression: String, handle: OpaquePointer) throws(PcapError) {
        try compile(expression, on: handle)
    }

    private func compile(_ expression: String, on handle: OpaquePointer) throws(PcapError) {
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw PcapError("pcap_compile", String(cString: pcap_geterr(handle)))
        }
    }

    deinit { pcap_freecode(&program) }

    /// Whether the program accepts this packet.
    public func matches(_ packet: RawPacket) -> Bool {
        var header = pcap_pkthdr()
        header.caplen = UInt32(packet.bytes.count)
        header.len = UInt32(packet.originalLength)
        return packet.bytes.withMemoryRebound(to: UInt8.self) { pcap_offline_filter(&program, &header, $0.baseAddress) } != 0
    }

    /// Makes a live handle deliver only what the program accepts (in the kernel where it can).
    func install(on handle: OpaquePointer) throws(PcapError) {
        if pcap_setfilter(handle, &program) != 0 { throw PcapError("pcap_setfilter", String(cString: pcap_geterr(handle))) }
    }

    /// True when any return instruction can accept a packet. (The optimizer does not always
    /// report "rejects all packets"; a program whose every `ret` is 0 rejects all the same.)
    public var acceptsSomething: Bool {
        guard let instructions = program.bf_insns else { return false }
        let retClass: UInt16 = 0x06  // BPF_RET
        for index in 0..<Int(program.bf_len) {
            let instruction = instructions[index]
            if instruction.code & 0x07 == retClass {
                // BPF_K returns the constant; BPF_A returns the accumulator, which may be non-zero.
                let usesConstant = instruction.code & 0x18 == 0x00
                if !usesConstant || instruction.k != 0 { return true }
            }
        }
        return false
    }
}
