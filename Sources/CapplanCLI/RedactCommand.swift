import ArgumentParser
import CapplanLoad
import CapplanPackets
import CapplanExecute
import CapplanRedact
import Foundation

struct RedactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redact",
        abstract: "Write a copy of a capture that is safe to share, and say what was changed.",
        discussion: """
        Applies a plan's redact: rules (--plan) or a rules file (--rules, the same keys under \
        redact:) to every packet in one streaming pass: drop packets matching a BPF filter; cut \
        payloads (keep headers up to TCP/UDP/ICMP, or the first N bytes); pseudonymize IPv4 and \
        IPv6 addresses with prefix-preserving Crypto-PAn wherever they appear (IP headers, packets \
        quoted in ICMP errors, ARP, DNS answers), except in keepNetworks; zero or pseudonymize \
        MACs; mask scrub patterns in payloads byte for byte. Checksums that covered changed bytes \
        are updated, so a valid one stays valid. The original length of every packet is kept.

        The output is pcapng when its name ends in .pcapng: each packet keeps its interface, \
        named as in the input (interface 1, 2, ... with redact.names: drop); the input's \
        descriptions, comments and name resolution are left out, as they may hold names and \
        addresses the packet rules do not reach. Any other name gives classic pcap.

        The key: redact.key names an environment variable or a file holding 32 bytes (raw, or \
        64 hex digits); without one, a fresh random key is used and the report says so. The \
        report shows the key's fingerprint, never the key.

        Examples:
          capplan redact capture.pcapng shared.pcapng --plan plans/lb-rst.yaml
          CAPPLAN_KEY=$(cat key.hex) capplan redact in.pcap out.pcap --rules rules.yaml
          capplan redact in.pcap out.pcap --rules rules.yaml --format json | jq .stats

        A capture that ends in error (cut short while it was written, or damaged part-way) is \
        redacted up to the last whole packet before the damage; the output holds those packets \
        and capplan says where the input ended.

        Exit status: 0 written, 1 the rules, key or capture cannot be used (nothing written), \
        2 bad usage, 3 written, but the input ended in error: the output holds everything \
        before that point.
        """
    )

    @Argument(help: ArgumentHelp("The capture to read (pcap or pcapng).", valueName: "in"))
    var input: String

    @Argument(help: ArgumentHelp("The redacted capture to write: pcapng if its name ends in .pcapng, else pcap.", valueName: "out"))
    var output: String

    @Option(help: ArgumentHelp("Take the rules from this plan's redact: section.", valueName: "plan"))
    var plan: String?

    @Option(help: ArgumentHelp("Take the rules from this file (redact: with a plan's keys).", valueName: "file"))
    var rules: String?

    @Option(help: "The report: text or json.")
    var format: OutputFormat = .text

    @Option(help: ArgumentHelp("Threads: 2 redacts on one core and writes on another; the file is the same with 1. Default: 2 where the machine has two cores.",
                               valueName: "n"))
    var threads: Int = Threads.useful

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads takes 1 or more") }
        guard (plan == nil) != (rules == nil) else { throw ValidationError("Give the rules with exactly one of --plan PLAN or --rules FILE.") }
        let same = URL(fileURLWithPath: input).standardizedFileURL == URL(fileURLWithPath: output).standardizedFileURL
        if same { throw ValidationError("The output would overwrite the input; write the redacted copy elsewhere.") }
    }

    func run() throws {
        let console = Console.current
        let redaction = try loadRedaction(console)
        let rules: RedactionRules
        do {
            rules = try RedactionRules(redaction, environment: ProcessInfo.processInfo.environment)
        } catch {
            console.err("capplan: \(error)\n")
            throw CommandExit.invalidPlan
        }
        let done: Redacted
        do {
            done = try Self.redactFile(input: input, output: output, rules: rules, keepNames: redaction.names == .keep, threads: threads)
        } catch {
            console.err("capplan: \(error)\n")
            throw CommandExit.invalidPlan
        }
        var report = RedactionReport(input: input, output: output, rules: rules, stats: done.stats, keyFingerprint: done.fingerprint,
                                     randomKey: done.randomKey)
        report.inputError = done.inputError.map { "after packet \(done.stats.packetsIn): \($0)" }
        console.out(format == .json ? try report.json() : report.text())
        if let cut = report.inputError {
            console.err("capplan: \(input) ends in error \(cut); \(output) holds the \(done.stats.packetsOut) packets redacted before it\n")
            throw CommandExit(status: 3)
        }
    }

    private func loadRedaction(_ console: Console) throws -> Redaction {
        do {
            if let plan { return try loadValidPlan(plan, for: "redact", console: console).plan.redaction }
            let (redaction, loaded) = try PlanLoader.loadRules(path: rules ?? "")
            console.err(loaded.printer.render(loaded.diagnostics))
            guard let redaction else {
                console.err("\(loaded.path): invalid; fix the errors above\n")
                throw CommandExit.invalidPlan
            }
            return redaction
        } catch let error as PlanReadError {
            console.err("capplan: \(error)\n")
            throw CommandExit.usage
        }
    }

    /// What a redaction did, and the input's error when it ended in one part-way.
    struct Redacted {
        var stats: RedactionStats
        var fingerprint: String
        var randomKey: Bool
        var inputError: String?
    }

    /// Streams in → redact → out; the output appears under its name only once complete (up to
    /// the input's end, or to the error that ended it part-way).
    static func redactFile(input: String, output: String, rules: RedactionRules, keepNames: Bool = true, threads: Int = 1) throws -> Redacted {
        let reader = try openCaptureFile(input)
        if Set(reader.interfaces.map(\.linkType)).count > 1 {
            throw RedactionError("\(input) has interfaces of different link types; split it (editcap) and redact each")
        }
        let partial = output + ".partial"
        let pcapng = output.hasSuffix(".pcapng") ? RedactingWriter.PcapngHeader(
            comment: "redacted by capplan \(capplanVersion)", application: "capplan \(capplanVersion)",
            interfaces: reader.interfaces.enumerated().map { index, interface in
                PcapngInterface(name: keepNames && !interface.name.isEmpty ? interface.name : "interface \(index + 1)",
                                linkType: interface.linkType, snaplen: interface.snaplen)
            }) : nil
        let writer = try RedactingWriter(path: partial, rules: rules, linkType: reader.linkType, snaplen: reader.snaplen, pcapng: pcapng)
        var completed = false
        defer {
            writer.close()
            if !completed { unlink(partial) }
        }
        var inputError: String?
        let pipeline = RedactPipeline(writer: writer, threads: threads)
        do {
            var batch: [RawPacket] = []
            repeat {
                try reader.next(into: &batch, limit: captureBatchLimit)
                for packet in batch { pipeline.add(packet) }
            } while !batch.isEmpty
        } catch {
            inputError = error.message
        }
        pipeline.finish()
        try writer.flush()
        writer.close()
        guard rename(partial, output) == 0 else {
            throw RedactionError("cannot move \(partial) to \(output): \(String(cString: strerror(errno)))")
        }
        completed = true
        return Redacted(stats: writer.redactor.stats, fingerprint: writer.redactor.keyFingerprint, randomKey: writer.redactor.keyIsRandom,
                        inputError: inputError)
    }
}

/// What `capplan redact` says it did: every rule, how many packets it touched, which key.
struct RedactionReport: Encodable {
    var version = 1
    var input: String
    var output: String
    var rules: Rules
    var stats: RedactionStats
    var keyFingerprint: String?
    var randomKey: Bool
    /// Where and how the input ended in error, when it did: the output holds what came before.
    var inputError: String?

    struct Rules: Encodable {
        var payload: String
        var addresses: String
        var keepNetworks: [String]
        var macs: String
        var scrub: [String]
        var drop: String?
    }

    init(input: String, output: String, rules: RedactionRules, stats: RedactionStats, keyFingerprint: String, randomKey: Bool) {
        self.input = input
        self.output = output
        let payload: String
        switch rules.payload {
        case .keep: payload = "keep"
        case .drop: payload = "drop"
        case .truncate(let bytes): payload = "truncate \(bytes)"
        }
        self.rules = Rules(payload: payload, addresses: rules.pseudonymizeAddresses ? "pseudonymize" : "keep",
                           keepNetworks: rules.keepNetworks.map(\.description), macs: rules.macs.rawValue, scrub: rules.scrub, drop: rules.dropFilter)
        self.stats = stats
        let usesKey = rules.pseudonymizeAddresses || rules.macs == .pseudonymize
        self.keyFingerprint = usesKey ? keyFingerprint : nil
        self.randomKey = usesKey && randomKey
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    func text() -> String {
        var lines = ["capplan redact: \(input) -> \(output)"]
        lines.append("  packets: \(stats.packetsIn) in, \(stats.packetsOut) out"
                     + (rules.drop.map { ", \(stats.droppedByFilter) dropped by \"\($0)\"" } ?? ""))
        lines.append("  payload: \(rules.payload)" + (stats.payloadsCut > 0 ? ", cut in \(stats.payloadsCut) packets (\(stats.payloadBytesRemoved) bytes removed)" : ""))
        if rules.addresses == "pseudonymize" {
            let kept = rules.keepNetworks.isEmpty ? "" : ", kept: \(rules.keepNetworks.joined(separator: ", "))"
            lines.append("  addresses: Crypto-PAn in \(stats.addressesPseudonymized) packets, \(stats.dnsAnswersRewritten) DNS answers, \(stats.arpRewritten) ARP packets\(kept)")
        } else {
            lines.append("  addresses: kept")
        }
        lines.append("  MACs: \(rules.macs)" + (stats.macsRewritten > 0 ? " in \(stats.macsRewritten) packets" : ""))
        for (pattern, matches) in zip(rules.scrub, stats.scrubMatches) {
            lines.append("  scrub \"\(pattern)\": \(matches) match\(matches == 1 ? "" : "es") masked")
        }
        lines.append("  checksums updated: \(stats.checksumsUpdated)")
        if let inputError { lines.append("  input ended in error \(inputError); the output holds what came before") }
        if let keyFingerprint {
            lines.append("  key: fingerprint \(keyFingerprint)" + (randomKey ? " (a fresh random key for this run: pseudonyms differ from any other run)" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
