import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting and stopping the commands a plan runs, always as argv arrays.
public enum Processes {
    /// Runs `argv` to completion and returns its status and output, with its standard error
    /// appended when `standardError` is true; past `timeout` the command is killed and `timedOut` is true.
    public static func run(_ argv: [String], timeout: TimeInterval = 10, standardError: Bool = false)
        throws -> (status: Int32, output: String, timedOut: Bool) {
        let result = try capture(argv, timeout: timeout)
        return (result.status, result.output + (standardError ? result.errors : ""), result.timedOut)
    }

    /// Spawn attributes for every child: default SIGINT, SIGTERM and SIGPIPE, an empty signal mask
    /// (children of test threads and of capplan's signal handling would inherit blocked signals),
    /// and a process group of its own, so that Ctrl-C in the terminal reaches capplan only: capplan
    /// then stops each child in order (tcpdump streams flushed first, undo commands never cut short).
    /// The caller destroys them.
    static func spawnAttributes() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        return attributes
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// Glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), looked up at run time: Swift's
    /// Glibc module does not export it.
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    /// Nothing of capplan's beyond stdin, stdout and stderr reaches a child: not its capture
    /// handles or files, and not the descriptor by which whoever started capplan notices that it
    /// exited (Foundation's Process waits for it to close; a child holding it would hide the exit).
    static func closeTheRest(_ actions: inout posix_spawn_file_actions_t) {
        if let closeFrom {
            _ = closeFrom(&actions, 3)
        } else if let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for descriptor in names.compactMap(Int32.init) where descriptor > 2 && fcntl(descriptor, F_GETFD) >= 0 {
                posix_spawn_file_actions_addclose(&actions, descriptor)
            }
        }
    }

    /// What a finished command printed, each stream on its own.
    public struct Captured: Sendable {
        public var status: Int32
        public var output: String
        public var errors: String
        public var timedOut: Bool
        /// Stopped because `cancelled` said so (Ctrl-C).
        public var cancelled = false
    }

    /// Runs `argv` to completion, keeping stdout and stderr apart (at most 16 MiB of each);
    /// past `timeout` it is killed and `timedOut` is true. Spawned as a `ChildProcess` and reaped
    /// with waitpid, not through Foundation's Process: a command that leaves daemons behind (a
    /// lab's `up`) must still count as finished when it exits, and the output those daemons keep
    /// open is read for at most a second more.
    public static func capture(_ argv: [String], timeout: TimeInterval = 30, cancelled: (() -> Bool)? = nil) throws -> Captured {
        let child = try ChildProcess(argv, standardOutput: .pipe, standardError: .pipe)
        let output = Collected(), errors = Collected()
        for (descriptor, collected) in [(child.standardOutput, output), (child.standardError, errors)] {
            Thread {
                var buffer = [UInt8](repeating: 0, count: 65_536)
                var total = 0
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    total += count
                    if total <= 16 << 20 { collected.append(Data(buffer[0..<count])) }
                }
                close(descriptor)
                collected.finish()
            }.start()
        }
        var status = child.wait(upTo: timeout, unless: cancelled)
        let wasCancelled = status == nil && cancelled?() == true
        let timedOut = status == nil && !wasCancelled
        if status == nil {
            child.stop(grace: 1)
            status = child.exitStatus
        }
        // A daemon the command left behind may hold the pipes open: its reader closes them when it ends.
        let stdout = output.wait(upTo: 1), stderr = errors.wait(upTo: 1)
        return Captured(status: status ?? -1, output: String(decoding: stdout, as: UTF8.self),
                        errors: String(decoding: stderr, as: UTF8.self), timedOut: timedOut, cancelled: wasCancelled)
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Output gathered on another thread.
    final class Collected: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var data = Data()

        func append(_ chunk: Data) {
            lock.lock()
            data.append(chunk)
            lock.unlock()
        }

        func finish() { done.signal() }

        /// Everything read, once the pipe closed or `seconds` passed.
        func wait(upTo seconds: TimeInterval) -> Data {
            _ = done.wait(timeout: .now() + seconds)
            lock.lock()
            defer { lock.unlock() }
            return data
        }
    }

    /// The kernel's start time of a process (field 22 of /proc/PID/stat), to tell it from a later one with the same pid.
    public static func startTicks(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Stops a process started earlier if it is still the same one: SIGTERM, then SIGKILL after `grace`.
    @discardableResult
    public static func stop(pid: Int32, startTicks: UInt64, grace: TimeInterval = 2) -> Bool {
        guard Self.startTicks(of: pid) == startTicks else { return false }  // gone, or the pid was reused
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Self.startTicks(of: pid) == startTicks, !isZombie(pid), Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if Self.startTicks(of: pid) == startTicks, !isZombie(pid) { kill(pid, SIGKILL) }
        return true
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}

