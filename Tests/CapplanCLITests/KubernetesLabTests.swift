import CapplanTestSupport
import Foundation
import Testing

/// The Kubernetes lab (scripts/k8s-lab/lab): a real API server, kubelet, containerd and CNI
/// bridge on this machine. The runbook is done by hand against it, as the next issue's
/// `capplan apply` will do it, and `lab down` must leave nothing behind. The suite brings
/// the lab up if it is not (the first time on a machine builds Kubernetes: minutes) and
/// takes it down at the end.
@Suite(.serialized)
struct KubernetesLabTests {
    static let lab = Repository.path("scripts/k8s-lab/lab")
    static let kubeconfig = "/var/tmp/capplan-k8s-lab/pki/admin.kubeconfig"

    static let up: Result<Void, NetLab.LabError> = {
        guard getuid() == 0 else { return .failure(NetLab.LabError(description: "the Kubernetes lab needs root (CI runs as root)")) }
        do throws(NetLab.LabError) {
            try NetLab.run([lab, "up"], timeout: 3600)
            try NetLab.run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", Repository.path("examples/lab/myapp.yaml")], timeout: 60)
            try NetLab.run(["kubectl", "--kubeconfig", kubeconfig, "-n", "myapp", "wait", "--for=condition=Ready",
                            "pod/myapppod", "pod/client", "pod/slim", "pod/server", "pod/blocked", "--timeout=180s"], timeout: 200)
            return .success(())
        } catch {
            return .failure(error)
        }
    }()

    static func kubectl(_ arguments: String...) throws -> String {
        try NetLab.run(["kubectl", "--kubeconfig", kubeconfig] + arguments, timeout: 60)
    }

    /// Runs a scenario while tcpdump captures the pod's host-side veth; returns the capture's path.
    static func captureScenario(_ name: String, on veth: String) throws -> String {
        let file = Crafter.directory + "/k8s-\(name)-\(UUID().uuidString).pcap"
        let dump = try NetLab.Background(["tcpdump", "-i", veth, "--immediate-mode", "-U", "-n", "-w", file, "tcp"], ready: "listening on")
        try NetLab.run([lab, "scenario", name], timeout: 60)
        Thread.sleep(forTimeInterval: 0.5)
        dump.stop()
        return file
    }

    /// The runbook's steps 3 and 4 by hand: eth0's iflink in the pod, the node's interface with that index.
    static func podVeth() throws -> String {
        let index = try kubectl("-n", "myapp", "exec", "myapppod", "--", "cat", "/sys/class/net/eth0/iflink")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for line in try NetLab.run(["ip", "-o", "link"]).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            if parts.count >= 2, parts[0] == index {
                return String(parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@")[0])
            }
        }
        throw NetLab.LabError(description: "no interface with index \(index) on the node")
    }

    @Test func nodesAreTheRealTwoAndTwoExtras() throws {
        try Self.up.get()
        let nodes = try Self.kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}")
        let lines = nodes.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix(ProcessInfo.processInfo.hostName + " True") }, "\(lines)")
        #expect(lines.contains("lab-worker True"), "the second kubelet: \(lines)")
        #expect(lines.contains { $0.hasPrefix("lab-node-1") } && lines.contains { $0.hasPrefix("lab-node-2") })
        #expect(!lines.contains { $0.hasPrefix("lab-node-1 True") }, "the extra nodes have no kubelet")
        #expect(!(try NetLab.run(["cat", NSHomeDirectory() + "/.kube/config"], check: false)).contains("capplan-k8s-lab"), "the user's own kubeconfig is untouched")
    }

    @Test func theRunbookByHandSeesThePodsReset() throws {
        try Self.up.get()
        let veth = try Self.podVeth()
        #expect(veth.range(of: "^veth[0-9a-f]{8}$", options: .regularExpression) != nil, "\(veth)")
        let podIP = try Self.kubectl("-n", "myapp", "get", "pod", "myapppod", "-o", "jsonpath={.status.podIP}")
        let file = try Self.captureScenario("idle-reset", on: veth)
        let resets = try Tshark.fields(file, filter: "tcp.flags.reset == 1", ["ip.src", "ip.dst", "tcp.dstport"])
        #expect(resets.map { $0.joined(separator: " ") } == ["\(podIP) 203.0.113.12 443"])
    }

    @Test func theOtherScenariosRepeat() throws {
        try Self.up.get()
        let veth = try Self.podVeth()
        for _ in 0..<2 {
            let lbReset = try Self.captureScenario("lb-reset", on: veth)
            #expect(try Tshark.fields(lbReset, filter: "tcp.flags.reset == 1", ["ip.src", "tcp.srcport"]).map { $0.joined(separator: " ") }
                    == ["203.0.113.12 443"])
            let refused = try Self.captureScenario("refused", on: veth)
            #expect(try Tshark.count(refused, filter: "tcp.flags.reset == 1 && tcp.srcport == 8443") == 1)
        }
    }

    // MARK: capplan apply on the lab (issue 7)

    /// A copy of an examples/lab plan whose runs go to a fresh directory, with `change` applied.
    static func labPlan(_ name: String, change: (String) -> String = { $0 }) throws -> (path: String, runs: String) {
        try planCopy("examples/lab/\(name).yaml", change: change)
    }

    /// What a run must leave as it found it: capplan's pods and namespaces, and which nodes are cordoned.
    static func clusterState() throws -> String {
        let pods = try kubectl("get", "pods,namespaces", "--all-namespaces", "-l", "app.kubernetes.io/managed-by=capplan", "-o", "name")
        let nodes = try kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.unschedulable}{\"\\n\"}{end}")
        return "pods: [\(pods.trimmingCharacters(in: .whitespacesAndNewlines))]\n" + nodes
    }

    /// kubectl processes a run started that still run (streams, reproduce commands).
    static func strayKubectl() throws -> [String] {
        try NetLab.run(["ps", "-eo", "stat=,args="]).split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("Z") && $0.contains("kubectl") && $0.contains(" exec ") }
    }

    static func runDirectory(_ runs: String) throws -> String {
        try #require(try waitForRunDirectory(runs), "no run directory under \(runs)")
    }

    /// Starts `capplan apply PLAN --quiet` and waits until its steps.log reaches `marker`.
    static func startApply(_ path: String, runs: String, until marker: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> (process: Process, directory: String) {
        let process = try startBinary(["apply", path, "--quiet"])
        let directory = try runDirectory(runs)
        #expect(waitForSteps(directory, marker), "the run reached \(marker)", sourceLocation: sourceLocation)
        return (process, directory)
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// `capplan plan` against the lab: the concrete node, pod IP, eth0's peer index, the nodes it
    /// would cordon and the helper manifest, read-only.
    @Test func planAgainstTheClusterShowsItsFactsAndChangesNothing() throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let result = try runBinary(["plan", "examples/lab/lb-rst.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let podIP = try Self.kubectl("-n", "myapp", "get", "pod", "myapppod", "-o", "jsonpath={.status.podIP}")
        let index = try Self.kubectl("-n", "myapp", "exec", "myapppod", "--", "cat", "/sys/class/net/eth0/iflink")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let node = ProcessInfo.processInfo.hostName
        #expect(result.stdout.contains("pod myapp/myapppod: \(podIP) on \(node); eth0's peer is interface \(index) on its node"), "\(result.stdout)")
        #expect(result.stdout.contains("\(node) (where the pods run)"))
        #expect(result.stdout.contains("changes: marks lab-node-1, lab-node-2, lab-worker unschedulable"))
        #expect(result.stdout.contains("\"nodeName\" : \"\(node)\""))
        #expect(result.stdout.contains("\"activeDeadlineSeconds\" : 362"))
        #expect(try Self.clusterState() == before)
    }

    /// The issue's three scenarios, each as a plan: apply performs exactly the steps plan shows
    /// (helper namespace, cordons, helper, streams and filters, reproduce order), who cut the
    /// connection, and the plan's verdict.
    @Test(arguments: ["lb-rst", "lb-reset", "refused"])
    func applyNamesWhoCutTheConnection(_ name: String) throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let (path, _) = try Self.labPlan(name)
        let (result, directory) = try expectApplyPerformsThePlan(path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.clusterState() == before, "the cluster is as before the run")
        #expect(try Self.strayKubectl().isEmpty)
        let podIP = try Self.kubectl("-n", "myapp", "get", "pod", "myapppod", "-o", "jsonpath={.status.podIP}")
        let pcap = directory + "/capture.pcapng"
        let summary = try Self.json(directory + "/summary.json")
        let resets = try #require(summary["resets"] as? [[String: Any]])
        switch name {
        case "lb-rst":
            // Captured on the pod's veth and again on the uplink: one RST, two copies in the capture.
            #expect(try Tshark.fields(pcap, filter: "tcp.flags.reset == 1", ["ip.src", "ip.dst", "tcp.dstport"]).map { $0.joined(separator: " ") }
                    == ["\(podIP) 203.0.113.12 443", "\(podIP) 203.0.113.12 443"])
            let reset = try #require(resets.first)
            #expect((reset["senderLabel"] as? [String: String]) == ["kind": "pod", "name": "myapp/myapppod"])
            let idle = try #require((reset["event"] as? [String: Any])?["idleSeconds"] as? Double)
            #expect(idle > 2.8 && idle < 3.5, "the pod idles 3 s before its reset: \(idle)")
        case "lb-reset":
            #expect(try Tshark.fields(pcap, filter: "tcp.flags.reset == 1", ["ip.src", "tcp.srcport", "ip.dst"]).map { $0.joined(separator: " ") }
                    == ["203.0.113.12 443 \(podIP)", "203.0.113.12 443 \(podIP)"])
            #expect(resets.count == 1 && (resets.first?["senderLabel"] as? [String: String])?["kind"] == "external", "the endpoint, not a pod, sent it")
            let idle = try #require((resets.first?["event"] as? [String: Any])?["idleSeconds"] as? Double)
            #expect(idle > 1.8 && idle < 2.5, "the far side resets after 2 s idle: \(idle)")
        default:
            #expect(try Tshark.count(pcap, filter: "tcp.flags.reset == 1 && tcp.srcport == 8443 && ip.dst == \(podIP)") == 1)
            #expect((summary["refused"] as? [Any])?.count == 1)
        }
        let run = try Self.json(directory + "/run.json")
        let interfaces = try #require(run["interfaces"] as? [[String: Any]])
        #expect((interfaces.first?["method"] as? String)?.contains("iflink") == true)
        // lb-rst and lb-reset capture the path (the pod's veth and the uplink toward the endpoint); refused its veth only.
        #expect(interfaces.count == (name == "refused" ? 1 : 2), "\(interfaces)")
        #expect(interfaces.count == 1 || interfaces.last?["name"] as? String == "k8sext0")
        let results = try #require((run["verdict"] as? [String: Any])?["results"] as? [[String: Any]])
        #expect(!results.isEmpty && results.allSatisfy { $0["held"] as? Bool == true }, "\(results)")
    }

    /// A plan saved before the cluster changed: apply names the difference and changes nothing.
    @Test func aClusterThatChangedSinceThePlanIsNamed() throws {
        try Self.up.get()
        let (path, _) = try Self.labPlan("lb-rst")
        let planned = try runBinary(["plan", "--format", "json", path])
        #expect(planned.status == 0, "\(planned.stderr)")
        let saved = Crafter.directory + "/planned-\(UUID().uuidString).json"
        try planned.stdout.write(toFile: saved, atomically: true, encoding: .utf8)
        #expect(try runBinary(["apply", "--planned", saved, path, "--quiet"]).status == 0, "unchanged: it runs")

        _ = try Self.kubectl("cordon", "lab-node-2")
        defer { _ = try? Self.kubectl("uncordon", "lab-node-2") }
        let before = try Self.clusterState()
        let result = try runBinary(["apply", "--planned", saved, path, "--quiet"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("the target changed since the plan was saved: step"), "\(result.stderr)")
        #expect(result.stderr.contains("Cordon the other nodes") && result.stderr.contains("lab-node-1, lab-node-2"), "\(result.stderr)")
        #expect(try Self.clusterState() == before, "nothing was changed")
    }

    /// cordon-others cordons exactly the schedulable others, and the undo leaves a node that was
    /// cordoned before as it was.
    @Test func cordonOthersRestoresExactlyWhatItCordoned() throws {
        try Self.up.get()
        _ = try Self.kubectl("cordon", "lab-node-2")
        defer { _ = try? Self.kubectl("uncordon", "lab-node-2") }
        let before = try Self.clusterState()
        let (path, runs) = try Self.labPlan("lb-rst")
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let run = try Self.json(try Self.runDirectory(runs) + "/run.json")
        #expect((run["kubernetes"] as? [String: Any])?["cordoned"] as? [String] == ["lab-node-1", "lab-worker"])
        #expect(try Self.clusterState() == before)
        #expect(before.contains("lab-node-2=true"))
    }

    /// SIGINT or SIGTERM at each step: exit 130, no helper pod, the same nodes cordoned, nothing
    /// left running, and a readable pcap once the capture had started.
    @Test(arguments: [("preflight: permissions", "INT"), ("cordoned lab-node-1", "TERM"), ("created helper pod", "INT"),
                      ("helpers Ready", "TERM"), ("capture: start", "INT"), ("reproduce 2 at", "TERM"), ("capture: first packet", "INT")]
          as [(String, String)])
    func interruptAtEachStepLeavesTheClusterAsItWas(_ marker: String, _ signal: String) throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let (path, runs) = try Self.labPlan("lb-rst") { $0.replacingOccurrences(of: "stop: {when: reset, grace: 2s}\n", with: "") }
        let (process, directory) = try Self.startApply(path, runs: runs, until: marker)
        kill(process.processIdentifier, signal == "INT" ? SIGINT : SIGTERM)
        #expect(waitForExit(process, timeout: 120))
        #expect(process.terminationStatus == 130)
        #expect(try Self.clusterState() == before, "after SIG\(signal) at \(marker)")
        #expect(try Self.strayKubectl().isEmpty)
        let log = try String(contentsOfFile: directory + "/steps.log", encoding: .utf8)
        #expect(log.contains("done: exit 130"))
        if log.contains("capture: start") {
            #expect((try? Tshark.count(directory + "/capture.pcapng", filter: "frame")) != nil, "a readable pcap")
        }
    }

    /// SIGKILL leaves the helper pod (with its deadline) and the cordons: `capplan cleanup RUN_DIR`
    /// removes them, and so does `capplan cleanup --cluster` by labels; the deadline stops a helper by itself.
    @Test func aKilledRunIsCleanedUpAndItsHelperHasADeadline() throws {
        try Self.up.get()
        let before = try Self.clusterState()
        var directories: [String] = []
        for _ in 0..<2 {
            let (path, runs) = try Self.labPlan("lb-rst") { $0.replacingOccurrences(of: "stop: {when: reset, grace: 2s}\n", with: "") }
            let (process, directory) = try Self.startApply(path, runs: runs, until: "capture: start")
            kill(process.processIdentifier, SIGKILL)
            _ = waitForExit(process, timeout: 10)
            directories.append(directory)
            let left = try Self.clusterState()
            #expect(left.contains("pod/capplan-") && left.contains("lab-node-1=true"), "\(left)")
            let deadline = try Self.kubectl("get", "pods", "-n", "capplan-system", "-l", "app.kubernetes.io/managed-by=capplan",
                                            "-o", "jsonpath={.items[*].spec.activeDeadlineSeconds}")
            #expect(deadline.split(separator: " ").allSatisfy { $0 == "360" }, "60 s of capture + 300 s of margin: \(deadline)")
        }
        // The first by its journal, the second by labels.
        let byJournal = try runBinary(["cleanup", directories[0]])
        #expect(byJournal.status == 0 && byJournal.stdout.contains("deleted pod capplan-system/capplan-"), "\(byJournal.stdout)")
        let byLabels = try runBinary(["cleanup", "--cluster", "--kubeconfig", Self.kubeconfig])
        #expect(byLabels.status == 0 && byLabels.stdout.contains("deleted pod"), "\(byLabels.stdout)\(byLabels.stderr)")
        _ = try runBinary(["cleanup", directories[1]])  // its stream processes; its pod is gone already
        #expect(try Self.clusterState() == before)
        #expect(try Self.strayKubectl().isEmpty)

        // The deadline: the same manifest with 3 s is stopped by the kubelet on its own.
        var manifest = try String(contentsOfFile: directories[0] + "/helper-\(ProcessInfo.processInfo.hostName).json", encoding: .utf8)
        manifest = manifest.replacingOccurrences(of: "\"activeDeadlineSeconds\" : 360", with: "\"activeDeadlineSeconds\" : 3")
            .replacingOccurrences(of: "\"name\" : \"capplan-", with: "\"name\" : \"deadline-capplan-")
            .replacingOccurrences(of: "\"app.kubernetes.io/managed-by\" : \"capplan\"", with: "\"app.kubernetes.io/managed-by\" : \"capplan-tests\"")
        _ = try? Self.kubectl("create", "namespace", "capplan-deadline")
        defer { _ = try? Self.kubectl("delete", "namespace", "capplan-deadline") }
        let file = Crafter.directory + "/deadline-\(UUID().uuidString).json"
        try manifest.replacingOccurrences(of: "\"namespace\" : \"capplan-system\"", with: "\"namespace\" : \"capplan-deadline\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
        _ = try Self.kubectl("create", "-f", file)
        var reason = ""
        for _ in 0..<120 where reason != "DeadlineExceeded" {
            Thread.sleep(forTimeInterval: 0.5)
            reason = (try? Self.kubectl("get", "pods", "-n", "capplan-deadline", "-o", "jsonpath={.items[0].status.reason}")) ?? ""
        }
        #expect(reason == "DeadlineExceeded")
    }

    /// A capture stream that breaks mid-run: its `kubectl exec` killed here, its tcpdump killed in
    /// the helper, or the helper pod deleted (created again once), the last also with a quota
    /// that refuses the helper's first creation again (tried again until it goes). The run starts
    /// the stream again on the same point, records the gap in run.json and summary.md, still sees
    /// the pod's reset after it, and the capture stays valid and in time order. The gap makes a
    /// result that rests on an absence unsure: INCONCLUSIVE.
    @Test(arguments: ["kubectl exec", "tcpdump in the helper", "the helper pod", "the helper pod, refused once"])
    func aStreamThatBreaksIsStartedAgain(_ what: String) throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let helperGone = what.hasPrefix("the helper pod")
        // Creating a helper again takes seconds: the reset comes later then.
        let (duration, resetAt) = helperGone ? ("40s", "25s") : ("20s", "9s")
        let (path, runs) = try Self.labPlan("lb-rst") { plan in
            plan.replacingOccurrences(of: "stop: {when: reset, grace: 2s}\n", with: "").replacingOccurrences(of: "duration: 60s", with: "duration: \(duration)")
                .replacingOccurrences(of: "  - at: 1s  ", with: "  - at: \(resetAt)  ") + "  - notSeen: reset\n    from: external\n"
        }
        let (process, directory) = try Self.startApply(path, runs: runs, until: "capture: start")
        Thread.sleep(forTimeInterval: 2)
        let veth = try Self.podVeth()
        if what == "the helper pod, refused once" {
            _ = try Self.kubectl("create", "quota", "no-pods", "-n", "capplan-system", "--hard=pods=0")
            try Self.breakStream("the helper pod", veth: veth)
            #expect(waitForSteps(directory, "exceeded quota", timeout: 30), "the first creation again was refused and noted")
            _ = try Self.kubectl("delete", "quota", "no-pods", "-n", "capplan-system")  // the next try goes through
        } else {
            try Self.breakStream(what, veth: veth)
        }
        #expect(waitForExit(process, timeout: 150))
        // Failed in CI (2026-12-04, twice): both streams given up on their first restart, or never started again. The journal says why.
        let journal = (try? String(contentsOfFile: directory + "/steps.log", encoding: .utf8)) ?? "(no steps.log in \(directory))"
        #expect(process.terminationStatus == 5, "the gap leaves notSeen unsure: INCONCLUSIVE; the run's journal:\n\(journal)")
        let run = try Self.json(directory + "/run.json")
        let gaps = try #require(run["gaps"] as? [[String: Any]], "\(run.keys)")
        let vethGap = try #require(gaps.first { ($0["point"] as? String)?.hasSuffix("/\(veth)") == true }, "\(gaps)")
        #expect(vethGap["to"] != nil && gaps.count == (helperGone ? 2 : 1), "\(gaps); the run's journal:\n\(journal)")
        #expect(gaps.contains { $0["helperRecreated"] as? Bool == true } == helperGone, "\(gaps); the run's journal:\n\(journal)")
        if what == "tcpdump in the helper" { #expect(vethGap["droppedByTcpdump"] as? Int == 0, "tcpdump said what it dropped as it exited: \(gaps)") }
        let results = try #require((run["verdict"] as? [String: Any])?["results"] as? [[String: Any]])
        // Failed once in four clean runs (2026-12-03) with the RST in the capture: say what the path made of it.
        let ladders = ((try? Self.json(directory + "/summary.json"))?["path"] as? [String: Any])?["connections"] as? [[String: Any]] ?? []
        let resets = ladders.flatMap { $0["ladder"] as? [[String: Any]] ?? [] }.filter { ($0["packet"] as? String)?.hasPrefix("RST") == true }
        let seen = "the pod's reset came after the gap and was seen: \(results); gaps: \(gaps); the path's RSTs: \(resets); connections: \(ladders.count)"
        #expect(results.first?["held"] as? Bool == true, Comment(rawValue: seen))
        let summary = try String(contentsOfFile: directory + "/summary.md", encoding: .utf8)
        #expect(summary.contains("## Capture gaps") && summary.contains("was started again"), "\(summary)")
        let pcap = directory + "/capture.pcapng"
        let frames = try Tshark.fields(pcap, filter: "frame", ["frame.number", "frame.time_epoch", "frame.interface_name"])
        let times = frames.compactMap { Double($0.count > 1 ? $0[1] : "") }
        let backwards = zip(frames, frames.dropFirst()).filter { (Double($0.0[1]) ?? 0) > (Double($0.1[1]) ?? 0) }
        #expect(!times.isEmpty && backwards.isEmpty, "valid and in time order: \(backwards)")
        #expect(try Tshark.count(pcap, filter: "tcp.flags.reset == 1 && frame.interface_name contains \"\(veth)\"") == 1)
        #expect(try Self.clusterState() == before)
        #expect(try Self.strayKubectl().isEmpty)
    }

    /// Breaks the running capture's stream of `veth` the way `what` says.
    static func breakStream(_ what: String, veth: String) throws {
        let helper = try kubectl("get", "pods", "-n", "capplan-system", "-l", "app.kubernetes.io/managed-by=capplan", "-o", "jsonpath={.items[0].metadata.name}")
        switch what {
        case "kubectl exec":
            let streams = try NetLab.run(["ps", "-eo", "pid=,args="]).split(separator: "\n")
                .filter { $0.contains("kubectl") && $0.contains("tcpdump") && $0.contains("-i \(veth)") }
            #expect(streams.count == 1, "\(streams)")
            for line in streams { kill(Int32(line.split(separator: " ").first ?? "") ?? 0, SIGKILL) }
        case "tcpdump in the helper":
            let listing = try kubectl("exec", "-n", "capplan-system", helper, "--", "ps", "-o", "pid,args")
            let pids = listing.split(separator: "\n").filter { $0.contains("tcpdump") && $0.contains("-i \(veth)") }.compactMap { $0.split(separator: " ").first }
            #expect(pids.count == 1, "\(listing)")
            try NetLab.run(["kubectl", "--kubeconfig", kubeconfig, "exec", "-n", "capplan-system", helper, "--", "kill", "-TERM"] + pids.map(String.init))
        default:
            _ = try kubectl("delete", "pod", "-n", "capplan-system", helper, "--wait=false")
        }
    }

    /// A service account without pods/exec is stopped before anything is created, told what is missing.
    @Test func anAccountWithoutExecIsStoppedInPreflight() throws {
        try Self.up.get()
        let rbac = """
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: capplan-noexec, namespace: default}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata: {name: capplan-noexec}
            rules:
              - {apiGroups: [""], resources: [nodes], verbs: [get, list, patch]}
              - {apiGroups: [""], resources: [pods], verbs: [get, list, create, delete]}
              - {apiGroups: [""], resources: [namespaces], verbs: [get, list, create, delete]}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRoleBinding
            metadata: {name: capplan-noexec}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: capplan-noexec}
            subjects: [{kind: ServiceAccount, name: capplan-noexec, namespace: default}]
            """
        let file = Crafter.directory + "/noexec-\(UUID().uuidString).yaml"
        try rbac.write(toFile: file, atomically: true, encoding: .utf8)
        _ = try Self.kubectl("apply", "-f", file)
        var secret = ""
        for _ in 0..<40 where secret.isEmpty {
            secret = (try? Self.kubectl("get", "sa", "capplan-noexec", "-o", "jsonpath={.secrets[0].name}")) ?? ""
            if secret.isEmpty { Thread.sleep(forTimeInterval: 0.25) }
        }
        let encoded = try Self.kubectl("get", "secret", secret, "-o", "jsonpath={.data.token}")
        let token = String(decoding: try #require(Data(base64Encoded: encoded)), as: UTF8.self)
        let config = Crafter.directory + "/noexec-\(UUID().uuidString).kubeconfig"
        for arguments in [["set-cluster", "lab", "--server=https://127.0.0.1:6443", "--certificate-authority=/var/tmp/capplan-k8s-lab/pki/ca.crt", "--embed-certs"],
                          ["set-credentials", "noexec", "--token=\(token)"], ["set-context", "lab", "--cluster=lab", "--user=noexec"], ["use-context", "lab"]] {
            _ = try NetLab.run(["kubectl", "--kubeconfig", config, "config"] + arguments)
        }
        let before = try Self.clusterState()
        let namespacesBefore = try Self.kubectl("get", "namespaces", "-o", "name")
        let (path, _) = try Self.labPlan("lb-rst") { $0.replacingOccurrences(of: "/var/tmp/capplan-k8s-lab/pki/admin.kubeconfig", with: config) }
        let result = try runBinary(["apply", path])
        #expect(result.status == 4)
        #expect(result.stderr.contains("- create pods/exec in myapp"), "\(result.stderr)")
        #expect(result.stderr.contains("- create pods/exec in capplan-system"))
        #expect(result.stderr.contains("resources: [\"pods/exec\"]"), "a ready RBAC rule")
        #expect(!result.stderr.contains("- get,list nodes"), "only what is missing")
        #expect(try Self.clusterState() == before)
        #expect(try Self.kubectl("get", "namespaces", "-o", "name") == namespacesBefore, "nothing was created")
    }

    /// A helper image that cannot be pulled, and a helper namespace whose PodSecurity level rejects
    /// the helper: each a clear error, and the cluster as before.
    @Test func helperProblemsAreClearErrorsAndUndone() throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let (badImage, _) = try Self.labPlan("refused") {
            $0.replacingOccurrences(of: "image: registry.local/tools:lab", with: "image: registry.local/no-such-image:lab")
        }
        let pull = try runBinary(["apply", badImage, "--quiet"])
        #expect(pull.status == 4)
        #expect(pull.stderr.contains("cannot start: ErrImagePull") || pull.stderr.contains("cannot start: ImagePullBackOff"), "\(pull.stderr)")
        #expect(pull.stderr.contains("capture.image"))
        #expect(try Self.clusterState() == before)

        _ = try? Self.kubectl("create", "namespace", "capplan-baseline")
        defer { _ = try? Self.kubectl("delete", "namespace", "capplan-baseline") }
        _ = try Self.kubectl("label", "namespace", "capplan-baseline", "pod-security.kubernetes.io/enforce=baseline", "--overwrite")
        let (restricted, _) = try Self.labPlan("refused") {
            $0.replacingOccurrences(of: "    namespace: myapp\n", with: "    namespace: myapp\n    helperNamespace: capplan-baseline\n")
        }
        let admission = try runBinary(["apply", restricted, "--quiet"])
        #expect(admission.status == 4)
        #expect(admission.stderr.contains("enforces PodSecurity \"baseline\""), "\(admission.stderr)")
        #expect(try Self.kubectl("get", "pods", "-n", "capplan-baseline", "-o", "name").isEmpty)
        #expect(try Self.clusterState() == before)
    }

    /// Arguments are passed to the pod verbatim; names and filters with shell syntax never validate.
    @Test func shellMetacharactersAreNeverInterpreted() throws {
        try Self.up.get()
        let literal = "$(touch /tmp/pwned) ; `touch /tmp/pwned2` | cat > /tmp/x & echo *"
        let (path, runs) = try Self.labPlan("refused") { text in
            text.replacingOccurrences(of: "command: [labapp, connect, 203.0.113.12, \"8443\"]",
                                      with: "command: [echo, '\(literal)']")
                .replacingOccurrences(of: "  duration: 30s", with: "  duration: 4s")
                .replacingOccurrences(of: "stop: {when: refused, grace: 1s}\n", with: "")
                .components(separatedBy: "expect:")[0]
        }
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let output = try String(contentsOfFile: try Self.runDirectory(runs) + "/reproduce-1.log", encoding: .utf8)
        #expect(output == literal + "\n")
        #expect((try? Self.kubectl("-n", "myapp", "exec", "myapppod", "--", "ls", "/tmp/pwned")) == nil, "nothing was run by a shell")

        for (from, to) in [("  - selector: app=myapp", "  - name: \"myapppod;reboot\""), ("filter: tcp port 8443", "filter: \"tcp port 8443; reboot\""),
                           ("  - selector: app=myapp", "  - selector: \"app=$(reboot)\"")] {
            let (broken, _) = try Self.labPlan("refused") { $0.replacingOccurrences(of: from, with: to) }
            let validation = try runBinary(["validate", broken])
            #expect(validation.status == 1, "\(to)")
            #expect(validation.stderr.contains(broken + ":"), "file:line:col for \(to)")
        }
    }

    /// interfaces: any on the pod's node (as plans/ingress-any.yaml does): Linux cooked capture of every
    /// interface, the refusal seen once although it crosses the veth, the bridge and the uplink.
    @Test func anyCapturesEveryInterfaceOfTheNode() throws {
        try Self.up.get()
        let (path, runs) = try Self.labPlan("refused") { $0.replacingOccurrences(of: "interfaces: pods", with: "interfaces: any") }
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let directory = try Self.runDirectory(runs)
        let run = try Self.json(directory + "/run.json")
        let interface = try #require((run["interfaces"] as? [[String: Any]])?.first)
        #expect(interface["name"] as? String == "any")
        #expect((interface["extraFilter"] as? String)?.contains("10250") == true, "capplan's own stream is left out")
        let resets = try Tshark.count(directory + "/capture.pcapng", filter: "tcp.flags.reset == 1 && tcp.srcport == 8443")
        #expect(resets >= 2, "the RST on more than one interface of the node: \(resets)")
        let summary = try Self.json(directory + "/summary.json")
        #expect((summary["refused"] as? [Any])?.count == 1, "counted once")
    }

    /// A pod whose image has no cat (distroless): its interface comes from the node's route.
    @Test func aDistrolessPodIsFoundThroughTheNodesRoute() throws {
        try Self.up.get()
        let (path, runs) = try Self.labPlan("refused") { text in
            text.replacingOccurrences(of: "  - selector: app=myapp", with: "  - name: slim")
                .replacingOccurrences(of: "exec: {pod: myapp/myapppod, command: [labapp,", with: "exec: {pod: myapp/slim, command: [/usr/bin/labapp,")
        }
        let result = try runBinary(["apply", path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let run = try Self.json(try Self.runDirectory(runs) + "/run.json")
        let interface = try #require((run["interfaces"] as? [[String: Any]])?.first)
        #expect((interface["method"] as? String)?.contains("the node's route") == true, "\(interface)")
        #expect(interface["name"] as? String == "cni0")
        let slimIP = try Self.kubectl("-n", "myapp", "get", "pod", "slim", "-o", "jsonpath={.status.podIP}")
        #expect(interface["extraFilter"] as? String == "host \(slimIP)")

        // Two such pods on the same bridge: two streams on it, each filtered to its pod.
        _ = try Self.kubectl("-n", "myapp", "run", "slim-2", "--image=registry.local/app-only:lab", "--image-pull-policy=Never",
                             "--labels=app=slim", "--restart=Never", "--overrides={\"spec\":{\"nodeSelector\":{\"capplan.dev/lab-node\":\"a\"}}}",
                             "--command", "--", "/usr/bin/labapp", "idle")
        defer { _ = try? Self.kubectl("-n", "myapp", "delete", "pod", "slim-2", "--grace-period=1") }
        _ = try Self.kubectl("-n", "myapp", "wait", "--for=condition=Ready", "pod/slim-2", "--timeout=60s")
        let (both, bothRuns) = try Self.labPlan("refused") { text in
            text.replacingOccurrences(of: "  - selector: app=myapp", with: "  - selector: app=slim")
                .replacingOccurrences(of: "exec: {pod: myapp/myapppod, command: [labapp,", with: "exec: {pod: myapp/slim-2, command: [/usr/bin/labapp,")
        }
        let twoPods = try runBinary(["apply", both, "--quiet"])
        #expect(twoPods.status == 0, "\(twoPods.stderr)")
        let twoRun = try Self.json(try Self.runDirectory(bothRuns) + "/run.json")
        let filters = ((twoRun["interfaces"] as? [[String: Any]]) ?? []).compactMap { $0["extraFilter"] as? String }
        let slim2IP = try Self.kubectl("-n", "myapp", "get", "pod", "slim-2", "-o", "jsonpath={.status.podIP}")
        #expect(Set(filters) == ["host \(slimIP)", "host \(slim2IP)"], "\(filters)")
    }

    // MARK: two real nodes, kube-proxy and Services (issue 12)

    /// Node A's client reaches node B's server: pod to pod across nodes, through the ClusterIP
    /// Service and the NodePort (each answers the request); the Service without endpoints is
    /// refused by kube-proxy's rules on the client's own node.
    @Test func podsAndServicesRouteAcrossTheTwoNodes() throws {
        try Self.up.get()
        let server = try Self.kubectl("-n", "myapp", "get", "pod", "server", "-o", "jsonpath={.spec.nodeName} {.status.podIP}").split(separator: " ")
        #expect(server.first == "lab-worker")
        let serverIP = String(try #require(server.last))
        for (host, port) in [(serverIP, "8080"), ("10.96.0.80", "80"), ("198.51.100.2", "30080")] {
            let answer = try Self.kubectl("-n", "myapp", "exec", "client", "--", "labapp", "request", host, port, "1", "wait")
            #expect(answer.contains("the far end"), "\(host):\(port) answered the request: \(answer)")
        }
        let refused = try NetLab.run(["kubectl", "--kubeconfig", Self.kubeconfig, "-n", "myapp", "exec", "client", "--",
                                      "labapp", "connect", "10.96.0.81", "80"], check: false)
        #expect(refused.contains("Connection refused"), "\(refused)")
    }

    /// A plan whose pods run on both nodes: apply performs the planned steps (a helper and a
    /// stream per node), the capture holds both nodes' packets, and the helpers are gone afterwards.
    @Test func aTwoNodePlanCapturesOnEveryNode() throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let (path, _) = try Self.labPlan("cross-node")
        let (result, directory) = try expectApplyPerformsThePlan(path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.clusterState() == before)
        let run = try Self.json(directory + "/run.json")
        let pcap = directory + "/capture.pcapng"
        let interfaces = try #require(run["interfaces"] as? [[String: Any]])
        #expect(Set(interfaces.compactMap { $0["node"] as? String }) == [ProcessInfo.processInfo.hostName, "lab-worker"])
        let streams = ((run["packets"] as? [String: Any])?["kernel"] as? [[String: Any]]) ?? []
        #expect(streams.count == 2 && streams.allSatisfy { ($0["received"] as? Int ?? 0) > 0 }, "both nodes' streams carried packets: \(streams)")
        let serverIP = try Self.kubectl("-n", "myapp", "get", "pod", "server", "-o", "jsonpath={.status.podIP}")
        #expect(try Tshark.count(pcap, filter: "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == 10.96.0.80") == 1, "node A: to the Service")
        #expect(try Tshark.count(pcap, filter: "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == \(serverIP)") == 1, "node B: to the pod")
        // Every packet's origin: the SYN to the Service was captured on node A, the rewritten one on node B.
        let origins = try #require(run["origins"] as? [String: Any])
        let runs = try #require(origins["runs"] as? [[Int]])
        #expect(runs.reduce(0) { $0 + $1[1] } == (run["packets"] as? [String: Any])?["written"] as? Int)
        let toService = try Self.origins(pcap, run: run, of: "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == 10.96.0.80")
        #expect(toService.count == 1 && toService.allSatisfy { $0.hasPrefix(ProcessInfo.processInfo.hostName + "/") }, "\(toService)")
        let toPod = try Self.origins(pcap, run: run, of: "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == \(serverIP)")
        #expect(toPod.count == 1 && toPod.allSatisfy { $0.hasPrefix("lab-worker/") }, "\(toPod)")
    }

    /// The capture points (run.json's `origins`: `node/interface`) that captured the frames `filter` selects.
    static func origins(_ pcap: String, run: [String: Any], of filter: String) throws -> Set<String> {
        let origins = try #require(run["origins"] as? [String: Any])
        let sources = try #require(origins["sources"] as? [String])
        let runs = try #require(origins["runs"] as? [[Int]])
        var found: Set<String> = []
        for frame in try Tshark.fields(pcap, filter: filter, ["frame.number"]).compactMap({ $0.first.flatMap { Int($0) } }) {
            var seen = 0
            for run in runs {
                seen += run[1]
                if frame <= seen {
                    found.insert(sources[run[0]])
                    break
                }
            }
        }
        return found
    }

    /// Who really sent it, on the real nodes: each plan captures at every point of the path and
    /// names the box that made or stopped the packet, with the rule that counted it. What each
    /// point saw is checked against the capture itself (tshark, and each frame's recorded origin).
    @Test(arguments: ["node-reject", "no-endpoints", "cross-node-drop"])
    func thePathNamesTheBoxThatSentIt(_ name: String) throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let (path, _) = try Self.labPlan(name)
        let (result, directory) = try expectApplyPerformsThePlan(path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.clusterState() == before)
        let pcap = directory + "/capture.pcapng", run = try Self.json(directory + "/run.json")
        let summary = try Self.json(directory + "/summary.json")
        let ladder = ((summary["path"] as? [String: Any])?["connections"] as? [[String: Any]] ?? []).flatMap { $0["ladder"] as? [[String: Any]] ?? [] }
        let findings = (summary["findings"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        let nodeA = ProcessInfo.processInfo.hostName
        func hops(_ prefix: String) -> [[String: Any]] { ladder.filter { ($0["packet"] as? String)?.hasPrefix(prefix) == true } }
        func points(_ hop: [String: Any]) -> Set<String> { Set((hop["seen"] as? [[String: Any]] ?? []).compactMap { $0["point"] as? String }) }
        switch name {
        case "node-reject":
            let seenBy = try Self.origins(pcap, run: run, of: "tcp.flags.reset == 1")
            #expect(seenBy.count == 1 && seenBy.first?.hasPrefix("\(nodeA)/veth") == true, "only the pod's veth saw the RST: \(seenBy)")
            let reset = try #require(hops("RST").first)
            #expect(points(reset) == seenBy)
            #expect((reset["sender"] as? [String: String])?["kind"] == "node" && (reset["sender"] as? [String: String])?["name"] == nodeA)
            #expect(findings.contains { $0.contains("capplan lab: node A refuses 9443") && $0.contains("counted +1") }, "\(findings)")
        case "no-endpoints":
            // kube-proxy's REJECT on node A answers with ICMP port unreachable from the node's bridge.
            #expect(try Tshark.count(pcap, filter: "icmp.type == 3 && icmp.code == 3 && ip.src == 10.244.0.1") >= 1)
            let seenBy = try Self.origins(pcap, run: run, of: "icmp.type == 3")
            #expect(seenBy.count == 1 && seenBy.first?.hasPrefix("\(nodeA)/veth") == true, "\(seenBy)")
            #expect(hops("ICMP").allSatisfy { ($0["sender"] as? [String: String])?["kind"] == "node" && points($0) == seenBy })
            #expect(findings.contains { $0.contains("myapp/no-endpoints has no endpoints") && $0.contains("counted +") }, "\(findings)")
        default:
            let seenBy = try Self.origins(pcap, run: run, of: "tcp.flags.syn == 1")
            #expect(seenBy.contains("\(nodeA)/k8sn2") && seenBy.contains("lab-worker/eth0"), "\(seenBy)")
            #expect(!seenBy.contains { $0.hasPrefix("lab-worker/veth") }, "no SYN reached the blocked pod's veth: \(seenBy)")
            let syn = try #require(hops("SYN").first)
            #expect(seenBy.count == 3 && points(syn) == seenBy, "the client's veth, node A's uplink, node B's: \(points(syn))")
            #expect(syn["stoppedOn"] as? String == "lab-worker")
            // Node A's conntrack says where it sent the connection to the Service.
            let connection = ((summary["path"] as? [String: Any])?["connections"] as? [[String: Any]])?.first
            #expect((connection?["translations"] as? [String])?.contains { $0.contains("> 10.96.0.82:81 sent on as") && $0.contains("(DNAT)") } == true,
                    "\(connection?["translations"] ?? "none")")
            #expect((syn["missedAt"] as? [String])?.first?.hasPrefix("lab-worker/veth") == true)
            #expect(findings.contains { $0.contains("SYN stopped on node lab-worker") && $0.contains("capplan lab: node B drops 8081") }, "\(findings)")
        }
    }

    /// cordon-others with a real second node: a pod created during the run lands on the capture
    /// node only; afterwards exactly what was cordoned is uncordoned.
    @Test func cordonOthersKeepsNewPodsOffTheOtherNodes() throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let (path, runs) = try Self.labPlan("lb-rst") { $0.replacingOccurrences(of: "stop: {when: reset, grace: 2s}\n", with: "") }
        let (process, _) = try Self.startApply(path, runs: runs, until: "capture: start")
        #expect(try Self.kubectl("get", "node", "lab-worker", "-o", "jsonpath={.spec.unschedulable}") == "true", "the real second node is cordoned")
        _ = try Self.kubectl("-n", "myapp", "run", "probe", "--image=registry.local/tools:lab", "--image-pull-policy=Never",
                             "--restart=Never", "--command", "--", "labapp", "idle")
        defer { _ = try? Self.kubectl("-n", "myapp", "delete", "pod", "probe", "--grace-period=1") }
        _ = try Self.kubectl("-n", "myapp", "wait", "--for=condition=PodScheduled", "pod/probe", "--timeout=30s")
        #expect(try Self.kubectl("-n", "myapp", "get", "pod", "probe", "-o", "jsonpath={.spec.nodeName}") == ProcessInfo.processInfo.hostName)
        kill(process.processIdentifier, SIGINT)
        #expect(waitForExit(process, timeout: 120))
        #expect(try Self.clusterState() == before)
    }

    /// SIGKILL during a two-node capture: both helpers and the cordons stay; cleanup --cluster removes them.
    @Test func aKilledTwoNodeRunIsCleanedUpByLabels() throws {
        try Self.up.get()
        let before = try Self.clusterState()
        let (path, runs) = try Self.labPlan("cross-node") { $0.replacingOccurrences(of: "  duration: 6s", with: "  duration: 60s") }
        let (process, directory) = try Self.startApply(path, runs: runs, until: "capture: start")
        kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(process, timeout: 10)
        let nodes = try Self.kubectl("get", "pods", "-n", "capplan-system", "-o", "jsonpath={.items[*].spec.nodeName}")
        #expect(Set(nodes.split(separator: " ").map(String.init)) == [ProcessInfo.processInfo.hostName, "lab-worker"], "a helper on each node")
        #expect(try Self.clusterState().contains("lab-node-1=true"), "its cordons stay until cleanup")
        let cleanup = try runBinary(["cleanup", "--cluster", "--kubeconfig", Self.kubeconfig])
        #expect(cleanup.status == 0, "\(cleanup.stderr)")
        _ = try runBinary(["cleanup", directory])  // its local kubectl streams
        #expect(try Self.clusterState() == before)
        #expect(try Self.strayKubectl().isEmpty)
    }

    /// Last in the suite: down leaves no process, mount, namespace, link or rule of the lab.
    @Test func downLeavesNothingBehind() throws {
        try Self.up.get()
        try NetLab.run([Self.lab, "down"], timeout: 180)
        let processes = try NetLab.run(["ps", "-eo", "stat=,args="]).split(separator: "\n")
            .filter { !$0.hasPrefix("Z") && ($0.contains("capplan-k8s") || $0.contains("containerd-shim") || $0.contains("labapp")) }
        #expect(processes.isEmpty, "\(processes)")
        #expect(!(try String(contentsOfFile: "/proc/mounts", encoding: .utf8)).contains("capplan-k8s-lab"))
        let namespaces = try NetLab.run(["ip", "netns", "list"])
        #expect(!namespaces.contains("cni-") && !namespaces.contains("cpl-k8s-ext") && !namespaces.contains("cpl-k8s-n2"))
        let links = try NetLab.run(["ip", "-o", "link"])
        #expect(!links.contains("cni0") && !links.contains("k8sext0") && !links.contains("k8sn2"))
        #expect(!(try NetLab.run(["iptables", "-t", "nat", "-S"])).contains("CNI-"))
        for table in ["nat", "filter"] {
            #expect(!(try NetLab.run(["iptables", "-t", table, "-S"])).contains("KUBE-"), "kube-proxy's chains in \(table)")
        }
        #expect(!(try NetLab.run(["ip", "route"])).contains("10.244.1.0/24"), "the route to node B's pods")
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/lab-worker"), "node B's cgroup root")
    }
}
