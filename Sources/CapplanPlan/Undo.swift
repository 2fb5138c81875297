/// A process a run started, told apart from a later one with the same pid by its start time.
public struct ProcessHandle: Sendable, Codable, Equatable {
    public var pid: Int32
    public var startTicks: UInt64

    public init(pid: Int32, startTicks: UInt64) {
        self.pid = pid
        self.startTicks = startTicks
    }
}

/// How one step's change is reversed: `plan` words it, the journal stores it (before the change
/// is made), and the end of `apply` or `capplan cleanup` performs it.
public enum Undo: Sendable, Codable, Equatable, CustomStringConvertible {
    /// Delete the namespace capplan created for its helpers (only while it carries capplan's label and holds no helper).
    case deleteNamespace(String)
    /// Uncordon the nodes that still carry this run's cordon mark; a node cordoned by anyone else stays cordoned.
    case uncordon(nodes: Resolved<[String]>, mark: String)
    /// Delete a pod this run created and wait until it is gone.
    case deletePod(namespace: String, name: String)
    /// Stop a process this run started; its pid is known once it runs.
    case stopProcess(command: [String], process: ProcessHandle?)

    public var description: String {
        switch self {
        case .deleteNamespace(let name):
            "delete namespace \(name) if it is capplan's and holds no other run's helper"
        case .uncordon(let nodes, let mark):
            "uncordon \(nodes.value.map { $0.isEmpty ? "no node" : $0.joined(separator: ", ") } ?? "each node this step cordoned") "
                + "if still marked \(Planner.cordonMark)=\(mark); a node cordoned before stays cordoned"
        case .deletePod(let namespace, let name):
            "delete pod \(namespace)/\(name) and wait until it is gone"
        case .stopProcess(let command, let process):
            "stop \(command.joined(separator: " "))\(process.map { " (pid \($0.pid))" } ?? " if it still runs")"
        }
    }
}

/// What an undo did: only `.failed` leaves it pending in the journal for `capplan cleanup`.
public enum UndoOutcome: Sendable, Codable, Equatable, CustomStringConvertible {
    case done(String)
    case nothingToDo(String)
    case failed(String)

    public var description: String {
        switch self {
        case .done(let text), .nothingToDo(let text): text
        case .failed(let text): "NOT DONE: \(text)"
        }
    }

    public var succeeded: Bool { if case .failed = self { false } else { true } }
    public var changedSomething: Bool { if case .done = self { true } else { false } }
}
