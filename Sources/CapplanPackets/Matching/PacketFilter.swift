/// A BPF filter expression checked by libpcap, the same compiler tcpdump uses, so a filter
/// that passes here is one tcpdump and the live capture accept.
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
        do {
            return try BPFProgram(expression, linkType: linkType.rawValue, snaplen: snaplen).acceptsSomething ? .accepts : .rejectsAll
        } catch {
            return error.message.contains("rejects all packets") ? .rejectsAll : .invalid(error.message)
        }
    }
}
