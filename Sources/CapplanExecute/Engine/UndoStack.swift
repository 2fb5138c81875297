public import CapplanPlan
import Foundation

/// The step engine's memory: every change a run makes is pushed here (and into journal.json)
/// before it happens, with the step's undo. `unwind` runs the undos in reverse order, once
/// each, against one overall deadline; an undo that fails, or that the deadline leaves, stays
/// pending in the journal, and the rest still run. `capplan cleanup` finishes the job.
public final class UndoStack: @unchecked Sendable {
    private let journal: Journal
    private let lock = NSLock()
    private var entries: [(index: Int, undo: Undo)] = []

    public init(journal: Journal) { self.journal = journal }

    /// Records `undo` (the step's, with run-time facts filled) before the caller makes the change;
    /// returns its journal index.
    @discardableResult
    public func push(_ step: Int, _ what: String, _ undo: Undo) throws -> Int {
        let index = try journal.record(step: step, what: what, undo: undo)
        lock.lock()
        entries.append((index, undo))
        lock.unlock()
        return index
    }

    /// Marks an entry done without running it (the thing ended by itself).
    public func settled(_ index: Int) {
        lock.lock()
        entries.removeAll { $0.index == index }
        lock.unlock()
        journal.settle(index, nil)
    }

    /// Runs every pending undo, last first, until `deadline`; returns how many were not done.
    @discardableResult
    public func unwind(deadline: Date, say: (String) -> Void = { _ in }) -> Int {
        lock.lock()
        let pending = entries.reversed()
        entries = []
        lock.unlock()
        var notDone = 0
        for entry in pending {
            journal.note("undo: \(entry.undo)")
            let remaining = deadline.timeIntervalSinceNow
            let outcome = remaining > 1 ? Undoer.perform(entry.undo, kubectl: journal.kubectl, within: remaining)
                                        : .failed("the cleanup deadline passed before: \(entry.undo)")
            journal.note("undo: \(outcome)")
            say("undo: \(outcome)")
            journal.settle(entry.index, outcome)
            if !outcome.succeeded { notDone += 1 }
        }
        return notDone
    }

    public var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return entries.isEmpty
    }
}

/// Carries out one undo, from a live run or from a killed run's journal.
public enum Undoer {
    public static func perform(_ undo: Undo, kubectl argv: [String]?, within seconds: TimeInterval = 150) -> UndoOutcome {
        var kubectl = Kubectl(argv: argv ?? ["kubectl"])
        kubectl.timeout = min(120, seconds)
        switch undo {
        case .stopProcess(let command, let process):
            guard let process else { return .nothingToDo("\(command.joined(separator: " ")) never started") }
            return Processes.stop(pid: process.pid, startTicks: process.startTicks)
                ? .done("stopped \(command.joined(separator: " ")) (pid \(process.pid))")
                : .nothingToDo("already gone: \(command.joined(separator: " ")) (pid \(process.pid))")
        case .deletePod(let namespace, let name):
            return kubectl.deletePod(namespace: namespace, name: name)
        case .uncordon(let nodes, let mark):
            let outcomes = (nodes.value ?? []).map { kubectl.uncordon(node: $0, run: mark) }
            let text = outcomes.map(\.description).joined(separator: "; ")
            if outcomes.contains(where: { !$0.succeeded }) { return .failed(text) }
            return outcomes.contains(where: \.changedSomething) ? .done(text) : .nothingToDo(text.isEmpty ? "no node to uncordon" : text)
        case .deleteNamespace(let name):
            return kubectl.deleteNamespace(name)
        }
    }
}
