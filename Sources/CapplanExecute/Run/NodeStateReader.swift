import CapplanAnalyse
import CapplanPlan
import Foundation

/// Performs the planned node-state reads at the capture's start and at its stop, writes each
/// output redacted to `node-state/NODE/NAME-before.txt` and `-after.txt`, and compares the rule
/// counters. A read that fails (no iptables-save in the helper's image, no conntrack module)
/// is written as such and said once; it never fails the run.
final class NodeStateReader {
    /// Runs one read on its node: its output, or why there is none.
    typealias Runner = @Sendable (NodeStateRead) -> Result<String, NodeStateFailure>

    struct NodeStateFailure: Error {
        var reason: String
    }

    /// Enough for every rule of a busy node and a pod's conntrack entries; more is cut, and said.
    static let sizeLimit = 4 << 20

    private let reads: [NodeStateRead]
    private let runner: Runner
    private let directory: String
    private let localNode: String
    private let redact: (String) -> String
    private var taken: [String: [String]] = [:]
    private(set) var problems: [String] = []

    init(reads: [NodeStateRead], directory: String, localNode: String, runner: @escaping Runner, redact: @escaping (String) -> String) {
        self.reads = reads
        self.runner = runner
        self.directory = directory + "/node-state"
        self.localNode = localNode
        self.redact = redact
    }

    /// Every read at once (each is a kubectl exec on a cluster), written as `moment`.
    func take(_ moment: String) {
        let reads = self.reads, runner = self.runner
        let outputs = parallelMap(reads.count) { runner(reads[$0]) }
        var texts: [String] = []
        for (read, output) in zip(reads, outputs) {
            var text: String
            switch output {
            case .success(let value): text = value
            case .failure(let failure):
                text = "# capplan could not read this: \(failure.reason)\n"
                let problem = "\(read.command.joined(separator: " ")) on \(node(of: read)): \(failure.reason)"
                if !problems.contains(problem) { problems.append(problem) }
            }
            if text.utf8.count > Self.sizeLimit {
                text = String(decoding: Array(text.utf8.prefix(Self.sizeLimit)), as: UTF8.self) + "\n# capplan: cut at \(Self.sizeLimit) bytes\n"
            }
            text = redact(text)
            texts.append(text)
            let folder = directory + "/" + node(of: read)
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try? text.write(toFile: "\(folder)/\(read.name)-\(moment).txt", atomically: true, encoding: .utf8)
        }
        taken[moment] = texts
    }

    /// Refusing or dropping rules that counted between the two reads.
    func countedRules() -> [PathRuleCount] {
        guard let before = taken["before"], let after = taken["after"] else { return [] }
        return reads.indices.filter { reads[$0].name.hasSuffix("tables") }.flatMap { index in
            RuleCounters.counted(before: before[index], after: after[index], node: node(of: reads[index]))
        }
    }

    /// The pods' conntrack entries of both reads, each once: the start's may have gone by the stop.
    func conntrackEntries() -> [ConntrackEntry] {
        var entries: [ConntrackEntry] = [], seen: Set<String> = []
        for moment in ["after", "before"] {
            for (read, text) in zip(reads, taken[moment] ?? []) where read.name.hasPrefix("conntrack") {
                for entry in ConntrackEntry.parse(text, node: node(of: read))
                where seen.insert("\(entry.node) \(entry.original) \(entry.reply)").inserted {
                    entries.append(entry)
                }
            }
        }
        return entries
    }

    private func node(of read: NodeStateRead) -> String { read.node ?? localNode }
}
