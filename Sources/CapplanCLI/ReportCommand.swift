import ArgumentParser
import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import CapplanReport
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Analyse a capture: who cut which connection, when, and why.",
        discussion: """
        Reads a pcap or pcapng file (Ethernet, tcpdump -i any's Linux cooked capture, raw IP, \
        loopback) in one streaming pass and reports, findings first: every reset with who sent \
        it to whom, when, after how long idle and how many bytes, and what that suggests; \
        refused connections; SYNs never answered; ICMP errors tied to the flow they answer; \
        failed DNS lookups. Connection states use Zeek's conn_state; TCP counters use \
        Wireshark's definitions.

        Labels name addresses in the findings ("pod myapp/web-1"): a YAML file of
          labels:
            - {address: 10.244.0.0/16, name: pod network, kind: pod}
            - {address: 203.0.113.12, name: lb-frontend, kind: loadbalancer}
        (kinds: pod, node, service, loadbalancer, external, other; the most specific block wins).

        Examples:
          capplan report capture.pcap
          capplan report capture.pcap --labels labels.yaml --out runs/today
          capplan report capture.pcap --format json | jq '.findings[].text'

        Exit status: 0 report written, 1 the capture or labels file cannot be used, 2 bad usage.
        """
    )

    @Argument(help: ArgumentHelp("The capture file (pcap or pcapng).", valueName: "capture"))
    var capture: String

    @Option(help: ArgumentHelp("A labels file naming addresses and CIDRs.", valueName: "file"))
    var labels: String?

    @Option(help: "What to print: md (summary.md) or json (summary.json).")
    var format: ReportFormat = .md

    @Option(help: ArgumentHelp("Also write summary.md and summary.json into this directory.", valueName: "dir"))
    var out: String?

    enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case md, json }

    func run() throws {
        let console = Console.current
        var identities = IdentityMap()
        if let labels {
            do {
                switch try LabelsFile.load(path: labels) {
                case .success(let map): identities = map
                case .failure(let problems):
                    console.err(problems.printer.render(problems.diagnostics))
                    throw CommandExit.invalidPlan
                }
            } catch let error as PlanReadError {
                console.err("capplan: \(error)\n")
                throw CommandExit.invalidPlan
            }
        }
        let summary: Summary
        do {
            summary = try CaptureReport.analyse(path: capture, identities: identities)
        } catch {
            console.err("capplan: cannot read the capture: \(error)\n")
            throw CommandExit.invalidPlan
        }
        // Each form is rendered only when it is printed or written.
        let markdown = format == .md || out != nil ? SummaryMarkdown.render(summary) : ""
        let json = format == .json || out != nil ? try SummaryJSON.render(summary) : ""
        if let out {
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try markdown.write(toFile: (out as NSString).appendingPathComponent("summary.md"), atomically: true, encoding: .utf8)
                try json.write(toFile: (out as NSString).appendingPathComponent("summary.json"), atomically: true, encoding: .utf8)
            } catch {
                console.err("capplan: cannot write the report into \(out): \(error.localizedDescription)\n")
                throw CommandExit.invalidPlan
            }
        }
        console.out(format == .md ? markdown : json)
        if let readError = summary.capture.readError {
            console.err("capplan: warning: \(capture): \(readError); the report covers the \(summary.capture.packets) packets before it\n")
        }
    }
}
