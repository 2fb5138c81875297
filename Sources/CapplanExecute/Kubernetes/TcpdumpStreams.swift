import CapplanLoad
import CapplanPackets
import CapplanPlan
import Foundation

/// One `tcpdump -U -w -` per planned stream, in its node's helper, streamed out over its own
/// `kubectl exec` into one merged packet source; stopped so that every buffered packet comes
/// out; tcpdump's own counts read from what it prints as it exits. A stream that breaks while
/// the run goes on is started again on the same point (its helper created again once, if it is
/// gone), and the gap is recorded.
final class TcpdumpStreams {
    private struct Entry {
        var name: String
        var argv: [String]
        var helper: HelperPod
        var child: ChildProcess
        var log: String
        var journalIndex: Int
        /// Earlier streams of this point (it broke, and was started again): stopped at the end too.
        var earlier: [(child: ChildProcess, journalIndex: Int, log: String)] = []
        var lastStart = Date()
        /// Starts in a row that failed or brought no packet: at `attemptLimit`, the point is given up.
        var fruitless = 0
        var packetsAtStart = 0
        /// When capplan saw the point's open gap begin.
        var gapStart = Date()
        /// The open gap of a point whose start failed, while it waits to be tried again.
        var waiting: RunRecord.StreamGap?
    }

    private let kubectl: Kubectl
    private let context: RunContext
    private var entries: [Entry] = []
    private var step: Step?
    /// Nodes whose helper pod was created again (once per node).
    private var recreated: Set<String> = []
    private var recorded: [(gap: RunRecord.StreamGap, stream: Int, start: Date)] = []
    /// When each stream's current tcpdump began sending, and when it ended (read from the source).
    private var times: () -> [(opened: Date?, ended: Date?)] = { [] }

    /// The gaps so far: each ends when the stream started again sent its first bytes (not when it was asked for).
    var gaps: [RunRecord.StreamGap] {
        let opened = times().map(\.opened)
        return recorded.enumerated().map { position, entry in
            var gap = entry.gap
            let latest = !recorded[(position + 1)...].contains { $0.stream == entry.stream }
            if latest, gap.to != nil, entry.stream < opened.count, let at = opened[entry.stream], at > entry.start {
                gap.to = at.formatted(.iso8601)
                gap.seconds = at.timeIntervalSince(entry.start)
            }
            return gap
        } + entries.compactMap(\.waiting)
    }
    /// Starts of one point in a row that failed or brought no packet before it is given up, and the pause between them.
    static let attemptLimit = 5
    static let retryPause: TimeInterval = 2
    /// How long one try waits for a helper created again: the capture loop waits meanwhile, and the next try waits again.
    static let restartReadyTimeout: TimeInterval = 30

    init(kubectl: Kubectl, context: RunContext) {
        self.kubectl = kubectl
        self.context = context
    }

    /// Starts every stream; each is on the undo stack (under the capture step) once it has a pid.
    func start(_ streams: [(stream: CaptureStream, interface: ResolvedInterface)], helpers: [HelperPod], snaplen: Int, bufferSize: ByteSize?,
               step: Step) throws {
        self.step = step
        for (stream, interface) in streams {
            guard let helper = helpers.first(where: { $0.node.value == stream.node }), let node = stream.node else { continue }
            // tcpdump's -B is in KiB.
            let buffer = bufferSize.map { ["-B", String(max(1, $0.bytes / 1024))] } ?? []
            let command = ["tcpdump", "-i", interface.name, "-U", "-w", "-", "-s", String(snaplen)] + buffer + (stream.filter.isEmpty ? [] : ["--", stream.filter])
            let argv = kubectl.exec(namespace: helper.namespace, pod: helper.name, container: HelperPod.container, command)
            // A shared bridge is captured once per pod (each with its own host filter): names stay unique.
            let name = "\(node)/\(interface.name)" + (stream.extraFilter != nil ? interface.pod.map { " for \($0)" } ?? "" : "")
            let log = context.directory + "/tcpdump-\(entries.count + 1)-\(node)-\(interface.name).log"
            let (child, index) = try spawn(argv, name: name, log: log, step: step)
            entries.append(Entry(name: name, argv: argv, helper: helper, child: child, log: log, journalIndex: index))
            context.journal.note("stream \(name): \(argv.joined(separator: " "))")
        }
    }

    /// Starts one `kubectl exec ... tcpdump`, its undo recorded under the capture step.
    private func spawn(_ argv: [String], name: String, log: String, step: Step) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(argv, standardOutput: .pipe, standardError: .file(log))
        let index = try context.undo.push(step.number, "capture \(name)",
                                          .stopProcess(command: argv, process: ProcessHandle(pid: child.pid, startTicks: child.startTicks)))
        return (child, index)
    }

    /// A stream ended while the run goes on: its point is read again by a new stream, after the
    /// helper is checked (and created again once, if it is gone). A start that fails (the API
    /// server busy, the old helper still going) is tried again after `retryPause`; fruitless
    /// starts and failed ones in a row give the point up.
    func resume(_ index: Int, why: String, packets: Int) -> PcapStreams.Resumption {
        guard let step, index < entries.count else { return .giveUp }
        guard Date().timeIntervalSince(entries[index].lastStart) >= Self.retryPause else { return .later }
        var entry = entries[index]
        defer { entries[index] = entry }
        var gap = entry.waiting ?? ended(&entry, index: index, why: why, packets: packets)
        entry.waiting = nil
        do {
            guard entry.fruitless < Self.attemptLimit else { throw KubernetesError("\(Self.attemptLimit) starts in a row failed or brought no packet") }
            gap.helperRecreated = try ensureHelper(entry.helper) || gap.helperRecreated
            let log = context.directory + "/tcpdump-\(index + 1)-resumed-\(entry.earlier.count + 1).log"
            let (child, journalIndex) = try spawn(entry.argv, name: entry.name, log: log, step: step)
            entry.earlier.append((entry.child, entry.journalIndex, entry.log))
            (entry.child, entry.journalIndex, entry.log) = (child, journalIndex, log)
            entry.lastStart = Date()
            entry.packetsAtStart = packets
            gap.to = entry.lastStart.formatted(.iso8601)
            gap.seconds = entry.lastStart.timeIntervalSince(entry.gapStart)
            recorded.append((gap, index, entry.gapStart))
            context.say("the capture stream of \(entry.name) broke (\(why)); started it again")
            context.journal.note("stream \(entry.name) resumed: \(gap.words)")
            return .reopen(child.standardOutput)
        } catch {
            entry.fruitless += 1
            entry.lastStart = Date()
            guard entry.fruitless >= Self.attemptLimit else {
                entry.waiting = gap
                context.journal.note("stream \(entry.name) not started again (\(error)); trying again in \(Int(Self.retryPause)) s")
                return .later
            }
            gap.givenUp = "\(error)"
            recorded.append((gap, index, entry.gapStart))
            context.say("capture point \(entry.name) given up: \(error); the run goes on with the others")
            context.journal.note("stream \(entry.name) given up: \(error)")
            return .giveUp
        }
    }

    /// The point's stream just ended: it is stopped and its gap opened, or, when the stream
    /// started last brought nothing, the gap it was meant to close is taken up again.
    private func ended(_ entry: inout Entry, index: Int, why: String, packets: Int) -> RunRecord.StreamGap {
        entry.fruitless = packets > entry.packetsAtStart ? 0 : entry.fruitless + 1
        let times = times()
        let noticed = (index < times.count ? times[index].ended : nil) ?? Date()
        entry.child.stop(grace: 1)
        context.undo.settled(entry.journalIndex)
        if entry.fruitless > 0, let last = recorded.lastIndex(where: { $0.stream == index }) {
            var gap = recorded.remove(at: last).gap
            (gap.to, gap.seconds) = (nil, nil)  // open again: closed by the next start, or given up
            return gap
        }
        entry.gapStart = noticed
        let dropped = Self.reported(name: entry.name, log: (try? String(contentsOfFile: entry.log, encoding: .utf8)) ?? "")
        return RunRecord.StreamGap(point: entry.name, from: noticed.formatted(.iso8601), to: nil, seconds: nil, why: why,
                                   droppedByTcpdump: dropped.map { Int($0.droppedByKernel) }, helperRecreated: false)
    }

    /// Whether the helper had to be created again: it is checked, and if it is gone (deleted,
    /// evicted, ended) it is created again from its manifest, once per node, and awaited.
    private func ensureHelper(_ helper: HelperPod) throws -> Bool {
        let node = helper.node.value ?? "?"
        let result = try kubectl.run(["get", "pod", "-n", helper.namespace, helper.name, "-o", "json"], timeout: 15)
        guard result.status == 0 || result.errors.contains("NotFound") else { throw KubernetesError("the helper could not be read: \(Kubectl.message(result.errors))") }
        var pod: ClusterObjects.Pod?
        if result.status == 0 {
            guard let read = try? JSONDecoder().decode(ClusterObjects.Pod.self, from: Data(result.output.utf8)) else {
                throw KubernetesError("the helper could not be read: kubectl's answer is not a pod")
            }
            pod = read
        }
        // Never exec into, or delete, a pod that only has the helper's name.
        if let pod, pod.metadata.labels?[HelperPod.runLabel] != helper.run {
            throw KubernetesError("pod \(helper.namespace)/\(helper.name) is not this run's helper (no \(HelperPod.runLabel)=\(helper.run) label)")
        }
        let live = pod?.metadata.deletionTimestamp == nil ? pod?.status?.phase : nil
        if live == "Running" { return false }
        let pods = HelperPods(kubectl: kubectl, context: context)
        if recreated.contains(node) {
            // One created again by an earlier try may still be starting: it is awaited, not created once more.
            guard live == "Pending" else { throw KubernetesError("its helper pod is gone again, after it was created again once") }
        } else {
            context.say("the helper pod \(helper.namespace)/\(helper.name) on \(node) is gone; creating it again")
            try pods.recreate(helper)
            recreated.insert(node)
            context.journal.note("helper pod \(helper.namespace)/\(helper.name) created again on \(node)")
        }
        try pods.waitUntilReady([helper], timeout: Self.restartReadyTimeout)
        return true
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
        times = { [weak source] in source?.times ?? [] }
        source.resume = { [unowned self, unowned source] index, why in
            resume(index, why: why, packets: index < source.counts.count ? source.counts[index].packets : 0)
        }
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
            for earlier in entry.earlier {
                earlier.child.stop(grace: 1)
                context.undo.settled(earlier.journalIndex)
            }
        }
    }

    /// tcpdump's counts per point, over every stream the point had.
    func statistics() -> [LiveCapture.Statistics] {
        entries.map { entry in
            let all = ([entry.log] + entry.earlier.map(\.log)).compactMap { log in
                Self.reported(name: entry.name, log: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            }
            return LiveCapture.Statistics(interface: entry.name, received: all.reduce(0) { $0 + $1.received },
                                          droppedByKernel: all.reduce(0) { $0 + $1.droppedByKernel }, droppedByInterface: 0)
        }
    }

    /// tcpdump's own counts, when it printed them (it did not when it was killed, or its stream was cut).
    static func reported(name: String, log text: String) -> LiveCapture.Statistics? {
        guard text.contains("packets received by filter") else { return nil }
        return statistics(name: name, log: text)
    }

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
