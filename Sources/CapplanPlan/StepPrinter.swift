public import CapplanLoad

/// Prints steps the way `terraform plan` does: what each does, what it changes
/// (marked `+`), and the undo that reverses it.
public enum StepPrinter {
    static let later = "resolved at apply time"

    public static func render(_ steps: [Step], plan: Plan, path: String) -> String {
        var text = "Plan \(plan.name) (\(path))\n"
        if let description = plan.description { text += "  \(description)\n" }
        text += "  target: \(targetLine(plan))\n\n"
        for step in steps {
            let mark = step.change == nil ? " " : "+"
            text += "\(mark) \(step.number). \(title(step.operation))\n"
            for line in details(step.operation) { text += "      \(line)\n" }
            if let change = step.change, let undo = step.undo {
                text += "      changes: \(change)\n      undo:    \(undo)\n"
            }
        }
        let changing = steps.filter { $0.change != nil }.count
        text += "\n\(steps.count) steps, \(changing) of them change\(changing == 1 ? "s" : "") something outside the run directory"
        text += changing == 0 ? ".\n" : " (+); each is undone at the end, on failure and on Ctrl-C.\n"
        text += "Nothing has been changed. Run `capplan apply \(path)` to carry this out.\n"
        return text
    }

    static func targetLine(_ plan: Plan) -> String {
        switch plan.target.kind {
        case .local(let netns): return netns.map { "this machine, network namespace \($0) (local)" } ?? "this machine (local)"
        case .kubernetes(let access):
            let context = access.context ?? "kubectl's current"
            let kubeconfig = access.kubeconfig ?? "kubectl's default"
            return "kubernetes (context: \(context); kubeconfig: \(kubeconfig); namespace: \(access.namespace))"
        }
    }

    static func title(_ operation: Step.Operation) -> String {
        switch operation {
        case .preflight: "Check access (read-only)"
        case .resolvePods: "Resolve pods to IPs, containers and nodes (read-only)"
        case .resolveNamespaces: "Resolve network namespaces (read-only)"
        case .chooseNodes: "Choose the capture node"
        case .createNamespace(let name): "Create the helper namespace \(name)"
        case .cordon: "Cordon the other nodes"
        case .deployHelper(let helper): "Deploy the capture helper pod\(helper.node.value.map { " on \($0)" } ?? "")"
        case .resolveInterfaces: "Resolve interfaces (read-only)"
        case .readNodeState: "Read each node's rule counters and conntrack at the capture's start and stop (read-only)"
        case .capture: "Capture"
        case .keepWindows(let keep): "Keep only the packets around each \(keep.around.rawValue)"
        case .reproduce(let step, _): "Reproduce at +\(step.at)"
        case .stopWhen: "Stop early on the fault"
        case .collect: "Collect every buffered packet and stop the capture"
        case .redact(let redaction): redaction.disabled ? "Redact: nothing (redact: none)" : "Redact"
        case .analyse: "Analyse connections"
        case .report: "Write the report"
        }
    }

    static func details(_ operation: Step.Operation) -> [String] {
        switch operation {
        case .preflight(let permissions):
            return ["the cluster answers; kubectl auth can-i for:"] + permissions.map { "  \($0)" }
        case .resolvePods(let pods, let found):
            guard let found = found.value else { return pods.map(selectionLine) }
            return found.map { pod in
                "pod \(pod.full): \(pod.ips.joined(separator: ", ")) on \(pod.node ?? "no node")"
                    + (pod.peerIndex.map { "; eth0's peer is interface \($0) on its node" } ?? "; eth0's iflink unreadable (no cat in the image)")
                    + (pod.container.map { "; container \($0)" } ?? "")
            }
        case .resolveNamespaces(let names):
            return names.map { "network namespace \($0)" }
        case .chooseNodes(let nodes, let pinned, let notes):
            guard let names = nodes.value else { return ["the node of the pods (\(later))"] }
            return ["\(names.joined(separator: ", "))\(pinned ? " (pinned by target.node)" : " (where the pods run)")"] + notes
        case .createNamespace:
            return ["it does not exist; removed again at the end unless another run's helper is in it"]
        case .cordon(_, let keep, _):
            return ["keep schedulable: \(keep.value?.joined(separator: ", ") ?? "the capture node (\(later))")"]
        case .deployHelper(let helper):
            return ["image \(helper.image)",
                    helper.privileged ? "privileged (the plan asks for it), hostNetwork" : "hostNetwork, capabilities NET_ADMIN and NET_RAW only",
                    "labelled \(HelperPod.runLabel)=\(helper.run), so `capplan cleanup` can find it"]
        case .resolveInterfaces(let selection, let streams, let local):
            return interfaceLines(selection, streams: streams, local: local)
        case .readNodeState(let reads):
            guard let reads = reads.value else { return ["iptables-save -c and conntrack -L for the pods' addresses on each capture node (\(later))"] }
            return reads.map { "\($0.node.map { "on \($0): " } ?? "")\($0.command.joined(separator: " "))" }
                + ["kept in node-state/, redacted like the packets"]
        case .capture(let filter, let duration, let maxPackets, let maxBytes, let snaplen, let streamed, let bufferSize):
            return captureLines(filter: filter, duration: duration, maxPackets: maxPackets, maxBytes: maxBytes, snaplen: snaplen,
                                streamed: streamed, bufferSize: bufferSize)
        case .keepWindows(let keep):
            return keepLines(keep)
        case .reproduce(let step, let command):
            let place = switch step.action {
            case .exec(let pod, let container, _): "in pod \(pod)\(container.map { " container \($0)" } ?? "")"
            case .local(let netns, _): netns.map { "in network namespace \($0)" } ?? "on this machine"
            }
            return ["\(place): \(argv(command))"] + (step.timeout.map { ["timeout \($0)"] } ?? [])
        case .stopWhen(let stop):
            return ["on the first \(stop.when.rawValue)\(stop.from.map { " from \($0)" } ?? ""), then \(stop.grace) more"]
        case .collect:
            return []
        case .redact(let redaction):
            return redactionLines(redaction)
        case .analyse(let expectations):
            guard !expectations.isEmpty else { return ["no expectations: the verdict is informational"] }
            return expectations.map(expectationLine)
        case .report(let directory, let capture):
            return ["\(directory)/: \(capture.fileName), summary.md, summary.json, run.json, steps.log"]
        }
    }

    static func captureLines(filter: String, duration: PlanDuration, maxPackets: Int64?, maxBytes: ByteSize?, snaplen: Int, streamed: Bool,
                             bufferSize: ByteSize?) -> [String] {
        var lines = ["filter: \(filter.isEmpty ? "(none: every packet)" : filter)",
                     "for at most \(duration)" + (maxPackets.map { ", \($0) packets" } ?? "") + (maxBytes.map { ", \($0)" } ?? "")
                     + ", snaplen \(snaplen)" + (bufferSize.map { ", kernel buffer \($0) per interface" } ?? "")]
        lines.append(streamed ? "tcpdump -U -w - in the helper pod, streamed over kubectl exec; nothing is written on the node"
                              : "libpcap live capture on this machine")
        if streamed {
            lines.append("a stream that breaks is started again on its point (the helper pod created again once, if it is gone); the gap is recorded")
        }
        return lines
    }

    static func keepLines(_ keep: KeepWindows) -> [String] {
        ["every packet is analysed; the last \(keep.before) of packets wait in a ring in memory (at most \(keep.memory), the oldest go first)",
         "each \(keep.around.rawValue)\(keep.from.map { " from \($0)" } ?? "") writes them, and every packet for \(keep.after) more; "
             + "one inside an open window extends it",
         "at most \(keep.windows) window\(keep.windows == 1 ? "" : "s"): the run ends when the last one closes; the rest is discarded and counted"]
    }

    static func selectionLine(_ pod: PodSelection) -> String {
        switch pod.match {
        case .name: "pod \(pod) (by name)"
        case .selector(let selector): "pods matching \(selector) in \(pod.namespace ?? "default")"
        }
    }

    static func interfaceLines(_ selection: InterfaceSelection, streams: Resolved<[CaptureStream]>, local: Bool) -> [String] {
        guard let streams = streams.value else {
            switch selection {
            case .pods:
                return [local ? "each namespace's eth0 iflink -> the host interface with that index"
                              : "each pod's eth0 iflink -> the node's interface with that index (no cat in the image: the node's route to the pod IP)",
                        "interfaces: \(later)"]
            case .path(let toward):
                return [local ? "each namespace's eth0 iflink -> the host interface with that index"
                              : "each pod's eth0 iflink -> the node's interface with that index",
                        "each node's uplink: the interface of its route toward " + (toward.isEmpty ? "the far ends the plan names" : toward.joined(separator: ", ")),
                        "interfaces: \(later)"]
            case .any: return ["any: every interface of the \(local ? "machine" : "node") (Linux cooked v2)"]
            case .named(let names): return ["named: \(names.joined(separator: ", "))"]
            }
        }
        return streams.map { stream in
            let place = stream.node.map { "\($0): " } ?? ""
            return place + streamSource(stream.source) + "; filter: \(stream.filter.isEmpty ? "(none: every packet)" : stream.filter)"
        }
    }

    /// Where a stream reads, in words; names read through the helper are said to come at apply.
    public static func streamSource(_ source: CaptureStream.Source) -> String {
        switch source {
        case .any: "any (every interface, Linux cooked v2)"
        case .named(let name): name
        case .podPeer(let pod, let index, let name):
            "\(name ?? "the interface with index \(index) (its name \(later))") = \(pod)'s eth0 peer (iflink \(index))"
        case .podRoute(let pod, let address):
            "the interface of the node's route to \(address) (\(later)) = \(pod)'s"
        case .uplink(let toward, let name):
            "\(name ?? "the interface of the node's route (\(later))") = uplink toward \(toward.joined(separator: ", "))"
        }
    }

    static func redactionLines(_ redaction: Redaction) -> [String] {
        if redaction.disabled { return ["every byte is kept, unredacted, as the plan asks"] }
        var lines: [String] = []
        switch redaction.payload {
        case .keep: lines.append("payload: kept")
        case .drop: lines.append("payload: dropped after the TCP/UDP/ICMP header")
        case .truncate(let bytes): lines.append("payload: first \(bytes) bytes kept")
        }
        lines.append("addresses: \(redaction.addresses.rawValue)"
                     + (redaction.keepNetworks.isEmpty ? "" : " (kept: \(redaction.keepNetworks.map(\.description).joined(separator: ", ")))"))
        lines.append("MACs: \(redaction.macs.rawValue)")
        if !redaction.scrub.isEmpty { lines.append("scrub: \(redaction.scrub.count) pattern(s)") }
        if let drop = redaction.dropFilter { lines.append("drop packets: \(drop)") }
        if redaction.addresses == .pseudonymize || redaction.macs == .pseudonymize {
            switch redaction.key {
            case .environment(let name): lines.append("key: from environment variable \(name)")
            case .file(let path): lines.append("key: from file \(path)")
            case .random: lines.append("key: a fresh random key for this run")
            }
        }
        return lines
    }

    static func expectationLine(_ expectation: Expectation) -> String {
        var line = expectation.shouldSee ? "expect: \(expectation.event.rawValue)" : "expect no \(expectation.event.rawValue)"
        if let from = expectation.from { line += " from \(from)" }
        if let to = expectation.to { line += " to \(to)" }
        if let port = expectation.port { line += " port \(port)" }
        if expectation.shouldSee, expectation.atLeast > 1 { line += ", at least \(expectation.atLeast) times" }
        return line
    }

    /// An argv list shown unambiguously: each argument quoted only when it needs to be.
    static func argv(_ arguments: [String]) -> String {
        arguments.map { argument in
            argument.isEmpty || argument.contains(where: { " \"'\\$`*?;|&<>()[]{}#~".contains($0) })
                ? "'" + argument.replacing("'", with: "'\\''") + "'" : argument
        }.joined(separator: " ")
    }
}
