import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting and stopping the commands a plan runs, always as argv arrays.
public enum Processes {
    /// Runs `argv` to completion and returns its status and output (at most 1 MiB), with its
    /// standard error too when `standardError` is true. The output is read on another thread,
    /// so a chatty command cannot block on a full pipe. Past `timeout` it is killed: `timedOut`.
    public static func run(_ argv: [String], timeout: TimeInterval = 10, standardError: Bool = false)
        throws -> (status: Int32, output: String, timedOut: Bool) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = standardError ? pipe : FileHandle.nullDevice
        try process.run()
        let collected = Collected()
        Thread { collected.set(pipe.fileHandleForReading.readDataToEndOfFile()) }.start()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let timedOut = process.isRunning
        if timedOut { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: collected.wait().prefix(1 << 20), as: UTF8.self), timedOut)
    }

    /// Output gathered on another thread.
    final class Collected: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var data = Data()
        func set(_ value: Data) {
            data = value
            done.signal()
        }
        func wait() -> Data {
            done.wait()
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

