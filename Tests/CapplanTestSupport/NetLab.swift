import CapplanExecute
import Foundation

/// Real traffic between network namespaces, captured by real tcpdump: the test
/// creates client ↔ router ↔ server namespaces on documentation addresses, runs
/// scripts/lab/traffic.py on both ends, and removes everything afterwards.
///
///     client 198.51.100.10 ── 198.51.100.1 router 203.0.113.1 ── 203.0.113.20 server
///
/// The router drops SYNs to 203.0.113.99 silently (blackhole) and answers 203.0.113.77
/// with ICMP host unreachable. Nothing leaves the machine: every address is in a namespace.
public enum NetLab {
    public static let client = "198.51.100.10", router = "198.51.100.1", server = "203.0.113.20"
    public static let silent = "203.0.113.99", unreachable = "203.0.113.77"
    public static let idleSeconds = 5.5
    /// Secrets the HTTP scenario (port 8005) sends in the clear, for the redaction tests.
    public static let plantedSecrets = ["s3cr3t-t0ken-4711", "c00kie-0815", "hunter2-planted"]
    /// The address the DNS server answers with.
    public static let dnsAnswer = "203.0.113.53"

    public struct Captures: Sendable {
        /// tcpdump on the client's interface: Ethernet.
        public var ethernet: String
        /// tcpdump -i any in the router: Linux cooked v2, every packet seen on two interfaces.
        public var any: String
        /// dumpcap on both router interfaces: pcapng with two Ethernet interfaces.
        public var pcapng: String
    }

    /// Made once per test run and shared; each capture takes about 8 s of real traffic.
    public static let shared: Result<Captures, LabError> = {
        do throws(LabError) { return .success(try makeCaptures()) } catch { return .failure(error) }
    }()

    public struct LabError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    static func makeCaptures() throws(LabError) -> Captures {
        guard getuid() == 0 else { throw LabError(description: "network namespace tests need root (CI runs as root)") }
        sweepLeftoversOnce()
        let prefix = "cpt\(getpid() % 100_000)"
        let (c, r, s) = ("\(prefix)-c", "\(prefix)-r", "\(prefix)-s")
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The captures outlive every test; CAPPLAN_KEEP_LAB=1 keeps them for a look afterwards.
        if ProcessInfo.processInfo.environment["CAPPLAN_KEEP_LAB"] != "1" {
            atexit { try? FileManager.default.removeItem(atPath: NetLab.directory) }
        }
        let captures = Captures(ethernet: "\(directory)/client-eth.pcap", any: "\(directory)/router-any.pcap",
                                pcapng: "\(directory)/router-both.pcapng")
        defer { tearDown([c, r, s]) }
        tearDown([c, r, s])  // leftovers of a killed earlier run with the same pid

        try run(["ip", "netns", "add", c])
        try run(["ip", "netns", "add", r])
        try run(["ip", "netns", "add", s])
        try run(["ip", "link", "add", "\(prefix)-ca", "netns", c, "type", "veth", "peer", "name", "\(prefix)-ra", "netns", r])
        try run(["ip", "link", "add", "\(prefix)-sb", "netns", s, "type", "veth", "peer", "name", "\(prefix)-rb", "netns", r])
        for (ns, link, address) in [(c, "\(prefix)-ca", "\(client)/24"), (r, "\(prefix)-ra", "\(router)/24"),
                                    (r, "\(prefix)-rb", "203.0.113.1/24"), (s, "\(prefix)-sb", "\(server)/24")] {
            try run(["ip", "-n", ns, "addr", "add", address, "dev", link])
            try run(["ip", "-n", ns, "link", "set", link, "up"])
        }
        for ns in [c, r, s] { try run(["ip", "-n", ns, "link", "set", "lo", "up"]) }
        // Without offload the kernel fills in every checksum, so the captures carry valid ones
        // (the redaction tests check that rewriting keeps them valid).
        for (ns, link) in [(c, "\(prefix)-ca"), (r, "\(prefix)-ra"), (r, "\(prefix)-rb"), (s, "\(prefix)-sb")] {
            try run(["ip", "netns", "exec", ns, "ethtool", "-K", link, "tx", "off"])
        }
        try run(["ip", "-n", c, "route", "add", "default", "via", router])
        try run(["ip", "-n", s, "route", "add", "default", "via", "203.0.113.1"])
        try run(["ip", "netns", "exec", r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try run(["ip", "-n", r, "route", "add", "blackhole", "\(silent)/32"])
        try run(["ip", "-n", r, "route", "add", "unreachable", "\(unreachable)/32"])

        let dumps = [
            // Immediate mode: each packet reaches the file at once, not when the kernel's block times out.
            try Background(["ip", "netns", "exec", c, "tcpdump", "-i", "\(prefix)-ca", "--immediate-mode", "-U", "-n", "-w", captures.ethernet],
                           ready: "listening on"),
            // -i any loses packets now and then in immediate mode (seen here, one ACK and one RST
            // in a hundred packets); buffered, its last packets wait for the block timeout (1 s).
            try Background(["ip", "netns", "exec", r, "tcpdump", "-i", "any", "-B", "8192", "-U", "-n", "-w", captures.any],
                           ready: "listening on"),
        ]
        // dumpcap stops by itself (a test child cannot be sent SIGINT, see stop()), so it flushes its file.
        let pcapng = try Background(["ip", "netns", "exec", r, "dumpcap", "-i", "\(prefix)-ra", "-i", "\(prefix)-rb",
                                     "-a", "duration:10", "-w", captures.pcapng], ready: "Capturing on")
        let serverProcess = try Background(["ip", "netns", "exec", s, "python3", script, "server", server], ready: "ready")
        try run(["ip", "netns", "exec", c, "python3", script, "client", server, silent, unreachable, String(idleSeconds)], timeout: 40)
        Thread.sleep(forTimeInterval: 2.0)  // the last FIN/RST reach both files, past the 1 s block timeout
        serverProcess.stop()
        for dump in dumps { dump.stop() }
        pcapng.waitForExit(timeout: 15)
        return captures
    }

    /// Where the captures live while the tests run; removed when the test process exits.
    public static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capplan-lab-\(getpid())").path

    /// scripts/lab/traffic.py, the scripted peers of every namespace test.
    public static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/lab/traffic.py").path
    }

    /// Namespaces that an earlier test run made and could not remove (it crashed or was killed),
    /// with whatever still runs in them, are removed once per test process before any test makes
    /// its own: otherwise only a later run that happened to get the same pid removed them.
    public static func sweepLeftoversOnce() { _ = swept }
    private static let swept: [String] = sweepLeftovers()

    /// Removes the namespaces named for a test process that is gone, and kills what runs in them;
    /// returns their names. A name gives its maker's pid (`cpt-tn-a-<pid>`) or the pid modulo
    /// 100,000 (`cpt<n>-c`, `clc<n>-a`); one that a running process could own is kept.
    @discardableResult
    public static func sweepLeftovers() -> [String] {
        guard getuid() == 0, let listed = try? namespaces() else { return [] }
        let running = runningPids(), residues = Set(running.map { $0 % 100_000 })
        var swept: [String] = []
        for name in listed {
            guard let owner = owner(of: name) else { continue }
            let alive = owner.exact ? running.contains(owner.pid) : residues.contains(owner.pid)
            guard !alive else { continue }
            let pids = (try? run(["ip", "netns", "pids", name], check: false)) ?? ""
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            if (try? run(["ip", "netns", "delete", name], check: false)) != nil { swept.append(name) }
        }
        return swept
    }

    /// The pid a test namespace's name was made from: exact, or modulo 100,000; nil for other names.
    static func owner(of name: String) -> (pid: Int, exact: Bool)? {
        if name.hasPrefix("cpt-tn-") { return name.split(separator: "-").last.flatMap { Int($0) }.map { ($0, true) } }
        for prefix in ["cpt", "clc"] where name.hasPrefix(prefix) {
            let digits = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard !digits.isEmpty, name.dropFirst(prefix.count + digits.count).first == "-", let pid = Int(digits) else { return nil }
            return (pid, false)
        }
        return nil
    }

    /// The network namespaces' names, as `ip netns list` gives them (without their ids).
    public static func namespaces() throws(LabError) -> [String] {
        try run(["ip", "netns", "list"]).split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    /// The pids of the processes running now.
    public static func runningPids() -> Set<Int> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int($0) })
    }

    /// Deleting a namespace deletes its veths too; errors (already gone) are fine.
    static func tearDown(_ namespaces: [String]) {
        for ns in namespaces { _ = try? run(["ip", "netns", "delete", ns], check: false) }
    }

    @discardableResult
    public static func run(_ argv: [String], timeout: TimeInterval = 15, check: Bool = true, keepStandardError: Bool = true) throws(LabError) -> String {
        let result: (status: Int32, output: String, timedOut: Bool)
        do {
            result = try Processes.run(argv, timeout: timeout, standardError: keepStandardError)
        } catch {
            throw LabError(description: "cannot run \(argv): \(error)")
        }
        if result.timedOut { throw LabError(description: "\(argv.joined(separator: " ")) ran past \(timeout) s") }
        if check, result.status != 0 {
            throw LabError(description: "\(argv.joined(separator: " ")) exited \(result.status): \(result.output)")
        }
        return result.output
    }

    /// A process that runs while the traffic flows: started, awaited until it prints `ready`, stopped with SIGINT.
    public final class Background {
        let process = Process()
        let output = Pipe()

        public init(_ argv: [String], ready: String) throws(LabError) {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
            process.standardOutput = output
            process.standardError = output
            do { try process.run() } catch { throw LabError(description: "cannot start \(argv): \(error)") }
            var seen = ""
            let deadline = Date().addingTimeInterval(10)
            while !seen.contains(ready), Date() < deadline, process.isRunning {
                let chunk = output.fileHandleForReading.availableData
                seen += String(decoding: chunk, as: UTF8.self)
            }
            guard seen.contains(ready) else {
                stop()
                throw LabError(description: "\(argv.joined(separator: " ")) did not get ready: \(seen)")
            }
        }

        /// SIGKILL, because a child of a test thread inherits a signal mask that blocks SIGINT
        /// and SIGTERM. tcpdump -U has written every packet by then, so nothing is lost.
        public func waitForExit(timeout: TimeInterval) {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            stop()
        }

        public func stop() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
