import CapplanAnalyse
import CapplanLoad
import Foundation

/// When the capture ends: the plan's duration, maxPackets or maxBytes, its stop condition plus
/// grace, or Ctrl-C; and the reason, in words, for run.json and steps.log.
struct StopPolicy {
    let plan: Plan
    let deadline: Date
    private(set) var reason: String
    private var stopAt: Date?
    private var seen = EventCounts()

    init(plan: Plan, start: Date) {
        self.plan = plan
        deadline = start.addingTimeInterval(plan.capture.duration.seconds)
        reason = "duration \(plan.capture.duration) reached"
    }

    /// True once the capture should stop.
    mutating func shouldStop(now: Date, captured: Int, bytes: Int64, interrupted: String?) -> Bool {
        if let interrupted {
            reason = "\(interrupted) received"
            return true
        }
        if let stopAt, now >= stopAt { return true }
        if now >= deadline { return true }
        if let limit = plan.capture.maxPackets, captured >= limit {
            reason = "maxPackets \(limit) reached"
            return true
        }
        if let limit = plan.capture.maxBytes, bytes >= limit.bytes {
            reason = "maxBytes \(limit) reached"
            return true
        }
        return false
    }

    /// After each packet: the first event the stop condition names starts the grace period.
    /// Returns the reason when it just did.
    mutating func observe(_ analyzer: ConnectionAnalyzer, identities: IdentityMap) -> String? {
        guard stopAt == nil, let stop = plan.stop, let event = seen.newEvent(stop, in: analyzer, identities: identities) else { return nil }
        stopAt = Date().addingTimeInterval(stop.grace.seconds)
        reason = "stop condition: \(event), then \(stop.grace) of grace"
        return reason
    }

    mutating func endedEarly(_ why: String) { reason = why }

    /// `capture.keep`: the last window the plan allows has closed.
    mutating func keptEveryWindow(_ count: Int) { reason = "keep.windows reached: \(count) window\(count == 1 ? "" : "s") kept" }
}
