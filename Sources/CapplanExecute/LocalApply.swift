public import CapplanLoad
import CapplanAnalyse
import CapplanPackets
import CapplanRedact
import CapplanReport
import Foundation

/// `capplan apply` on the local target: capture → redact → analyse → write, in one pass,
/// with the plan's reproduce commands started at their offsets, stopped by duration, limits,
/// the stop condition or Ctrl-C; then the undo of everything the run started, the report
/// and the verdict. Unredacted bytes never reach disk unless the plan says `redact: none`.
public final class LocalApply {
    public struct Options: Sendable {
        public var quiet = false
        public var json = false
        /// A live status line (else a plain line every 5 s).
        public var terminal = false
        public var workingDirectory = FileManager.default.currentDirectoryPath
        public var environment = ProcessInfo.processInfo.environment
        public init() {}
    }

    /// Exit codes of apply, as documented in --help.
    public enum Exit: Int32 {
        case passed = 0, invalid = 1, usage = 2, expectationsFailed = 3, failed = 4, interrupted = 130
    }

    let plan: Plan
    let planPath: String
    let planSource: String
    let options: Options
    let out: @Sendable (String) -> Void
    let err: @Sendable (String) -> Void
    let interrupts = Interrupts()

    public init(plan: Plan, planPath: String, planSource: String, options: Options,
                out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void) {
        self.plan = plan
        self.planPath = planPath
        self.planSource = planSource
        self.options = options
        self.out = out
        self.err = err
    }

    private final class Running {
        var process: Process
        var journalIndex: Int
        var record: RunRecord.ReproduceRecord
        var step: ReproduceStep
        init(process: Process, journalIndex: Int, record: RunRecord.ReproduceRecord, step: ReproduceStep) {
            self.process = process
            self.journalIndex = journalIndex
            self.record = record
            self.step = step
        }
    }

    public func run() -> Exit {
        guard case .local(let netns) = plan.target.kind else {
            err("capplan: apply runs local plans for now; Kubernetes targets come next (capplan plan shows their steps)\n")
            return .usage
        }
        let directory: String
        do {
            directory = try makeRunDirectory(node: netns)
        } catch {
            err("capplan: cannot create the run directory: \(error)\n")
            return .failed
        }
        let journal = Journal(directory: directory)
        defer { journal.close() }
        interrupts.install()
        defer { interrupts.uninstall() }
        say("run directory \(directory)")
        journal.note("plan \(planPath) (\(plan.name)), target local\(netns.map { " in network namespace \($0)" } ?? "")")

        let target = LocalTarget(netns: netns)
        var running: [Running] = []
        var exit = Exit.passed
        do {
            exit = try capture(target: target, journal: journal, directory: directory, running: &running)
        } catch {
            err("capplan: \(error)\n")
            journal.note("failed: \(error)")
            exit = .failed
        }
        // Undo, in reverse, whatever is still running: on success, failure and interrupt alike.
        for entry in running.reversed() where entry.process.isRunning {
            journal.note("undo: stop \(entry.record.command.joined(separator: " "))")
            if let ticks = Processes.startTicks(of: entry.process.processIdentifier) {
                Processes.stop(pid: entry.process.processIdentifier, startTicks: ticks)
            }
        }
        for entry in running { try? journal.markUndone(entry.journalIndex) }
        journal.note("done: exit \(exit.rawValue)")
        return exit
    }

    // MARK: the capture pass

    private func capture(target: LocalTarget, journal: Journal, directory: String, running: inout [Running]) throws -> Exit {
        let interfaces = try target.resolveInterfaces(plan.interfaces, pods: plan.pods, journal: journal)
        for interface in interfaces { journal.note("interface \(interface.name): \(interface.method)") }
        let identities = target.identities(of: plan.pods)
        let rules = try RedactionRules(plan.redaction, environment: options.environment)
        let capture = try LiveCapture(interfaces: interfaces.map(\.name), filter: plan.capture.filter,
                                      snaplen: plan.capture.snaplen, namespace: target.netns)
        defer { capture.close() }
        let redactor = try Redactor(rules: rules, linkType: capture.linkType, snaplen: plan.capture.snaplen)
        let pcapPath = directory + "/capture.pcap"
        let writer = try PcapWriter(path: pcapPath, linkType: capture.linkType, snaplen: plan.capture.snaplen)
        defer { writer.close() }
        let decoder = try PacketDecoder(linkType: capture.linkType)
        var analyzer = ConnectionAnalyzer()

        let start = Date()
        let deadline = start.addingTimeInterval(plan.capture.duration.seconds)
        var stopAt: Date?
        var stopReason = "duration \(plan.capture.duration) reached"
        var captured = 0, written = 0
        var bytes: Int64 = 0
        var lastStatus = Date.distantPast, lastFlush = Date()
        var seen = EventCounts()
        let pending = plan.reproduce.sorted { $0.at < $1.at }
        var nextStep = 0
        say("capturing on \(interfaces.map(\.name).joined(separator: ", ")) for up to \(plan.capture.duration)"
            + (plan.capture.filter.isEmpty ? "" : " (filter: \(plan.capture.filter))"))
        journal.note("capture: start")

        try capture.run(shouldStop: {
            let now = Date()
            while nextStep < pending.count, now.timeIntervalSince(start) >= pending[nextStep].at.seconds {
                if let started = try? launch(pending[nextStep], index: nextStep, directory: directory, journal: journal, start: start) {
                    running.append(started)
                }
                nextStep += 1
            }
            for entry in running where entry.record.exitStatus == nil && !entry.process.isRunning {
                entry.record.exitStatus = entry.process.terminationStatus
                try? journal.markUndone(entry.journalIndex)
                journal.note("reproduce \(entry.record.command.joined(separator: " ")) exited \(entry.process.terminationStatus)")
            }
            if now.timeIntervalSince(lastFlush) >= 1 {
                try? writer.flush()  // an interrupted run leaves a readable pcap of what came so far
                lastFlush = now
            }
            if now.timeIntervalSince(lastStatus) >= (options.terminal ? 0.5 : 5) {
                status(elapsed: now.timeIntervalSince(start), packets: captured, bytes: bytes, capture: capture, resets: analyzer.totals.resets)
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
        if options.terminal && !options.quiet { err("\n") }
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
        let summary = CaptureReport.summarise(analyzer, identities: identities, file: "capture.pcap", linkType: capture.linkType)
        let verdict = plan.expectations.isEmpty ? nil : Verdict.judge(plan.expectations, summary: summary, identities: identities)
        let exit: Exit = interrupts.received > 0 ? .interrupted : (verdict?.passed == false ? .expectationsFailed : .passed)

        for entry in running where entry.record.exitStatus == nil && !entry.process.isRunning {
            entry.record.exitStatus = entry.process.terminationStatus
        }
        let record = RunRecord(
            plan: .init(path: planPath, name: plan.name, sha256: Redactor.sha256(Array(planSource.utf8)).map { String(format: "%02x", $0) }.joined(),
                        gitCommit: gitCommit(of: planPath)),
            target: "local", netns: target.netns, interfaces: interfaces,
            filter: plan.capture.filter, start: start.formatted(.iso8601), end: end.formatted(.iso8601),
            durationSeconds: end.timeIntervalSince(start), stopReason: stopReason,
            packets: .init(captured: captured, written: written, bytes: bytes, kernel: capture.statistics()),
            redaction: .init(applied: !rules.changesNothing, keyFingerprint: rules.pseudonymizeAddresses || rules.macs == .pseudonymize ? redactor.keyFingerprint : nil,
                             randomKey: redactor.keyIsRandom && rules.pseudonymizeAddresses, stats: redactor.stats),
            reproduce: running.map(\.record), verdict: verdict, exitCode: exit.rawValue)
        let markdown = SummaryMarkdown.render(summary) + verdictMarkdown(verdict)
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
        return exit
    }

    // MARK: reproduce

    private func launch(_ step: ReproduceStep, index: Int, directory: String, journal: Journal, start: Date) throws -> Running {
        guard case .local(let netns, let command) = step.action else {
            throw LocalTarget.Failure(description: "exec runs in a Kubernetes pod; a local plan uses local: commands")
        }
        let argv = (netns.map { ["ip", "netns", "exec", $0] } ?? []) + command
        let logName = "reproduce-\(index + 1).log"
        let logPath = directory + "/" + logName
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.currentDirectoryURL = URL(fileURLWithPath: options.workingDirectory)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let ticks = Processes.startTicks(of: process.processIdentifier) ?? 0
        let entry = try journal.record("reproduce \(index + 1)", undo: .stopProcess(pid: process.processIdentifier, startTicks: ticks, command: argv))
        journal.note("reproduce \(index + 1) at +\(step.at): \(argv.joined(separator: " ")) (pid \(process.processIdentifier))")
        say("+\(String(format: "%.1f", Date().timeIntervalSince(start)))s reproduce: \(command.joined(separator: " "))\(netns.map { " (in \($0))" } ?? "")")
        return Running(process: process, journalIndex: entry,
                       record: .init(at: step.at.seconds, netns: netns, command: command, log: logName, exitStatus: nil), step: step)
    }

    // MARK: words and files

    private func say(_ line: String) {
        guard !options.quiet, !options.json else { return }
        err("capplan: \(line)\n")
    }

    private func status(elapsed: Double, packets: Int, bytes: Int64, capture: LiveCapture, resets: Int) {
        guard !options.quiet, !options.json else { return }
        let drops = capture.statistics().reduce(0) { $0 + Int($1.droppedByKernel) }
        let line = String(format: "%.1fs/%@  packets %d  bytes %lld  drops %d  resets %d", elapsed, plan.capture.duration.description,
                          packets, bytes, drops, resets)
        err(options.terminal ? "\r\u{1B}[K[capplan] \(line)" : "capplan: \(line)\n")
    }

    private func verdictMarkdown(_ verdict: Verdict?) -> String {
        guard let verdict else { return "\n## Verdict\n\nThe plan states no expectations.\n" }
        var text = "\n## Verdict: \(verdict.passed ? "PASS" : "FAIL")\n\n| expectation | observed | held |\n|---|---:|---|\n"
        for result in verdict.results {
            text += "| \(result.expectation) | \(result.observed) | \(result.held ? "yes" : "**no**") |\n"
        }
        return text
    }

    private func makeRunDirectory(node: String?) throws -> String {
        let time = Date().formatted(.iso8601).replacingOccurrences(of: ":", with: "-")
        var path = plan.outputDirectory
            .replacingOccurrences(of: "{name}", with: plan.name)
            .replacingOccurrences(of: "{time}", with: time)
            .replacingOccurrences(of: "{node}", with: node ?? ProcessInfo.processInfo.hostName)
            .replacingOccurrences(of: "{target}", with: "local")
        if !path.hasPrefix("/") { path = options.workingDirectory + "/" + path }
        var candidate = path, suffix = 2
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = "\(path)-\(suffix)"
            suffix += 1
        }
        try FileManager.default.createDirectory(atPath: candidate, withIntermediateDirectories: true)
        return candidate
    }

    private func gitCommit(of path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        guard let (status, output, _) = try? Processes.run(["git", "-C", directory.isEmpty ? "." : directory, "log", "-n", "1", "--format=%H", "--",
                                                         (path as NSString).lastPathComponent]),
              status == 0 else { return nil }
        let commit = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }
}

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
