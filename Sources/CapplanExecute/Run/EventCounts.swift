import CapplanAnalyse
import CapplanLoad
import CapplanPackets

/// The stop condition, watched as the analysis counts events.
struct EventCounts {
    var resets = 0, icmpErrors = 0, dnsFailures = 0, synRetries = 0

    /// A new event of the stop condition's kind (from its peer, when it names one), if one just happened.
    mutating func newEvent(_ stop: StopCondition, in analyzer: ConnectionAnalyzer, identities: IdentityMap) -> String? {
        defer {
            resets = analyzer.resets.count
            icmpErrors = analyzer.icmpErrors.count
            dnsFailures = analyzer.totals.dnsFailures
            synRetries = analyzer.totals.unansweredSynRetries
        }
        func from(_ address: IPAddress) -> Bool { stop.from.map { Verdict.matches($0, address, identities) } ?? true }
        switch stop.when {
        case .reset, .refused:
            for event in analyzer.resets.dropFirst(resets) where event.answeredSyn == (stop.when == .refused) && from(event.sender.address) {
                return "\(stop.when == .refused ? "refusal" : "reset") from \(event.sender) to \(event.receiver)"
            }
        case .icmpUnreachable:
            for event in analyzer.icmpErrors.dropFirst(icmpErrors) where from(event.reporter) {
                return "ICMP \(event.description) from \(event.reporter)"
            }
        case .dnsFailure:
            if analyzer.totals.dnsFailures > dnsFailures { return "a failed DNS lookup" }
        case .unansweredSYN:
            if analyzer.totals.unansweredSynRetries > synRetries { return "a SYN sent again without an answer" }
        case .handshake:
            return nil
        }
        return nil
    }
}
