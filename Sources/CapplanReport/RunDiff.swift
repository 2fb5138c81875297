import Foundation

/// What changed between two runs of one plan (`capplan diff A B`): findings that appeared,
/// disappeared or changed, the verdict before and after, connection states by count.
///
/// A finding is the same in both runs when its words are the same once what varies from run to
/// run is set aside: counts, times and packet numbers, and the client's ephemeral port (32768 and
/// up, Linux's range). Same words with other numbers is a change of count or timing. A finding
/// left over on each side with the same kind between the same addresses is one finding changed
/// (its sender, say); it still counts as new, since B says something A did not.
public struct RunDiff: Sendable, Codable {
    public struct Side: Sendable, Codable {
        public var source: String
        public var plan: String?
        public var planSHA256: String?
        public var passed: Bool?
        public var packets: Int
        public var connections: Int
    }

    public struct Finding: Sendable, Codable, Equatable {
        public var kind: String
        public var severity: String
        public var text: String
    }

    public struct Change: Sendable, Codable {
        public var before: Finding
        public var after: Finding
        /// counts or timing (the same words), or what (the words differ: another sender, another port).
        public var what: String
    }

    public struct StateCount: Sendable, Codable {
        public var state: String
        public var before: Int
        public var after: Int
    }

    public var before: Side
    public var after: Side
    public var appeared: [Finding]
    public var disappeared: [Finding]
    public var changed: [Change]
    public var unchanged: Int
    public var states: [StateCount]
    /// The plans differ (by name or hash): the comparison may say little.
    public var warnings: [String]

    /// B has a finding A lacks: something new or different was found.
    public private(set) var hasNewFindings = false

    static let countsOrTiming = "counts or timing"

    public init(before: RunInput, after: RunInput) {
        self.before = before.side
        self.after = after.side
        var leftBefore = before.findings, leftAfter: [Finding] = []
        var changed: [Change] = [], unchanged = 0
        for finding in after.findings {
            let key = Self.signature(finding)
            if let index = leftBefore.firstIndex(where: { Self.signature($0) == key }) {
                let old = leftBefore.remove(at: index)
                if old.text == finding.text { unchanged += 1 } else { changed.append(.init(before: old, after: finding, what: Self.countsOrTiming)) }
            } else {
                leftAfter.append(finding)
            }
        }
        var appeared: [Finding] = []
        for finding in leftAfter {
            let key = Self.looseKey(finding)
            if let index = leftBefore.firstIndex(where: { Self.looseKey($0) == key }) {
                changed.append(.init(before: leftBefore.remove(at: index), after: finding, what: "what was found"))
            } else {
                appeared.append(finding)
            }
        }
        self.appeared = appeared
        disappeared = leftBefore
        self.changed = changed
        self.unchanged = unchanged
        let names = Set(before.states.keys).union(after.states.keys).sorted()
        states = names.compactMap { state in
            let (old, new) = (before.states[state] ?? 0, after.states[state] ?? 0)
            return old == new ? nil : StateCount(state: state, before: old, after: new)
        }
        hasNewFindings = !appeared.isEmpty || changed.contains { $0.what != Self.countsOrTiming }
        warnings = []
        if let a = before.side.plan, let b = after.side.plan, a != b {
            warnings.append("the runs are of different plans (\(a), \(b)): the comparison may say little")
        } else if let a = before.side.planSHA256, let b = after.side.planSHA256, a != b {
            warnings.append("the plan changed between the runs (sha256 \(a.prefix(12)) → \(b.prefix(12)))")
        }
    }

    // MARK: matching

    /// The words with what varies between runs set aside: addresses stay (with a server port;
    /// an ephemeral port becomes `*`), every other number becomes `#`.
    static func signature(_ finding: Finding) -> String {
        // "(3 times)" and "(packets 4, 9)" say how often and where, not what.
        let text = finding.text.replacingOccurrences(of: #" \((\d+ times|packets? [\d, …]+)\)"#, with: "", options: .regularExpression)
        var result = "", last = text.startIndex
        for match in addressRegex?.matches(in: text, range: NSRange(text.startIndex..., in: text)) ?? [] {
            guard let range = Range(match.range, in: text), let address = Range(match.range(at: 1), in: text) else { continue }
            result += numbersHidden(text[last..<range.lowerBound]) + text[address]
            if let port = Range(match.range(at: 2), in: text) {
                result += ":" + ((Int(text[port]) ?? 0) >= 32768 ? "*" : String(text[port]))
            }
            last = range.upperBound
        }
        return finding.kind + "|" + result + numbersHidden(text[last...])
    }

    private static func numbersHidden(_ text: Substring) -> String {
        String(text).replacingOccurrences(of: #"\d+(\.\d+)?"#, with: "#", options: .regularExpression)
    }

    /// An IPv4 address, or an IPv6 one (bare, or in brackets before a port), and its port.
    static let addressRegex = try? NSRegularExpression(
        pattern: #"(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})(?::(\d{1,5}))?"#)

    /// The kind, the addresses a finding names (not its evidence), and for a path finding the packet it follows.
    static func looseKey(_ finding: Finding) -> String {
        let text = finding.text.components(separatedBy: "; during the run").first ?? finding.text
        let packet = finding.kind == "path" ? String(text.prefix { $0 != " " }) : ""
        let addresses = (addressRegex?.matches(in: text, range: NSRange(text.startIndex..., in: text)) ?? []).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
        return finding.kind + "|" + packet + "|" + Set(addresses).sorted().joined(separator: ",")
    }
}

/// One side of a diff: a run directory (summary.json and run.json) or a summary.json alone.
public struct RunInput: Sendable {
    public var side: RunDiff.Side
    public var findings: [RunDiff.Finding]
    public var states: [String: Int]

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The parts of summary.json and run.json a diff reads; other fields may come and go.
    private struct SummaryFile: Decodable {
        struct Capture: Decodable { var packets: Int }
        struct Connections: Decodable {
            var total: Int
            var byState: [String: Int]
        }
        var capture: Capture
        var findings: [RunDiff.Finding]
        var connections: Connections
    }

    private struct RunFile: Decodable {
        struct Plan: Decodable {
            var name: String
            var sha256: String?
        }
        struct Verdict: Decodable {
            struct Result: Decodable { var held: Bool }
            var results: [Result]
        }
        var plan: Plan
        var verdict: Verdict?
    }

    public init(path: String) throws(Problem) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Problem(description: "\(path): no such run directory or summary.json")
        }
        let directory = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        let summaryPath = isDirectory.boolValue ? (path as NSString).appendingPathComponent("summary.json") : path
        guard FileManager.default.fileExists(atPath: summaryPath) else {
            throw Problem(description: "\(path): not a run directory: it holds no summary.json (give a directory capplan apply wrote, "
                          + "or a summary.json from capplan report --out)")
        }
        let summary: SummaryFile = try Self.decode(summaryPath, what: "a summary.json capplan wrote")
        let runPath = (directory.isEmpty ? "." : directory as NSString).appendingPathComponent("run.json")
        let run: RunFile? = FileManager.default.fileExists(atPath: runPath) ? try Self.decode(runPath, what: "a run.json capplan wrote") : nil
        side = RunDiff.Side(source: path, plan: run?.plan.name, planSHA256: run?.plan.sha256, passed: run?.verdict.map { $0.results.allSatisfy(\.held) },
                            packets: summary.capture.packets, connections: summary.connections.total)
        findings = summary.findings
        states = summary.connections.byState
    }

    private static func decode<T: Decodable>(_ path: String, what: String) throws(Problem) -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, R_OK) == 0 ? "cannot be read" : String(cString: strerror(errno))
            throw Problem(description: "\(path): \(reason)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw Problem(description: "\(path): not \(what) (\(Self.describe(error)))")
        }
    }

    private static func describe(_ error: Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: "no \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case .dataCorrupted(let context)?: context.debugDescription
        default: "\(error)"
        }
    }
}

extension RunDiff {
    /// The diff in words: verdicts, then what is new, gone and changed, then states.
    public func text() -> String {
        func verdict(_ side: Side) -> String { side.passed.map { $0 ? "PASS" : "FAIL" } ?? "none" }
        var lines = ["capplan diff: \(before.source) → \(after.source)" + (after.plan.map { " (plan \($0))" } ?? "")]
        lines += warnings.map { "warning: \($0)" }
        lines.append("verdict: \(verdict(before)) → \(verdict(after))")
        lines.append("packets: \(before.packets) → \(after.packets); connections: \(before.connections) → \(after.connections)")
        lines.append("findings: \(appeared.count) new, \(disappeared.count) gone, \(changed.count) changed, \(unchanged) the same")
        lines += appeared.map { "  + new: [\($0.kind)] \($0.text)" }
        lines += disappeared.map { "  - gone: [\($0.kind)] \($0.text)" }
        for change in changed {
            lines.append("  ~ changed (\(change.what)): [\(change.after.kind)]")
            lines.append("      before: \(change.before.text)")
            lines.append("      after:  \(change.after.text)")
        }
        if !states.isEmpty {
            lines.append("connection states:")
            lines += states.map { "  \($0.state): \($0.before) → \($0.after)" }
        }
        lines.append(hasNewFindings ? "B has findings that A lacks." : "B has no finding that A lacks.")
        return lines.joined(separator: "\n") + "\n"
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}
