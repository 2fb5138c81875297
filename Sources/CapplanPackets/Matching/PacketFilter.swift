internal import CPcap

/// A BPF filter expression compiled by libpcap, the same compiler tcpdump uses,
/// so a filter that passes here is one tcpdump and the live capture accept.
public enum PacketFilter {
    public enum Outcome: Sendable, Equatable {
        /// libpcap compiled it and it can accept some packet.
        case accepts
        /// It compiles but no packet can ever match (libpcap: "expression rejects all packets").
        case rejectsAll
        /// libpcap refused it; the text is libpcap's own message.
        case invalid(String)
    }

    /// Compiles `expression` for `linkType` on a dead handle, with the optimizer on
    /// (the optimizer is what proves that an expression rejects every packet).
    public static func check(_ expression: String, linkType: LinkType, snaplen: Int32 = 262_144) -> Outcome {
        guard let handle = pcap_open_dead(linkType.rawValue, snaplen) else {
            return .invalid("libpcap could not open a handle for \(linkType.displayName)")
        }
        defer { pcap_close(handle) }
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            let message = String(cString: pcap_geterr(handle))
            return message.contains("rejects all packets") ? .rejectsAll : .invalid(message)
        }
        defer { pcap_freecode(&program) }
        return acceptsSomething(program) ? .accepts : .rejectsAll
    }

    /// True when any return instruction of the program can accept a packet.
    /// (The optimizer does not always report "rejects all"; a program whose every
    /// `ret` is 0 rejects all the same.)
    private static func acceptsSomething(_ program: bpf_program) -> Bool {
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
