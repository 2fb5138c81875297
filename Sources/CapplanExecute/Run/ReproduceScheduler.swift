import CapplanLoad
import CapplanPlan
import Foundation

/// Starts the plan's reproduce steps at their offsets, in the planner's order with the
/// planner's argv, stops each at its timeout, and stops whatever still runs at the end.
final class ReproduceScheduler {
    /// A reproduce command while it runs.
    private final class Running {
        let step: Step
        let child: ChildProcess
        let journalIndex: Int
        var record: RunRecord.ReproduceRecord
        let deadline: Date
        init(step: Step, child: ChildProcess, journalIndex: Int, record: RunRecord.ReproduceRecord, deadline: Date) {
            self.step = step
            self.child = child
            self.journalIndex = journalIndex
            self.record = record
            self.deadline = deadline
        }
    }

    private let context: RunContext
    private let planned: [(step: Step, reproduce: ReproduceStep, argv: [String])]
    private var next = 0
    private var running: [Running] = []
    private var stopped = false

    init(context: RunContext) {
        self.context = context
        planned = context.steps.compactMap { step in
            if case .reproduce(let reproduce, let argv) = step.operation { return (step, reproduce, argv) }
            return nil
        }
    }

    /// Starts what is due and notices what ended or ran past its timeout.
    func tick(now: Date, start: Date) {
        while next < planned.count, now.timeIntervalSince(start) >= planned[next].reproduce.at.seconds {
            let item = planned[next]
            next += 1
            do {
                running.append(try launch(item.step, item.reproduce, argv: item.argv, ordinal: next, start: start))
            } catch {
                context.err("capplan: reproduce \(next) did not start: \(error)\n")
                context.journal.note("reproduce \(next) did not start: \(error)")
                context.finished(item.step, outcome: "failed: \(error)")
            }
        }
        for entry in running where entry.record.exitStatus == nil {
            if let status = entry.child.exitStatus {
                entry.record.exitStatus = status
                context.undo.settled(entry.journalIndex)
                context.journal.note("reproduce \(entry.record.command.joined(separator: " ")) exited \(status)")
            } else if now >= entry.deadline {
                context.journal.note("reproduce \(entry.record.command.joined(separator: " ")): timeout, stopped")
                entry.child.stop()
                entry.record.timedOut = true
            }
        }
    }

    /// Stops whatever still runs (on success, failure and interrupt alike) and settles its undo.
    func stopAll() {
        guard !stopped else { return }
        stopped = true
        for entry in running where entry.child.isRunning {
            context.journal.note("undo: stop \(entry.record.command.joined(separator: " "))")
            entry.child.stop()
        }
        for entry in running {
            context.undo.settled(entry.journalIndex)
            if entry.record.exitStatus == nil { entry.record.exitStatus = entry.child.exitStatus }
            context.finished(entry.step, facts: ["pid \(entry.child.pid)", "exit \(entry.record.exitStatus.map(String.init) ?? "unknown")"])
        }
    }

    var records: [RunRecord.ReproduceRecord] { running.map(\.record) }

    private func launch(_ step: Step, _ reproduce: ReproduceStep, argv: [String], ordinal: Int, start: Date) throws -> Running {
        let logName = "reproduce-\(ordinal).log"
        let (place, netns, pod, command): (String, String?, String?, [String]) = switch reproduce.action {
        case .exec(let pod, let container, let command): ("in pod \(pod)\(container.map { " container \($0)" } ?? "")", nil, pod.description, command)
        case .local(let netns, let command): (netns.map { "in \($0)" } ?? "on this machine", netns, nil, command)
        }
        // On record as soon as it has a pid, so that `capplan cleanup` can stop it after a SIGKILL.
        let child = try ChildProcess(argv, standardOutput: .file(context.directory + "/" + logName),
                                     standardError: .file(context.directory + "/" + logName))
        let entry = try context.undo.push(step.number, "reproduce \(ordinal)",
                                          .stopProcess(command: argv, process: ProcessHandle(pid: child.pid, startTicks: child.startTicks)))
        context.journal.note("reproduce \(ordinal) at +\(reproduce.at): \(argv.joined(separator: " ")) (pid \(child.pid))")
        context.say("+\(String(format: "%.1f", Date().timeIntervalSince(start)))s reproduce: \(command.joined(separator: " ")) (\(place))")
        let timeout = reproduce.timeout?.seconds ?? context.plan.capture.duration.seconds
        return Running(step: step, child: child, journalIndex: entry,
                       record: .init(at: reproduce.at.seconds, netns: netns, pod: pod, command: command, log: logName, exitStatus: nil),
                       deadline: Date().addingTimeInterval(timeout))
    }
}
