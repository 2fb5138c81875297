import CapplanLoad
import CapplanAnalyse
import CapplanPackets
import CapplanRedact
import CapplanReport
import Foundation

/// How `apply` talks and where it works.
public struct ApplyOptions: Sendable {
    public var quiet = false
    public var json = false
    /// A live status line (else a plain line every 5 s).
    public var terminal = false
    public var workingDirectory = FileManager.default.currentDirectoryPath
    public var environment = ProcessInfo.processInfo.environment
    public init() {}
}

/// Exit codes of apply, as documented in --help.
public enum ApplyExit: Int32, Sendable {
    case passed = 0, invalid = 1, usage = 2, expectationsFailed = 3, failed = 4, interrupted = 130
}

/// What a target (this machine, or a cluster) hands the run's one pass.
struct CaptureTarget {
    /// "local" or "kubernetes", for run.json.
    var kind: String
    var source: PacketSource
    var interfaces: [ResolvedInterface]
    var identities: IdentityMap
    /// Kernel counters per interface, read when the capture has stopped.
    var statistics: () -> [LiveCapture.Statistics]
    /// The argv that runs a reproduce step on this target.
    var reproduce: (ReproduceStep) throws -> [String]
    /// Adds what only this target knows to run.json.
    var record: (inout RunRecord) -> Void = { _ in }
}

/// An interface the capture reads, and how it was found (for run.json and steps.log).
public struct ResolvedInterface: Sendable, Codable, Equatable {
    public var name: String
    public var method: String
    /// The node it is on (Kubernetes), nil on the local target.
    public var node: String?
    /// The pod it carries, when it is a pod's host-side veth.
    public var pod: String?
    /// Added to the plan's filter for this interface (a shared bridge: only the pod's address).
    public var extraFilter: String?

    public init(name: String, method: String, node: String? = nil, pod: String? = nil, extraFilter: String? = nil) {
        self.name = name
        self.method = method
        self.node = node
        self.pod = pod
        self.extraFilter = extraFilter
    }
}

/// The run's one pass, the same on every target: capture → redact → write → analyse, with the
/// plan's reproduce commands started at their offsets (and stopped at their timeouts), stopped
/// by duration, limits, the stop condition or Ctrl-C; then the report and the verdict.
/// Unredacted bytes never reach disk unless the plan says `redact: none`.
final class CaptureSession {
    let plan: Plan
    let planPath: String
    let planSource: String
    let options: ApplyOptions
    let directory: String
    let journal: Journal
    let undo: UndoStack
    let interrupts: Interrupts
    let out: @Sendable (String) -> Void
    let err: @Sendable (String) -> Void
    /// When the capture started and its first packet came, for run.json's timeline.
    private(set) var captureStart: Date?
    private(set) var firstPacketAt: Date?

    init(plan: Plan, planPath: String, planSource: String, options: ApplyOptions, directory: String, journal: Journal,
         undo: UndoStack, interrupts: Interrupts, out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void) {
        self.plan = plan
        self.planPath = planPath
        self.planSource = planSource
        self.options = options
        self.directory = directory
        self.journal = journal
        self.undo = undo
        self.interrupts = interrupts
        self.out = out
        self.err = err
    }

    /// A reproduce command while it runs.
    private final class Running {
        let child: ChildProcess
        let journalIndex: Int
        var record: RunRecord.ReproduceRecord
        let deadline: Date
        init(child: ChildProcess, journalIndex: Int, record: RunRecord.ReproduceRecord, deadline: Date) {
            self.child = child
            self.journalIndex = journalIndex
            self.record = record
            self.deadline = deadline
        }
    }

    func run(_ target: CaptureTarget) throws -> ApplyExit {
        var running: [Running] = []
        defer {
            // Whatever still runs is stopped: on success, failure and interrupt alike.
            for entry in running where entry.child.isRunning {
                journal.note("undo: stop \(entry.record.command.joined(separator: " "))")
                entry.child.stop()
            }
            for entry in running { undo.settled(entry.journalIndex) }
        }
        let source = target.source
        let rules = try RedactionRules(plan.redaction, environment: options.environment)
        let redactor = try Redactor(rules: rules, linkType: source.linkType, snaplen: plan.capture.snaplen)
        let writer = try PcapWriter(path: directory + "/capture.pcap", linkType: source.linkType, snaplen: plan.capture.snaplen)
        defer { writer.close() }
        let decoder = try PacketDecoder(linkType: source.linkType)
        var analyzer = ConnectionAnalyzer()
        let identities = target.identities

        let start = Date()
        captureStart = start
        let deadline = start.addingTimeInterval(plan.capture.duration.seconds)
        var stopAt: Date?
        var stopReason = "duration \(plan.capture.duration) reached"
        var captured = 0, written = 0
        var bytes: Int64 = 0
        var firstPacket: Double?
        var lastStatus = Date.distantPast, lastFlush = Date()
        var seen = EventCounts()
        let pending = plan.reproduce.sorted { $0.at < $1.at }
        var nextStep = 0
        say("capturing on \(source.interfaces.joined(separator: ", ")) for up to \(plan.capture.duration)"
            + (plan.capture.filter.isEmpty ? "" : " (filter: \(plan.capture.filter))"))
        journal.note("capture: start")

        try source.run(shouldStop: {
            let now = Date()
            while nextStep < pending.count, now.timeIntervalSince(start) >= pending[nextStep].at.seconds {
                do {
                    running.append(try launch(pending[nextStep], index: nextStep, argv: try target.reproduce(pending[nextStep]), start: start))
                } catch {
                    err("capplan: reproduce \(nextStep + 1) did not start: \(error)\n")
                    journal.note("reproduce \(nextStep + 1) did not start: \(error)")
                }
                nextStep += 1
            }
            for entry in running where entry.record.exitStatus == nil {
                if let status = entry.child.exitStatus {
                    entry.record.exitStatus = status
                    undo.settled(entry.journalIndex)
                    journal.note("reproduce \(entry.record.command.joined(separator: " ")) exited \(status)")
                } else if now >= entry.deadline {
                    journal.note("reproduce \(entry.record.command.joined(separator: " ")): timeout, stopped")
                    entry.child.stop()
                    entry.record.timedOut = true
                }
            }
            if now.timeIntervalSince(lastFlush) >= 1 {
                try? writer.flush()  // an interrupted run leaves a readable pcap of what came so far
                lastFlush = now
            }
            if now.timeIntervalSince(lastStatus) >= (options.terminal ? 0.5 : 5) {
                status(elapsed: now.timeIntervalSince(start), packets: captured, bytes: bytes, target: target, resets: analyzer.totals.resets)
                lastStatus = now
            }
            if interrupts.received > 0 {
                stopReason = "\(interrupts.signalName) received"
                return true
            }
            if let stopAt, now >= stopAt { return true }
            if now >= deadline { return true }
            if let limit = plan.capture.maxPackets, captured >= limit {
                stopReason = "maxPackets \(limit) reached"
                return true
            }
            if let limit = plan.capture.maxBytes, bytes >= limit.bytes {
                stopReason = "maxBytes \(limit) reached"
                return true
            }
            return false
        }) { packet in
            if firstPacket == nil {
                firstPacketAt = Date()
                firstPacket = Date().timeIntervalSince(start)
                journal.note("capture: first packet after \(String(format: "%.3f", firstPacket ?? 0)) s")
            }
            captured += 1
            bytes += Int64(packet.bytes.count)
            guard let redacted = redactor.redact(packet) else { return }
            writer.write(timestamp: redacted.timestamp, bytes: redacted.bytes, originalLength: redacted.originalLength)
            written += 1
            analyzer.add(decoder.decode(redacted.bytes), number: written, timestamp: redacted.timestamp,
                         originalLength: redacted.originalLength, raw: redacted.bytes)
            if stopAt == nil, let stop = plan.stop, let event = seen.newEvent(stop, in: analyzer, identities: identities) {
                stopAt = Date().addingTimeInterval(stop.grace.seconds)
                stopReason = "stop condition: \(event), then \(stop.grace) of grace"
                journal.note(stopReason)
            }
        }
        if let early = source.endedEarly { stopReason = early }
        if options.terminal && !options.quiet && !options.json { err("\n") }
        journal.note("capture: stopped (\(stopReason))")
        try writer.flush()
        writer.close()
        let end = Date()

        // A second Ctrl-C skips the report: straight to cleanup.
        if interrupts.received >= 2 {
            say("interrupted twice: cleaning up without a report")
            return .interrupted
        }
        analyzer.finish()
        let summary = CaptureReport.summarise(analyzer, identities: identities, file: "capture.pcap", linkType: source.linkType)
        let verdict = plan.expectations.isEmpty ? nil : Verdict.judge(plan.expectations, summary: summary, identities: identities)
        let exit: ApplyExit = interrupts.received > 0 ? .interrupted
            : source.endedEarly != nil ? .failed
            : (verdict?.passed == false ? .expectationsFailed : .passed)

        for entry in running where entry.record.exitStatus == nil {
            entry.record.exitStatus = entry.child.exitStatus
        }
        var record = RunRecord(
            plan: .init(path: planPath, name: plan.name, sha256: Redactor.sha256(Array(planSource.utf8)).map { String(format: "%02x", $0) }.joined(),
                        gitCommit: Self.gitCommit(of: planPath)),
            target: target.kind, netns: nil, interfaces: target.interfaces,
            filter: plan.capture.filter, start: start.formatted(.iso8601), end: end.formatted(.iso8601),
            durationSeconds: end.timeIntervalSince(start), firstPacketSeconds: firstPacket, stopReason: stopReason,
            packets: .init(captured: captured, written: written, bytes: bytes, kernel: target.statistics()),
            redaction: .init(applied: !rules.changesNothing, keyFingerprint: rules.pseudonymizeAddresses || rules.macs == .pseudonymize ? redactor.keyFingerprint : nil,
                             randomKey: redactor.keyIsRandom && rules.pseudonymizeAddresses, stats: redactor.stats),
            reproduce: running.map(\.record), verdict: verdict, exitCode: exit.rawValue)
        target.record(&record)
        let markdown = SummaryMarkdown.render(summary) + Self.verdictMarkdown(verdict)
            + (source.endedEarly.map { "\n**The capture ended early:** \($0). The report covers what came until then.\n" } ?? "")
        try markdown.write(toFile: directory + "/summary.md", atomically: true, encoding: .utf8)
        try SummaryJSON.render(summary).write(toFile: directory + "/summary.json", atomically: true, encoding: .utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let runJSON = String(decoding: try encoder.encode(record), as: UTF8.self) + "\n"
        try runJSON.write(toFile: directory + "/run.json", atomically: true, encoding: .utf8)
        journal.note("wrote capture.pcap, summary.md, summary.json, run.json")

        if options.json {
            out(runJSON)
        } else if !options.quiet {
            out(markdown)
            out("\nRun directory: \(directory)\n")
        }
        if let early = source.endedEarly { err("capplan: \(early)\n") }
        return exit
    }

    // MARK: reproduce

    private func launch(_ step: ReproduceStep, index: Int, argv: [String], start: Date) throws -> Running {
        let logName = "reproduce-\(index + 1).log"
        let (shown, netns): (String, String?) = switch step.action {
        case .exec(let pod, let container, let command):
            ("\(command.joined(separator: " ")) (in pod \(pod)\(container.map { " container \($0)" } ?? ""))", nil)
        case .local(let netns, let command):
            ("\(command.joined(separator: " "))\(netns.map { " (in \($0))" } ?? "")", netns)
        }
        let command: [String] = switch step.action {
        case .exec(_, _, let command), .local(_, let command): command
        }
        // On record as soon as it has a pid, so that `capplan cleanup` can stop it after a SIGKILL.
        let child = try ChildProcess(argv, standardOutput: .file(directory + "/" + logName), standardError: .file(directory + "/" + logName))
        let entry = try undo.push("reproduce \(index + 1)", .stopProcess(pid: child.pid, startTicks: child.startTicks, command: argv))
        journal.note("reproduce \(index + 1) at +\(step.at): \(argv.joined(separator: " ")) (pid \(child.pid))")
        say("+\(String(format: "%.1f", Date().timeIntervalSince(start)))s reproduce: \(shown)")
        let timeout = step.timeout?.seconds ?? plan.capture.duration.seconds
        return Running(child: child, journalIndex: entry,
                       record: .init(at: step.at.seconds, netns: netns, pod: { if case .exec(let pod, _, _) = step.action { return pod.description }; return nil }(),
                                     command: command, log: logName, exitStatus: nil),
                       deadline: Date().addingTimeInterval(timeout))
    }

    // MARK: words and files

    func say(_ line: String) {
        guard !options.quiet, !options.json else { return }
        err("capplan: \(line)\n")
    }

    private func status(elapsed: Double, packets: Int, bytes: Int64, target: CaptureTarget, resets: Int) {
        guard !options.quiet, !options.json else { return }
        let drops = target.source is LiveCapture ? target.statistics().reduce(0) { $0 + Int($1.droppedByKernel) } : 0
        let line = String(format: "%.1fs/%@  packets %d  bytes %lld  drops %d  resets %d", elapsed, plan.capture.duration.description,
                          packets, bytes, drops, resets)
        err(options.terminal ? "\r\u{1B}[K[capplan] \(line)" : "capplan: \(line)\n")
    }

    static func verdictMarkdown(_ verdict: Verdict?) -> String {
        guard let verdict else { return "\n## Verdict\n\nThe plan states no expectations.\n" }
        var text = "\n## Verdict: \(verdict.passed ? "PASS" : "FAIL")\n\n| expectation | observed | held |\n|---|---:|---|\n"
        for result in verdict.results {
            text += "| \(result.expectation) | \(result.observed) | \(result.held ? "yes" : "**no**") |\n"
        }
        return text
    }

    /// The run directory from the plan's template; never an existing one.
    static func makeRunDirectory(plan: Plan, options: ApplyOptions, node: String, target: String) throws -> String {
        let time = Date().formatted(.iso8601).replacingOccurrences(of: ":", with: "-")
        var path = plan.outputDirectory
            .replacingOccurrences(of: "{name}", with: plan.name)
            .replacingOccurrences(of: "{time}", with: time)
            .replacingOccurrences(of: "{node}", with: node)
            .replacingOccurrences(of: "{target}", with: target)
        if !path.hasPrefix("/") { path = options.workingDirectory + "/" + path }
        var candidate = path, suffix = 2
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = "\(path)-\(suffix)"
            suffix += 1
        }
        try FileManager.default.createDirectory(atPath: candidate, withIntermediateDirectories: true)
        return candidate
    }

    static func gitCommit(of path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        guard let (status, output, _) = try? Processes.run(["git", "-C", directory.isEmpty ? "." : directory, "log", "-n", "1", "--format=%H", "--",
                                                         (path as NSString).lastPathComponent]),
              status == 0 else { return nil }
        let commit = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }
}
