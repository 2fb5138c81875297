import Foundation

/// The step engine's memory: every change a run makes is pushed here (and into journal.json)
/// before it happens, with the action that reverses it. `unwind` runs the undos in reverse
/// order, once each, on success, failure and interrupt alike; what a killed run could not
/// unwind, `capplan cleanup` does from the journal with `Undoer`.
public final class UndoStack: @unchecked Sendable {
    private let journal: Journal
    private let lock = NSLock()
    private var entries: [(index: Int, undo: Journal.Entry.Undo)] = []

    public init(journal: Journal) { self.journal = journal }

    /// Records `undo` for `step` before the caller makes the change; returns its journal index.
    @discardableResult
    public func push(_ step: String, _ undo: Journal.Entry.Undo) throws -> Int {
        let index = try journal.record(step, undo: undo)
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
        try? journal.markUndone(index)
    }

    /// Runs every pending undo, last first; `say` hears each one.
    public func unwind(say: (String) -> Void = { _ in }) {
        lock.lock()
        let pending = entries.reversed()
        entries = []
        lock.unlock()
        for entry in pending {
            journal.note("undo: \(entry.undo.description)")
            let result = Undoer.perform(entry.undo)
            journal.note("undo: \(result)")
            say("undo: \(result)")
            try? journal.markUndone(entry.index)
        }
    }

    public var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return entries.isEmpty
    }
}

/// Carries out one undo, from a live run or from a killed run's journal.
public enum Undoer {
    /// What happened, in words.
    public static func perform(_ undo: Journal.Entry.Undo) -> String {
        switch undo {
        case .stopProcess(let pid, let startTicks, let command):
            let stopped = Processes.stop(pid: pid, startTicks: startTicks)
            return "\(stopped ? "stopped" : "already gone:") \(command.joined(separator: " ")) (pid \(pid))"
        case .deletePod(let kubectl, let namespace, let name):
            return Kubectl(argv: kubectl).deletePod(namespace: namespace, name: name)
        case .uncordon(let kubectl, let node, let run):
            return Kubectl(argv: kubectl).uncordon(node: node, run: run)
        case .deleteNamespace(let kubectl, let name):
            return Kubectl(argv: kubectl).deleteNamespace(name, run: nil)
        }
    }
}
