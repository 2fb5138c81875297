import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A command started with an argv array and left running: reproduce commands and the
/// `kubectl exec ... tcpdump` streams. Spawned like `Processes.run` (posix_spawn, default
/// SIGINT/SIGTERM/SIGPIPE, empty mask), so a signal meant for capplan is never lost on it and
/// its exit is seen even when it left something behind.
public final class ChildProcess: @unchecked Sendable {
    public enum Output: Sendable {
        /// A pipe capplan reads: `standardOutput` is its read end.
        case pipe
        case file(String)
        case null
    }

    public let argv: [String]
    public let pid: Int32
    /// The kernel's start time, so that a reused pid is never stopped by mistake.
    public let startTicks: UInt64
    /// The read end when stdout is `.pipe`, else -1. The caller closes it (or `closeOutput()`).
    public private(set) var standardOutput: Int32
    /// The read end when stderr is `.pipe`, else -1.
    public private(set) var standardError: Int32
    private let lock = NSLock()
    private var status: Int32?

    public init(_ argv: [String], standardOutput: Output = .null, standardError: Output = .null) throws {
        self.argv = argv
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var readEnds: [Int32] = [-1, -1, -1], writeEnds: [Int32] = []
        defer { for end in writeEnds { Glibc.close(end) } }
        func open(_ output: Output, as descriptor: Int32) throws {
            switch output {
            case .pipe:
                var ends: [Int32] = [0, 0]
                guard pipe(&ends) == 0 else { throw Processes.SpawnError(message: "pipe: \(String(cString: strerror(errno)))") }
                _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)  // never inherited by a later child
                _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
                readEnds[Int(descriptor)] = ends[0]
                writeEnds.append(ends[1])
                posix_spawn_file_actions_adddup2(&actions, ends[1], descriptor)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case .null: posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0)
            }
        }
        try open(standardOutput, as: 1)
        try open(standardError, as: 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        Processes.closeTheRest(&actions)
        var attributes = Processes.spawnAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, argv.first ?? "", &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else {
            for end in readEnds where end >= 0 { Glibc.close(end) }
            throw Processes.SpawnError(message: "cannot run \(argv.first ?? ""): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        self.standardOutput = readEnds[1]
        self.standardError = readEnds[2]
        startTicks = Processes.startTicks(of: pid) ?? 0
    }

    /// The exit status once it has exited (reaped here), nil while it runs. 128+N for signal N.
    public var exitStatus: Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        var raw: Int32 = 0
        let reaped = waitpid(pid, &raw, WNOHANG)
        if reaped == pid {
            status = (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
        } else if reaped < 0 && errno == ECHILD {
            status = -1  // reaped elsewhere: gone, status unknown
        }
        return status
    }

    public var isRunning: Bool { exitStatus == nil }

    /// Waits up to `seconds` for it to exit, or until `cancelled` says so; its status, or nil if it still runs.
    @discardableResult
    public func wait(upTo seconds: TimeInterval, unless cancelled: (() -> Bool)? = nil) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let status = exitStatus { return status }
            if Date() >= deadline || cancelled?() == true { return nil }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; reaps it. Harmless when it has already exited.
    public func stop(grace: TimeInterval = 2) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if wait(upTo: grace) == nil {
            kill(pid, SIGKILL)
            wait(upTo: 5)
        }
    }

    public func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    public func closeOutput() {
        if standardOutput >= 0 { Glibc.close(standardOutput) }
        if standardError >= 0 { Glibc.close(standardError) }
        standardOutput = -1
        standardError = -1
    }
}
