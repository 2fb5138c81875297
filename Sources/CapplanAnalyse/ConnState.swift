/// Zeek's `conn_state` vocabulary (base/protocols/conn/main.zeek), so people who
/// know Zeek read capplan's tables without a legend.
public enum ConnState: String, Sendable, Codable, CaseIterable {
    case S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH

    /// A number of its own for each state, 0 to 12: a connection is counted by state as it is
    /// summarised, and hashing the state (by its name, as an enum with raw values is) cost more
    /// than the count. The switch is exhaustive, so a new state cannot go without one.
    var ordinal: Int {
        switch self {
        case .S0: 0
        case .S1: 1
        case .SF: 2
        case .REJ: 3
        case .S2: 4
        case .S3: 5
        case .RSTO: 6
        case .RSTR: 7
        case .RSTOS0: 8
        case .RSTRH: 9
        case .SH: 10
        case .SHR: 11
        case .OTH: 12
        }
    }

    public var meaning: String {
        switch self {
        case .S0: "connection attempt seen, no reply"
        case .S1: "established, not terminated"
        case .SF: "normal establishment and termination"
        case .REJ: "connection attempt rejected"
        case .S2: "established, close attempt by originator seen (no reply from responder)"
        case .S3: "established, close attempt by responder seen (no reply from originator)"
        case .RSTO: "established, originator aborted (sent a RST)"
        case .RSTR: "responder sent a RST"
        case .RSTOS0: "originator sent a SYN followed by a RST, no SYN-ACK from the responder"
        case .RSTRH: "responder sent a SYN-ACK followed by a RST, no SYN from the originator"
        case .SH: "originator sent a SYN followed by a FIN, no SYN-ACK from the responder"
        case .SHR: "responder sent a SYN-ACK followed by a FIN, no SYN from the originator"
        case .OTH: "no SYN seen, just midstream traffic"
        }
    }
}

/// A TCP endpoint's state, as Zeek's TCP analyzer tracks it.
enum EndpointState: UInt8 {
    case inactive, synSent, synAckSent, partial, established, closed, reset

    var isInactive: Bool { self == .inactive || self == .partial }
}

extension ConnState {
    /// Zeek's conn_state() for TCP, from both endpoints' states, the payload sizes and the history.
    /// `history`: Zeek's history letters as bytes (read only for the rare state that needs them).
    static func tcp(originator os: EndpointState, responder rs: EndpointState,
                    originatorBytes: Int64, responderBytes: Int64, history: History) -> ConnState {
        if rs == .reset {
            if os == .synSent || os == .synAckSent || (os == .reset && originatorBytes == 0 && responderBytes == 0) { return .REJ }
            return os.isInactive ? .RSTRH : .RSTR
        }
        if os == .reset {
            if rs.isInactive {
                // /^?S[^HAFGIQ]*R.*/: a SYN, then nothing from the handshake onward, then a RST.
                return history.withLetters { all in
                    var letters = all[...]
                    if letters.first == UInt8(ascii: "^") { letters = letters.dropFirst() }
                    if letters.first == UInt8(ascii: "S"), let reset = letters.firstIndex(of: UInt8(ascii: "R")),
                       !letters[(letters.startIndex + 1)..<reset].contains(where: { "HAFGIQ".utf8.contains($0) }) {
                        return .RSTOS0
                    }
                    return .OTH
                }
            }
            return .RSTO
        }
        if rs == .closed && os == .closed { return .SF }
        if os == .closed { return rs.isInactive ? .SH : .S2 }
        if rs == .closed { return os.isInactive ? .SHR : .S3 }
        if os == .synSent && rs == .inactive { return .S0 }
        if os == .established && rs == .established { return .S1 }
        return .OTH
    }
}
