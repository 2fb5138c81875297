import Foundation

/// What a run has changed and how to undo it, written before each change happens, so a run
/// killed outright (SIGKILL, power loss) can be cleaned up by `capplan cleanup RUN_DIR`.
/// steps.log beside it says the same for people, one line per step and command.
public final class Journal: @unchecked Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public enum Undo: Codable, Sendable, Equatable {
            /// Stop a process this run started (checked by its start time, so a reused pid is never hit).
            case stopProcess(pid: Int32, startTicks: UInt64, command: [String])
            /// Delete a pod this run created (kubectl is the argv prefix with the run's kubeconfig and context).
            case deletePod(kubectl: [String], namespace: String, name: String)
            /// Uncordon a node this run cordoned, if it still carries this run's mark.
            case uncordon(kubectl: [String], node: String, run: String)
            /// Delete a namespace this run created for its helper pods.
            case deleteNamespace(kubectl: [String], name: String)

            /// In words, for steps.log and `capplan cleanup`.
            public var description: String {
                switch self {
                case .stopProcess(let pid, _, let command): "stop \(command.joined(separator: " ")) (pid \(pid))"
                case .deletePod(_, let namespace, let name): "delete pod \(namespace)/\(name)"
                case .uncordon(_, let node, _): "uncordon node \(node)"
                case .deleteNamespace(_, let name): "delete namespace \(name)"
                }
            }
        }
        public var step: String
        public var undo: Undo
        public var undone: Bool
    }

    public let directory: String
    private var entries: [Entry] = []
    private let log: FileHandle?
    private let lock = NSLock()

    public init(directory: String) {
        self.directory = directory
        let path = directory + "/steps.log"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        log = FileHandle(forWritingAtPath: path)
    }

    public static func load(directory: String) throws -> [Entry] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/journal.json"))
        return try JSONDecoder().decode([Entry].self, from: data)
    }

    /// A line in steps.log: time, then what happens.
    public func note(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        log?.write(Data("\(Date().formatted(.iso8601)) \(line)\n".utf8))
    }

    /// Records a change and its undo before the caller goes on (the file is rewritten whole).
    public func record(_ step: String, undo: Entry.Undo) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        entries.append(Entry(step: step, undo: undo, undone: false))
        try save()
        return entries.count - 1
    }

    public func markUndone(_ index: Int) throws {
        lock.lock()
        defer { lock.unlock() }
        entries[index].undone = true
        try save()
    }

    public var pending: [(index: Int, entry: Entry)] {
        lock.lock()
        defer { lock.unlock() }
        return entries.enumerated().filter { !$0.element.undone }.reversed().map { ($0.offset, $0.element) }
    }

    private func save() throws { try Self.save(entries, directory: directory) }

    /// Writes journal.json whole (also `capplan cleanup`, marking what it undid).
    public static func save(_ entries: [Entry], directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(entries).write(to: URL(fileURLWithPath: directory + "/journal.json"), options: .atomic)
    }

    public func close() { try? log?.close() }
}
