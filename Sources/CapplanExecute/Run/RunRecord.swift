import CapplanLoad
import CapplanPackets
public import CapplanPlan
import CapplanRedact
import Foundation

/// run.json: what ran, where, when, with which plan (by content hash and git commit) and result.
public struct RunRecord: Codable, Sendable {
    public var version = 1
    public var plan: PlanIdentity
    /// "local" or "kubernetes".
    public var target: String
    public var netns: String?
    public var kubernetes: KubernetesRecord?
    public var interfaces: [ResolvedInterface]
    public var filter: String
    public var start: String
    public var end: String
    public var durationSeconds: Double
    /// From the start of the capture to the first packet, if any came.
    public var firstPacketSeconds: Double?
    public var stopReason: String
    public var packets: PacketCounts
    public var redaction: RedactionSummary
    public var reproduce: [ReproduceRecord]
    public var verdict: Verdict?
    public var exitCode: Int32
    /// Every step the planner gave (encoded exactly as `capplan plan --format json` encodes it),
    /// with what became of it and the facts only the run could know.
    public var steps: [ExecutedStep]
    /// Where each packet of capture.pcap was captured, in order.
    public var origins: Origins
    /// Capture streams that broke during the run and were started again (or given up).
    public var gaps: [StreamGap]?
    /// `capture.keep`: the windows kept, and what was kept and discarded.
    public var keep: KeepRecord?
    /// The CPU capplan used (user and system, every thread), split where the capture stopped.
    public var cpuSeconds: CPUSeconds?

    /// `capture`: from the start of the process to the capture's stop: planning, capturing,
    /// redacting, analysing and writing each packet. `report`: after it, until run.json is
    /// written: the summary, packet comments in the pcapng, report.html's ladders (a second
    /// pass over the capture).
    public struct CPUSeconds: Codable, Sendable, Equatable {
        public var capture: Double
        public var report: Double

        /// This process's CPU time so far, all threads.
        static func used() -> Double {
            var usage = rusage()
            guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
            func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
            return seconds(usage.ru_utime) + seconds(usage.ru_stime)
        }
    }

    /// A capture point's stream that ended before the run did: from when capplan saw it end to when
    /// a new stream was started on the same point (nil: given up), and what tcpdump said it lost.
    public struct StreamGap: Codable, Sendable, Equatable {
        public var point: String
        public var from: String
        public var to: String?
        public var seconds: Double?
        public var why: String
        /// Packets tcpdump said it dropped, when it said so as it exited; nil when it could not say (killed, or its stream cut).
        public var droppedByTcpdump: Int?
        /// The helper pod was gone and was created again first.
        public var helperRecreated: Bool
        /// Why the point was given up (the last start's error); nil while it runs or waits to be tried again.
        public var givenUp: String? = nil

        /// In words, for summary.md and the verdict's doubts.
        public var words: String {
            let lost = droppedByTcpdump.map { "; tcpdump reported \($0) dropped as it exited" } ?? "; what passed meanwhile was not captured"
            guard let to, let seconds else {
                let end = givenUp.map { "was given up: \($0)" } ?? "was not running again when the capture stopped"
                return "the capture stream of \(point) ended at \(from) (\(why)) and \(end)\(lost)"
            }
            return "the capture stream of \(point) broke at \(from) (\(why)) and was started again \(String(format: "%.1f", seconds)) s later, at \(to)"
                + (helperRecreated ? ", after its helper pod was created again" : "") + lost
        }
    }

    public struct KeepRecord: Codable, Sendable {
        public var around: String
        public var before: Double
        public var after: Double
        public var windowLimit: Int
        public var memoryBound: Int64
        public var windows: [KeptWindow]
        public var counts: KeptCounts
    }

    /// Packet by packet, which interface or stream (node/interface on Kubernetes) captured it:
    /// runs of [index in `sources`, how many packets in a row], in capture.pcap's order.
    public struct Origins: Codable, Sendable {
        /// One run of packets from the same source; encoded as [source, count].
        public struct Run: Codable, Sendable {
            public var source: Int
            public var count: Int

            public init(from decoder: Decoder) throws {
                var pair = try decoder.unkeyedContainer()
                source = try pair.decode(Int.self)
                count = try pair.decode(Int.self)
            }

            public func encode(to encoder: Encoder) throws {
                var pair = encoder.unkeyedContainer()
                try pair.encode(source)
                try pair.encode(count)
            }

            init(source: Int, count: Int) {
                self.source = source
                self.count = count
            }
        }

        public var sources: [String]
        /// The runs before the current one, which is kept in two plain numbers: extending it is
        /// on the per-packet path, where an array element's update checked the array's uniqueness.
        private var closed: [Run] = []
        private var openSource = 0
        private var openCount = 0

        public var runs: [Run] { openCount > 0 ? closed + [Run(source: openSource, count: openCount)] : closed }

        init(sources: [String]) {
            self.sources = sources
        }

        /// Notes the next packet written.
        mutating func add(_ source: Int) {
            if source == openSource, openCount > 0 {
                openCount += 1
                return
            }
            if openCount > 0 { closed.append(Run(source: openSource, count: openCount)) }
            openSource = source
            openCount = 1
        }

        private enum CodingKeys: String, CodingKey { case sources, runs }

        public init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            sources = try container.decode([String].self, forKey: .sources)
            closed = try container.decode([Run].self, forKey: .runs)
            if let last = closed.popLast() { (openSource, openCount) = (last.source, last.count) }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(sources, forKey: .sources)
            try container.encode(runs, forKey: .runs)
        }
    }

    public struct ExecutedStep: Codable, Sendable {
        public var planned: Step
        /// done, not reached, or failed: why.
        public var outcome: String
        public var facts: [String]?
    }

    public struct PlanIdentity: Codable, Sendable {
        public var path: String
        public var name: String
        public var sha256: String
        /// The commit that last changed the plan file, when it is in a git repository.
        public var gitCommit: String?
    }

    public struct PacketCounts: Codable, Sendable {
        public var captured: Int
        public var written: Int
        public var bytes: Int64
        /// Per interface: libpcap's counters (local) or tcpdump's final counts (Kubernetes).
        public var kernel: [LiveCapture.Statistics]
    }

    public struct RedactionSummary: Codable, Sendable {
        public var applied: Bool
        public var keyFingerprint: String?
        public var randomKey: Bool
        public var stats: RedactionStats
    }

    public struct ReproduceRecord: Codable, Sendable {
        public var at: Double
        public var netns: String?
        public var pod: String?
        public var command: [String]
        public var log: String
        /// Exit status, or nil when capplan stopped it at the end of the capture.
        public var exitStatus: Int32?
        public var timedOut: Bool?
    }

    /// What a Kubernetes run found and changed.
    public struct KubernetesRecord: Codable, Sendable {
        public var context: String?
        public var kubeconfig: String?
        public var runID: String
        public var nodes: [String]
        public var cordoned: [String]
        public var helperPods: [String]
        public var pods: [PodRecord]
        public var timeline: Timeline
    }

    /// Seconds from the start of apply to each milestone of a Kubernetes run.
    public struct Timeline: Codable, Sendable {
        public var preflightDone: Double?
        public var helpersReady: Double?
        public var captureStarted: Double?
        public var firstPacket: Double?
    }

    public struct PodRecord: Codable, Sendable {
        public var namespace: String
        public var name: String
        public var ips: [String]
        public var node: String?
    }
}
