public import CapplanPlan
import Foundation

/// What a run has changed and how to undo it, written before each change happens, so a run
/// killed outright (SIGKILL, power loss) can be cleaned up by `capplan cleanup RUN_DIR`.
/// steps.log beside it says the same for people, one line per step and command.
public final class Journal: @unchecked Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        /// The plan's step that made the change.
        public var step: Int
        public var what: String
        public var undo: Undo
        public var undone: Bool
        /// What the last attempt to undo it said (a failed one leaves `undone` false).
        public var result: String?
    }

    /// journal.json: the kubectl prefix that reaches the run's cluster, and the entries.
    public struct File: Codable, Sendable {
        public var version = 2
        public var kubectl: [String]?
        public var entries: [Entry]
    }

    public let directory: String
    private var file: File
    private let log: FileHandle?
    private let lock = NSLock()

    public init(directory: String, kubectl: [String]?) {
        self.directory = directory
        file = File(kubectl: kubectl, entries: [])
        let path = directory + "/steps.log"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        log = FileHandle(forWritingAtPath: path)
    }

    public static func load(directory: String) throws -> File {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/journal.json"))
        return try JSONDecoder().decode(File.self, from: data)
    }

    public var kubectl: [String]? { file.kubectl }

    /// A line in steps.log: time, then what happens.
    public func note(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        log?.write(Data("\(Date().formatted(.iso8601)) \(line)\n".utf8))
    }

    /// Records a change and its undo before the caller goes on (the file is rewritten whole).
    public func record(step: Int, what: String, undo: Undo) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        file.entries.append(Entry(step: step, what: what, undo: undo, undone: false))
        try Self.save(file, directory: directory)
        return file.entries.count - 1
    }

    /// Notes what undoing entry `index` did; it counts as undone unless it failed.
    public func settle(_ index: Int, _ outcome: UndoOutcome?) {
        lock.lock()
        defer { lock.unlock() }
        file.entries[index].undone = outcome?.succeeded ?? true
        file.entries[index].result = outcome?.description
        try? Self.save(file, directory: directory)
    }

    /// Entries not undone yet.
    public var pending: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return file.entries.filter { !$0.undone }
    }

    /// Writes journal.json whole (also `capplan cleanup`, marking what it undid).
    public static func save(_ file: File, directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(file).write(to: URL(fileURLWithPath: directory + "/journal.json"), options: .atomic)
    }

    public func close() { try? log?.close() }
}
