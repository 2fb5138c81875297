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

        Captures taken at several points of one path (tcpdump on a pod's veth, on its node's \
        uplink, on the far node's) are analysed as one with --point, once per capture: merged by \
        time, each SYN, SYN-ACK, FIN, RST and ICMP error is followed across the points (matched by \
        the fields NAT leaves alone) and the report says who made it and where it was lost, as \
        `apply` does for `interfaces: path`. A point is file=FILE,node=NODE,interface=NAME, plus \
        pod=NAMESPACE/NAME (and address=POD_IP) for a pod's veth; without pod it is an uplink.

        A capture.pcapng that apply wrote carries its capture points and names: its packets are \
        followed across the points again and its addresses named, without --point or --labels \
        (the nodes' rule counters and conntrack stay in the run's node-state/).

        Examples:
          capplan report runs/lb-rst/2026-11-26T15-04-05Z/capture.pcapng
          capplan report capture.pcap --labels labels.yaml --out runs/today
          capplan report capture.pcap --format json | jq '.findings[].text'
          capplan report --point file=veth.pcap,node=a,interface=veth1,pod=myapp/web \\
                         --point file=eth0.pcap,node=a,interface=eth0

        Exit status: 0 report written, 1 the capture or labels file cannot be used, 2 bad usage.
        """
    )

    @Argument(help: ArgumentHelp("The capture file (pcap or pcapng); - reads one from standard input (tcpdump -w - | capplan report -).",
                                 valueName: "capture"))
    var capture: String?

    @Option(name: .customLong("point"), help: ArgumentHelp(
        "A capture taken at one point of a path: file=FILE,node=NODE,interface=NAME[,pod=NS/NAME[,address=IP]]. Repeat per point.",
        valueName: "spec"))
    var points: [String] = []

    @Option(help: ArgumentHelp("A labels file naming addresses and CIDRs.", valueName: "file"))
    var labels: String?

    @Option(help: "What to print: md (summary.md) or json (summary.json).")
    var format: ReportFormat = .md

    @Option(help: ArgumentHelp("Also write summary.md, summary.json and report.html into this directory.", valueName: "dir"))
    var out: String?

    @Option(help: ArgumentHelp("Analysis threads: 2 splits the flows between two cores; the report is the same with 1. Default: 2 where the machine has two cores.",
                               valueName: "n"))
    var threads: Int = AnalysisShards.defaultThreads

    /// For the benchmarks (scripts/bench-report): where the time goes, stage by stage, instead of the report.
    @Flag(help: .hidden)
    var stages = false

    enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case md, json }

    func validate() throws {
        if capture == nil, points.isEmpty { throw ValidationError("give a capture file, or --point once per capture of a path") }
        if capture != nil, !points.isEmpty { throw ValidationError("give a capture file or --point captures, not both") }
        if threads < 1 { throw ValidationError("--threads takes 1 or more") }
        for spec in points { _ = try Self.point(spec) }
    }

    /// A `--point` spec: `file=FILE,node=NODE,interface=NAME[,pod=NS/NAME[,address=IP]]`.
    static func point(_ spec: String) throws -> (point: PathPoint, path: String) {
        var fields: [String: String] = [:]
        for pair in spec.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["file", "node", "interface", "pod", "address"].contains(parts[0]) else {
                throw ValidationError("--point \(spec): \"\(pair)\" is not one of file=, node=, interface=, pod=, address=")
            }
            fields[parts[0]] = parts[1]
        }
        guard let file = fields["file"], let node = fields["node"], let interface = fields["interface"] else {
            throw ValidationError("--point \(spec): file=, node= and interface= are needed (e.g. file=veth.pcap,node=a,interface=veth1,pod=myapp/web)")
        }
        if let address = fields["address"], IPAddress(address) == nil { throw ValidationError("--point \(spec): \(address) is not an IP address") }
        let point = PathPoint(name: "\(node)/\(interface)", node: node, role: fields["pod"] == nil ? .uplink : .podVeth, pod: fields["pod"],
                              addresses: fields["address"].map { [$0] } ?? [])
        return (point, file)
    }

    /// One line per stage: seconds, nanoseconds per packet and share of the one-thread total.
    private func printStages(_ capture: String) throws {
        let measured: (packets: Int, stages: [ReportStages.Stage])
        do {
            measured = try ReportStages.measure(path: capture)
        } catch {
            Console.current.err("capplan: cannot read the capture: \(error)\n")
            throw CommandExit.invalidPlan
        }
        let total = max(measured.stages.last?.seconds ?? 0, 1e-9), packets = max(measured.packets, 1)
        var text = "stage               seconds  ns/packet  share\n"
        for stage in measured.stages {
            let name = stage.name.padding(toLength: 18, withPad: " ", startingAt: 0)
            text += "\(name) \(String(format: "%8.3f %10.0f %5.0f%%", stage.seconds, stage.seconds / Double(packets) * 1e9, stage.seconds / total * 100))\n"
        }
        Console.current.out(text)
    }

    /// report.html: ladders of the connections the findings name, read back from the capture (a single file).
    private func html(_ summary: Summary) -> String {
        let timeline = [HTMLReport.TimelineEntry(time: 0, kind: .capture, text: "first packet")] + HTMLReport.events(summary)
            + [HTMLReport.TimelineEntry(time: summary.capture.durationSeconds, kind: .stop, text: "last packet")]
        return HTMLReport(title: "capplan report: \(summary.capture.file)", summary: summary,
                          // Ladders read the file again: a capture from standard input is gone by then.
                          ladders: capture.flatMap { $0 == "-" ? nil : LadderReader.read(path: $0, summary: summary) } ?? [],
                          timeline: timeline).render()
    }

    func run() throws {
        let console = Console.current
        if stages, let capture { return try printStages(capture) }
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
            let pointFiles = try points.map(Self.point)
            for path in [capture].compactMap({ $0 }) + pointFiles.map(\.path) where path != "-" {
                if try PcapngTailSplice.finish(path: path) {
                    console.err("capplan: \(path): put back the packets that a stopped run left beside it while commenting them\n")
                }
            }
            if let capture {
                summary = try CaptureReport.analyse(path: capture, identities: identities, threads: threads)
            } else {
                summary = try CaptureReport.analyse(points: pointFiles, identities: identities, threads: threads)
            }
        } catch {
            console.err("capplan: cannot read the capture: \(error)\n")
            throw CommandExit.invalidPlan
        }
        // Each form is rendered only when it is printed or written.
        let markdown = format == .md || out != nil ? SummaryMarkdown.render(summary) : ""
        let json = format == .json || out != nil ? try SummaryJSON.bytes(summary) : []
        if let out {
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try markdown.write(toFile: (out as NSString).appendingPathComponent("summary.md"), atomically: true, encoding: .utf8)
                try Data(json).write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("summary.json")), options: .atomic)
                try html(summary).write(toFile: (out as NSString).appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
            } catch {
                console.err("capplan: cannot write the report into \(out): \(error.localizedDescription)\n")
                throw CommandExit.invalidPlan
            }
        }
        if format == .md { console.out(markdown) } else { console.out(bytes: json) }
        if let readError = summary.capture.readError {
            console.err("capplan: warning: \(summary.capture.file): \(readError); the report covers the \(summary.capture.packets) packets before it\n")
        }
    }
}
