import CapplanLoad
import CapplanPackets
import CapplanPlan
import Foundation

/// One `tcpdump -U -w -` per planned stream, in its node's helper, streamed out over its own
/// `kubectl exec` into one merged packet source; stopped so that every buffered packet comes
/// out; tcpdump's own counts read from what it prints as it exits.
final class TcpdumpStreams {
    private struct Entry {
        var name: String
        var child: ChildProcess
        var log: String
        var journalIndex: Int
    }

    private let kubectl: Kubectl
    private let context: RunContext
    private var entries: [Entry] = []

    init(kubectl: Kubectl, context: RunContext) {
        self.kubectl = kubectl
        self.context = context
    }

    /// Starts every stream; each is on the undo stack (under the capture step) once it has a pid.
    func start(_ streams: [(stream: CaptureStream, interface: ResolvedInterface)], helpers: [HelperPod], snaplen: Int, bufferSize: ByteSize?,
               step: Step) throws {
        for (stream, interface) in streams {
            guard let helper = helpers.first(where: { $0.node.value == stream.node }), let node = stream.node else { continue }
            // tcpdump's -B is in KiB.
            let buffer = bufferSize.map { ["-B", String(max(1, $0.bytes / 1024))] } ?? []
            let command = ["tcpdump", "-i", interface.name, "-U", "-w", "-", "-s", String(snaplen)] + buffer + (stream.filter.isEmpty ? [] : ["--", stream.filter])
            let argv = kubectl.exec(namespace: helper.namespace, pod: helper.name, container: HelperPod.container, command)
            // A shared bridge is captured once per pod (each with its own host filter): names stay unique.
            let name = "\(node)/\(interface.name)" + (stream.extraFilter != nil ? interface.pod.map { " for \($0)" } ?? "" : "")
            let log = context.directory + "/tcpdump-\(entries.count + 1)-\(node)-\(interface.name).log"
            let child = try ChildProcess(argv, standardOutput: .pipe, standardError: .file(log))
            let index = try context.undo.push(step.number, "capture \(name)",
                                              .stopProcess(command: argv, process: ProcessHandle(pid: child.pid, startTicks: child.startTicks)))
            entries.append(Entry(name: name, child: child, log: log, journalIndex: index))
            context.journal.note("stream \(name): \(argv.joined(separator: " "))")
        }
    }

    /// The streams as one packet source: a stream that never sends a pcap header says why from its log.
    func source(helpers: [HelperPod]) throws -> PcapStreams {
        let logs = entries.map { (name: $0.name, log: $0.log) }
        let source = try PcapStreams(streams: entries.map { ($0.name, $0.child.standardOutput) }, headerTimeout: 30, describeFailure: { name in
            logs.first { $0.name == name }.flatMap { try? String(contentsOfFile: $0.log, encoding: .utf8) } ?? ""
        })
        let kubectl = self.kubectl
        let interrupts = context.interrupts
        source.abandon = { interrupts.received >= 2 }
        source.onStop = {
            // tcpdump hands packets over in 1 s batches: let the last batch out, then SIGINT makes it
            // write everything it has and exit, which ends each stream.
            Thread.sleep(forTimeInterval: 1.1)
            DispatchQueue.concurrentPerform(iterations: helpers.count) { index in
                Self.interruptTcpdump(in: helpers[index], kubectl: kubectl)
            }
        }
        return source
    }

    /// Stops every local kubectl exec still running and settles its undo.
    func stopAll() {
        for entry in entries {
            entry.child.stop(grace: 5)
            context.undo.settled(entry.journalIndex)
        }
    }

    func statistics() -> [LiveCapture.Statistics] {
        entries.map { Self.statistics(name: $0.name, log: (try? String(contentsOfFile: $0.log, encoding: .utf8)) ?? "") }
    }

    /// tcpdump's own counts, printed to its stderr as it exits.
    static func statistics(name: String, log text: String) -> LiveCapture.Statistics {
        func count(_ suffix: String) -> UInt32 {
            for line in text.split(separator: "\n") where line.hasSuffix(suffix) {
                if let number = UInt32(line.split(separator: " ").first ?? "") { return number }
            }
            return 0
        }
        return LiveCapture.Statistics(interface: name, received: count("packets received by filter"),
                                      droppedByKernel: count("packets dropped by kernel"), droppedByInterface: 0)
    }

    /// SIGINT to every tcpdump in a helper (found with ps: neither image needs pkill). The helper
    /// has its own PID namespace, so only capplan's own processes are there.
    static func interruptTcpdump(in helper: HelperPod, kubectl: Kubectl) {
        interruptTcpdump(namespace: helper.namespace, pod: helper.name, kubectl: kubectl)
    }

    static func interruptTcpdump(namespace: String, pod: String, kubectl: Kubectl) {
        let prefix = Kubectl.execArguments(namespace: namespace, pod: pod, container: HelperPod.container, [])
        guard let listing = try? kubectl.run(prefix + ["ps", "-o", "pid,comm"], timeout: 15), listing.status == 0 else { return }
        let pids = listing.output.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            return words.count == 2 && words[1] == "tcpdump" && Int(words[0]) != nil ? String(words[0]) : nil
        }
        guard !pids.isEmpty else { return }
        _ = try? kubectl.run(prefix + ["kill", "-INT"] + pids, timeout: 15)
    }
}
