import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import CapplanPlan
import CapplanRedact
import CapplanReport
import Foundation

/// Which kind of target a run is on, for run.json.
public enum TargetKind: String, Sendable, Codable {
    case local, kubernetes
}

/// What a target (this machine, or a cluster) hands the run's one pass.
struct CaptureTarget {
    var kind: TargetKind
    var source: PacketSource
    var interfaces: [ResolvedInterface]
    var identities: IdentityMap
    /// Kernel counters per interface, read when the capture has stopped.
    var statistics: () -> [LiveCapture.Statistics]
    /// Whether `statistics` may be read while the capture runs (libpcap's counters: yes; tcpdump's: only at its exit).
    var liveStatistics: Bool
    /// Streams that broke during the run (started again, or given up).
    var gaps: () -> [RunRecord.StreamGap] = { [] }
    /// Adds what only this target knows to run.json.
    var record: (inout RunRecord) -> Void = { _ in }
    /// `interfaces: path`: each interface as a point on the path (in `interfaces` order).
    var pathPoints: [PathPoint]? = nil
    /// Runs a planned node-state read on its node (in the helper, or in the plan's namespace).
    var readNodeState: NodeStateReader.Runner? = nil

    /// The points of a path plan: pods' veths and nodes' uplinks, with each pod's addresses.
    static func pathPoints(_ plan: Plan, interfaces: [ResolvedInterface], podAddresses: [String: [String]]) -> [PathPoint]? {
        guard case .path = plan.interfaces else { return nil }
        return interfaces.map { interface in
            PathPoint(name: interface.point, node: interface.node ?? "", role: interface.uplink ? .uplink : .podVeth, pod: interface.pod,
                      addresses: interface.pod.flatMap { podAddresses[$0] } ?? [])
        }
    }
}

/// An interface the capture reads, and how it was found (for run.json and steps.log).
public struct ResolvedInterface: Sendable, Codable, Equatable {
    public var name: String
    public var method: String
    /// The node it is on (Kubernetes), nil on the local target.
    public var node: String?
    /// The pod it carries, when it is a pod's host-side veth.
    public var pod: String?
    /// A node's uplink on a path (`interfaces: path`).
    public var uplink: Bool
    /// What the planner added to the plan's filter for this interface.
    public var extraFilter: String?

    public init(name: String, method: String, node: String? = nil, pod: String? = nil, uplink: Bool = false, extraFilter: String? = nil) {
        self.name = name
        self.method = method
        self.node = node
        self.pod = pod
        self.uplink = uplink
        self.extraFilter = extraFilter
    }

    /// The capture point's name: `node/interface` (the interface alone on this machine).
    public var point: String { node.map { "\($0)/\(name)" } ?? name }
}

/// The run's one pass, the same on every target: the capture step and every step after it.
/// Packets go capture → redact → write → analyse; the reproduce steps start at their offsets;
/// the stop policy ends it; then the report and the verdict. Unredacted bytes never reach disk
/// unless the plan says `redact: none`.
final class CaptureSession {
    let context: RunContext
    private(set) var target: CaptureTarget

    init(context: RunContext, target: CaptureTarget) {
        self.context = context
        self.target = target
    }

    /// What the pass counted, for the report.
    struct Counts {
        var captured = 0
        var bytes: Int64 = 0
        var firstPacket: Double?
        var origins: RunRecord.Origins
    }

    func run() throws -> ApplyExit {
        let plan = context.plan
        let reproduce = ReproduceScheduler(context: context)
        defer { reproduce.stopAll() }
        let (file, writer, points) = try openCapture()
        defer { writer.close() }
        var analyzer = ConnectionAnalyzer()
        // The analysis sees redacted packets: pod addresses and identities as the capture has them.
        target.identities = target.identities.mapped(writer.redactor.pseudonymized)
        file.writeNames(writer, identities: target.identities)
        var tracer = points.map { PathTracer(points: $0) }
        let nodeState = nodeStateReader(redactor: writer.redactor)
        nodeState?.take("before")
        let start = Date()
        context.captureStart = start
        var stop = StopPolicy(plan: plan, start: start)
        context.say("capturing on \(target.source.interfaces.joined(separator: ", ")) for up to \(plan.capture.duration)"
                    + (plan.capture.filter.isEmpty ? "" : " (filter: \(plan.capture.filter))"))
        context.journal.note("capture: start")
        let keeper = plannedKeep().map { WindowKeeper(keep: $0, sources: target.source.interfaces) }
        let counts = try pass(writer: writer, analyzer: &analyzer, tracer: &tracer, stop: &stop, reproduce: reproduce, start: start,
                              podAddresses: (points ?? []).map { $0.role == .podVeth ? $0.addresses.compactMap(IPAddress.init) : [] },
                              keeper: keeper)
        keeper?.finish()
        if let early = target.source.endedEarly { stop.endedEarly(early) }
        nodeState?.take("after")
        for problem in nodeState?.problems ?? [] { context.say("node state not read: \(problem)") }
        if context.options.terminal && !context.options.quiet && !context.options.json { context.err("\n") }
        context.journal.note("capture: stopped (\(stop.reason))")
        try writer.flush()
        writer.close()
        markSteps { operation in
            switch operation {
            case .readNodeState, .capture, .keepWindows, .stopWhen, .collect: true
            default: false
            }
        }

        // A second Ctrl-C skips the report: straight to cleanup.
        if context.interrupts.received >= 2 {
            context.say("interrupted twice: cleaning up without a report")
            return .interrupted
        }
        analyzer.finish()
        reproduce.stopAll()
        // run.json, written next, says these steps are done.
        markSteps { if case .redact = $0 { true } else if case .analyse = $0 { true } else if case .report = $0 { true } else { false } }
        let report = RunReport(context: context, target: target, writer: writer, file: file, start: start, end: Date(), counts: counts,
                               stopReason: stop.reason, reproduce: reproduce.records, keeper: keeper, captureCPU: RunRecord.CPUSeconds.used())
        var path = tracer?.report(start: analyzer.totals.first, conntrack: nodeState?.conntrackEntries() ?? [])
        path?.rules = nodeState?.countedRules() ?? []
        return try report.write(analyzer, path: path)
    }

    /// The capture file, its redact → write stage, and the path points as its packets will show them
    /// (the redactor's key chooses the pseudonyms, so a pcapng describes the points in its first blocks).
    private func openCapture() throws -> (CaptureFile, RedactingWriter, [PathPoint]?) {
        let plan = context.plan
        let rules = try RedactionRules(plan.redaction, environment: context.options.environment)
        let file = CaptureFile(context: context)
        let redactor = try Redactor(rules: rules, linkType: target.source.linkType, snaplen: plan.capture.snaplen)
        let points = target.pathPoints.map { points in
            points.map { point in
                var point = point
                point.addresses = point.addresses.compactMap(IPAddress.init).map { redactor.pseudonymized($0).description }
                return point
            }
        }
        let writer = try RedactingWriter(path: file.path, redactor: redactor, linkType: target.source.linkType, snaplen: plan.capture.snaplen,
                                         pcapng: file.header(context: context, target: target, points: points))
        return (file, writer, points)
    }

    /// Captures until the stop policy says so; each packet is redacted, analysed and written (with
    /// `keep`, the keeper decides which are written; packets are numbered in the order seen).
    private func pass(writer: RedactingWriter, analyzer: inout ConnectionAnalyzer, tracer: inout PathTracer?, stop: inout StopPolicy,
                      reproduce: ReproduceScheduler, start: Date, podAddresses: [[IPAddress]], keeper: WindowKeeper?) throws -> Counts {
        let cooked = [LinkType.linuxSLL.rawValue, LinkType.linuxSLL2.rawValue].contains(target.source.linkType)
        // Per source index: an uplink of a path (a plain array: it is read for every packet).
        let uplink = (target.pathPoints ?? []).map { $0.role == .uplink }
        var counts = Counts(origins: .init(sources: target.source.interfaces))
        var lastStatus = Date.distantPast, lastFlush = Date()
        var lastTally = 0
        try target.source.run(shouldStop: {
            let now = Date()
            reproduce.tick(now: now, start: start)
            if now.timeIntervalSince(lastFlush) >= 1 {
                try? writer.flush()  // an interrupted run leaves a readable pcap of what came so far
                lastFlush = now
            }
            if now.timeIntervalSince(lastStatus) >= (context.options.terminal ? 0.5 : 5) {
                status(elapsed: now.timeIntervalSince(start), counts: counts, resets: analyzer.totals.resets, keeper: keeper)
                lastStatus = now
            }
            if let keeper, let closes = keeper.closesLastWindowAt, now >= closes {
                stop.keptEveryWindow(keeper.windows.count)
                return true
            }
            let interrupted = context.interrupts.received > 0 ? context.interrupts.signalName : nil
            return stop.shouldStop(now: now, captured: counts.captured, bytes: counts.bytes, interrupted: interrupted)
        }) { packet in
            if counts.firstPacket == nil { noteFirstPacket(&counts, start: start) }
            counts.captured += 1
            counts.bytes += Int64(packet.bytes.count)
            // What the summary says comes from the redacted bytes, so its addresses are the pcap's.
            var decoding = DecodedPacket()
            guard let redacted = writer.redactDecoded(packet, into: &decoding) else { return }
            // One copy to a constant: each call below would otherwise copy the variable (320 bytes).
            let decoded = decoding
            let direction = CaptureFile.direction(decoded, cooked: cooked, podAddresses: podAddresses, source: packet.source)
            let number = write(redacted, interface: packet.source, direction: direction, to: writer, keeper: keeper, counts: &counts)
            // On a path, connections are analysed as the pods' veths see them; uplinks serve the path.
            if !(packet.source < uplink.count && uplink[packet.source]) {
                analyzer.add(decoded, number: number, timestamp: redacted.timestamp, originalLength: redacted.originalLength, raw: redacted.bytes)
            }
            tracer?.add(decoded, point: packet.source, number: number, timestamp: redacted.timestamp, raw: redacted.bytes)
            // The events are looked at only when one was counted: handing the analysis over per
            // packet cost a copy of it.
            let tally = analyzer.eventTally
            let counted = tally != lastTally
            lastTally = tally
            if let keeper {
                keeper.add(redacted, interface: packet.source, direction: direction, number: number,
                           event: counted ? keeper.trigger(analyzer, identities: target.identities) : nil, to: writer)
            }
            if counted, let reason = stop.observe(analyzer, identities: target.identities) { context.journal.note(reason) }
        }
        return counts
    }

    private func noteFirstPacket(_ counts: inout Counts, start: Date) {
        context.firstPacketAt = Date()
        counts.firstPacket = Date().timeIntervalSince(start)
        context.journal.note("capture: first packet after \(String(format: "%.3f", counts.firstPacket ?? 0)) s")
    }

    /// Writes the packet, unless `keep` decides which are written, and returns its number: the file's,
    /// or with `keep` the order seen (the keeper renumbers).
    private func write(_ redacted: RedactedPacket, interface: Int, direction: PacketDirection?, to writer: RedactingWriter,
                       keeper: WindowKeeper?, counts: inout Counts) -> Int {
        if let keeper { return keeper.counts.seenPackets + 1 }
        let number = writer.append(redacted, interface: interface, direction: direction)
        counts.origins.add(interface)
        return number
    }

    /// The planned node-state reads, when the plan has them and the target can run them.
    private func nodeStateReader(redactor: Redactor) -> NodeStateReader? {
        guard let runner = target.readNodeState,
              let reads = context.steps.lazy.compactMap({ step -> [NodeStateRead]? in
                  if case .readNodeState(let reads) = step.operation { reads.value } else { nil }
              }).first else { return nil }
        return NodeStateReader(reads: reads, directory: context.directory, localNode: target.pathPoints?.first?.node ?? "local",
                               runner: runner, redact: redactor.redactText)
    }

    /// The planned `capture.keep` step, if any.
    private func plannedKeep() -> KeepWindows? {
        context.steps.lazy.compactMap { step -> KeepWindows? in if case .keepWindows(let keep) = step.operation { keep } else { nil } }.first
    }

    /// Marks the planned steps that `matches` selects as done.
    private func markSteps(_ matches: (Step.Operation) -> Bool) {
        for step in context.steps where matches(step.operation) { context.finished(step) }
    }

    private func status(elapsed: Double, counts: Counts, resets: Int, keeper: WindowKeeper?) {
        guard !context.options.quiet, !context.options.json else { return }
        let drops = target.liveStatistics ? target.statistics().reduce(0) { $0 + Int($1.droppedByKernel) } : 0
        var line = String(format: "%@/%@  packets %d  bytes %@  drops %d  resets %d", Self.clock(elapsed), context.plan.capture.duration.description,
                          counts.captured, Self.size(counts.bytes), drops, resets)
        if let keeper {
            line += "  windows \(keeper.windows.count)/\(keeper.keep.windows)  kept \(Self.size(keeper.counts.keptBytes))"
        }
        context.err(context.options.terminal ? "\r\u{1B}[K[capplan] \(line)" : "capplan: \(line)\n")
    }

    /// Elapsed time that stays readable over hours: 42.3s, 12m05s, 3h07m12s.
    static func clock(_ seconds: Double) -> String {
        let whole = Int(seconds)
        if whole < 60 { return String(format: "%.1fs", seconds) }
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm%02ds", whole / 3600, whole / 60 % 60, whole % 60)
    }

    /// Bytes as people read them: 512B, 3.4KB, 12.0MB, 1.20GB.
    static func size(_ bytes: Int64) -> String {
        switch bytes {
        case ..<1000: "\(bytes)B"
        case ..<1_000_000: String(format: "%.1fKB", Double(bytes) / 1e3)
        case ..<1_000_000_000: String(format: "%.1fMB", Double(bytes) / 1e6)
        default: String(format: "%.2fGB", Double(bytes) / 1e9)
        }
    }
}
