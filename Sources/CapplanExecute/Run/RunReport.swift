import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import CapplanPlan
import CapplanRedact
import CapplanReport
import Foundation

/// The end of the pass: the analysis summarised, the verdict, and the run directory's files
/// (summary.md, summary.json, run.json), then what the user sees.
struct RunReport {
    let context: RunContext
    let target: CaptureTarget
    /// The redact → write stage, with the rules, key and counts it used.
    let writer: RedactingWriter
    let file: CaptureFile
    let start: Date
    let end: Date
    let counts: CaptureSession.Counts
    let stopReason: String
    let reproduce: [RunRecord.ReproduceRecord]
    /// `capture.keep`: what reached the file; the analysis saw every packet.
    let keeper: WindowKeeper?
    /// The process's CPU seconds when the capture stopped (`RunRecord.cpuSeconds`).
    let captureCPU: Double

    func write(_ analyzer: ConnectionAnalyzer, path: PathReport?) throws -> ApplyExit {
        let plan = context.plan
        let source = target.source
        var summary = CaptureReport.summarise(analyzer, identities: target.identities, file: file.format.fileName, linkType: source.linkType, path: path)
        let drops = target.statistics().reduce(0) { $0 + Int($1.droppedByKernel) }
        // Judged on every packet seen; then the evidence is numbered as the file holds it.
        let gaps = target.gaps()
        let verdict = plan.expectations.isEmpty ? nil : Verdict.judge(plan.expectations, summary: summary, identities: target.identities, kernelDrops: drops,
                                                                      gaps: gaps.map(\.words))
        if let keeper {
            summary = summary.renumbered(keeper.fileNumber)
            summary.capture.keptPackets = keeper.counts.keptPackets
        }
        let exit: ApplyExit = context.interrupts.received > 0 ? .interrupted
            : source.endedEarly != nil ? .failed
            : verdict?.outcome == .fail ? .expectationsFailed : verdict?.outcome == .inconclusive ? .inconclusive : .passed
        var record = runRecord(verdict: verdict, exit: exit)
        record.gaps = gaps.isEmpty ? nil : gaps
        target.record(&record)
        let markdown = SummaryMarkdown.render(summary) + Self.verdictMarkdown(verdict) + Self.gapsMarkdown(gaps) + (keeper.map(Self.keepMarkdown) ?? "")
            + (source.endedEarly.map { "\n**The capture ended early:** \($0). The report covers what came until then.\n" } ?? "")
        do {
            if let skipped = try file.annotate(summary, windows: windowComments(), checkpoints: writer.checkpoints) { context.journal.note("packet comments left out: \(skipped)") }
        } catch {
            context.say("the capture's packets were not commented: \(error)")
        }
        try markdown.write(toFile: context.directory + "/summary.md", atomically: true, encoding: .utf8)
        try html(summary, verdict: verdict).write(toFile: context.directory + "/report.html", atomically: true, encoding: .utf8)
        try Data(SummaryJSON.bytes(summary)).write(to: URL(fileURLWithPath: context.directory + "/summary.json"), options: .atomic)
        record.cpuSeconds = .init(capture: captureCPU, report: max(0, RunRecord.CPUSeconds.used() - captureCPU))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let runJSON = String(decoding: try encoder.encode(record), as: UTF8.self) + "\n"
        try runJSON.write(toFile: context.directory + "/run.json", atomically: true, encoding: .utf8)
        context.journal.note("wrote \(file.format.fileName), summary.md, report.html, summary.json, run.json")
        if context.options.json {
            context.out(runJSON)
        } else if !context.options.quiet {
            context.out(markdown)
            context.out("\nRun directory: \(context.directory)\n")
        }
        if let early = source.endedEarly { context.err("capplan: \(early)\n") }
        return exit
    }

    /// report.html: the findings, a ladder of each connection they name (read back from the
    /// capture just written), and the run's timeline: reproduce steps, events, the stop.
    private func html(_ summary: Summary, verdict: Verdict?) -> String {
        // Summary times count from the first packet; the run's from the capture's start.
        let offset = counts.firstPacket ?? 0
        var timeline = [HTMLReport.TimelineEntry(time: -offset, kind: .capture, text: "capture started")]
        timeline += reproduce.map { step in
            HTMLReport.TimelineEntry(time: step.at - offset, kind: .reproduce,
                                     text: (step.pod.map { "in pod \($0): " } ?? step.netns.map { "in \($0): " } ?? "") + step.command.joined(separator: " "))
        }
        timeline += HTMLReport.events(summary)
        timeline += (keeper?.windows ?? []).enumerated().map { index, window in
            HTMLReport.TimelineEntry(time: window.seconds, kind: .capture,
                                     text: String(format: "window %d kept: %.1f s to +%.1f s around packet %d (%@)", index + 1, window.startSeconds,
                                                  window.endSeconds, window.packet, window.event))
        }
        timeline.append(.init(time: end.timeIntervalSince(start) - offset, kind: .stop, text: "capture stopped: \(stopReason)"))
        let rows = verdict.map { verdict in
            (outcome: verdict.outcome.rawValue, doubts: verdict.doubts,
             rows: verdict.results.map { (expectation: $0.expectation, observed: $0.observed, held: $0.doubtful ? "unsure" : $0.held ? "yes" : "no") })
        }
        return HTMLReport(title: "capplan apply: \(context.plan.name)", summary: summary, ladders: LadderReader.read(path: file.path, summary: summary),
                          timeline: timeline.sorted { $0.time < $1.time }, verdict: rows).render()
    }

    private func runRecord(verdict: Verdict?, exit: ApplyExit) -> RunRecord {
        let plan = context.plan
        let redactor = writer.redactor, rules = writer.redactor.rules
        let usesKey = rules.pseudonymizeAddresses || rules.macs == .pseudonymize
        return RunRecord(
            plan: .init(path: context.apply.planPath, name: plan.name,
                        sha256: Redactor.sha256(Array(context.apply.planSource.utf8)).map { String(format: "%02x", $0) }.joined(),
                        gitCommit: Self.gitCommit(of: context.apply.planPath)),
            target: target.kind.rawValue, netns: nil, interfaces: target.interfaces,
            filter: plan.capture.filter, start: start.formatted(.iso8601), end: end.formatted(.iso8601),
            durationSeconds: end.timeIntervalSince(start), firstPacketSeconds: counts.firstPacket, stopReason: stopReason,
            packets: .init(captured: counts.captured, written: writer.written, bytes: counts.bytes, kernel: target.statistics()),
            redaction: .init(applied: !rules.changesNothing, keyFingerprint: usesKey ? redactor.keyFingerprint : nil,
                             randomKey: redactor.keyIsRandom && rules.pseudonymizeAddresses, stats: redactor.stats),
            reproduce: reproduce, verdict: verdict, exitCode: exit.rawValue, steps: context.executedSteps, origins: keeper?.origins ?? counts.origins,
            keep: keeper.map { keeper in
                RunRecord.KeepRecord(around: keeper.keep.around.rawValue, before: keeper.keep.before.seconds, after: keeper.keep.after.seconds,
                                     windowLimit: keeper.keep.windows, memoryBound: keeper.keep.memory.bytes, windows: keeper.windows,
                                     counts: keeper.counts)
            })
    }

    /// summary.md's account of capture streams that broke and were started again.
    static func gapsMarkdown(_ gaps: [RunRecord.StreamGap]) -> String {
        guard !gaps.isEmpty else { return "" }
        return "\n## Capture gaps\n\n" + gaps.map { "- " + $0.words.prefix(1).uppercased() + $0.words.dropFirst() + ".\n" }.joined()
    }

    /// The packet that opened each window, with the window in words (a pcapng comment).
    private func windowComments() -> [Int: String] {
        guard let keeper else { return [:] }
        var comments: [Int: String] = [:]
        for (index, window) in keeper.windows.enumerated() where window.packet > 0 {
            comments[window.packet] = "capplan: window \(index + 1) of at most \(keeper.keep.windows) kept around this packet ("
                + "\(window.event)): \(keeper.keep.before) before it, \(keeper.keep.after) after"
                + (window.events > 1 ? ", extended by \(window.events - 1) more" : "")
        }
        return comments
    }

    /// summary.md's account of `capture.keep`: each window, what was kept and what was discarded.
    static func keepMarkdown(_ keeper: WindowKeeper) -> String {
        let keep = keeper.keep, counts = keeper.counts
        var text = "\n## Kept windows\n\n"
        text += "Only the packets around each \(keep.around.rawValue)\(keep.from.map { " from \($0)" } ?? "") are in the capture file: "
            + "\(keep.before) before and \(keep.after) after, at most \(keep.windows) windows. Every packet seen was analysed; "
            + "the findings cite packets by their number in the file, and leave out those it does not hold.\n\n"
        text += "Kept \(counts.keptPackets) of \(counts.seenPackets) packets (\(CaptureSession.size(counts.keptBytes)) of \(CaptureSession.size(counts.seenBytes))); "
            + "discarded \(counts.discardedPackets) (\(CaptureSession.size(counts.discardedBytes))). "
            + "The ring held at most \(CaptureSession.size(Int64(counts.ringPeakBytes))) of its \(keep.memory).\n"
        if counts.pushedOutByMemory > 0 {
            text += "\n**The ring was too small:** \(counts.pushedOutByMemory) packets left it before \(keep.before) had passed; "
                + "a window marked below lost its start. Give keep.memory more room.\n"
        }
        if counts.eventsNotKept > 0 {
            text += "\n\(counts.eventsNotKept) more \(keep.around.rawValue) event\(counts.eventsNotKept == 1 ? "" : "s") came after the last window (keep.windows \(keep.windows)); not kept.\n"
        }
        guard !keeper.windows.isEmpty else { return text + "\nNo \(keep.around.rawValue) came: no window was kept.\n" }
        text += "\n| window | event | packet | at | kept | events | packets |\n|---:|---|---:|---|---|---:|---:|\n"
        for (index, window) in keeper.windows.enumerated() {
            text += "| \(index + 1) | \(window.event) | \(window.packet) | \(window.time) | "
                + String(format: "%.1f s to +%.1f s", window.startSeconds, window.endSeconds) + (window.startLost ? " (start lost)" : "")
                + " | \(window.events) | \(window.packets) |\n"
        }
        return text
    }

    static func verdictMarkdown(_ verdict: Verdict?) -> String {
        guard let verdict else { return "\n## Verdict\n\nThe plan states no expectations.\n" }
        var text = "\n## Verdict: \(verdict.outcome.rawValue)\n\n"
        if verdict.outcome == .inconclusive { text += "The capture cannot vouch for what a result rests on: \(verdict.doubts.joined(separator: "; ")).\n\n" }
        text += "| expectation | observed | held |\n|---|---:|---|\n"
        for result in verdict.results {
            text += "| \(result.expectation) | \(result.observed) | \(result.doubtful ? "unsure" : result.held ? "yes" : "**no**") |\n"
        }
        return text
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
