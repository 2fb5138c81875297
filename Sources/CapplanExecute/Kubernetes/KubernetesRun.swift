import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import CapplanPlan
import Foundation

/// The Kubernetes target's steps, the runbook's order: preflight (read-only), resolve pods,
/// choose nodes, cordon the others (if asked), deploy a helper pod per node, resolve each
/// pod's host-side veth, then stream `tcpdump -U -w -` out of every helper into the one
/// capture pass. Every change is on the undo stack before it is made.
struct KubernetesRun {
    let session: CaptureSession
    let access: KubernetesAccess
    let kubectl: Kubectl
    let runID: String
    /// How long a helper pod may take to become Ready (image pull included).
    static let helperReadyTimeout: TimeInterval = 180

    init(session: CaptureSession, access: KubernetesAccess) {
        self.session = session
        self.access = access
        kubectl = Kubectl(access)
        runID = (0..<8).map { _ in String("0123456789abcdef".randomElement() ?? "0") }.joined()
    }

    var plan: Plan { session.plan }

    /// A pod of the plan, as the cluster has it.
    struct ResolvedPod {
        var namespace: String
        var name: String
        var ips: [String]
        var node: String
        var container: String?
        var hostNetwork: Bool
        var full: String { "\(namespace)/\(name)" }
    }

    func run() throws -> ApplyExit {
        let journal = session.journal
        let applyStart = Date()
        session.say("run \(runID): checking access to the cluster")
        let cluster = try Preflight(kubectl: kubectl, plan: plan, access: access).check(note: { journal.note("preflight: \($0)") })
        let preflightDone = Date()
        for note in cluster.notes {
            journal.note("preflight: \(note)")
            session.say(note)
        }
        try checkInterrupt()

        let pods = try resolvePods(cluster)
        for pod in pods { journal.note("pod \(pod.full): \(pod.ips.joined(separator: ", ")) on node \(pod.node)") }
        let nodes = try chooseNodes(pods, cluster)
        journal.note("capture nodes: \(nodes.joined(separator: ", "))")
        session.say("pods: \(pods.map { "\($0.full) (\($0.ips.first ?? "no IP") on \($0.node))" }.joined(separator: ", "))")
        try checkInterrupt()

        var cordoned: [String] = []
        if plan.target.isolation == .cordonOthers {
            for node in cluster.nodes where node.schedulable && !nodes.contains(node.name) {
                try session.undo.push("cordon \(node.name)", .uncordon(kubectl: kubectl.argv, node: node.name, run: runID))
                try kubectl.cordon(node: node.name, run: runID)
                cordoned.append(node.name)
                journal.note("cordoned \(node.name)")
                try checkInterrupt()
            }
            session.say(cordoned.isEmpty ? "cordon-others: no other node was schedulable" : "cordoned \(cordoned.joined(separator: ", "))")
        }

        if cluster.helperNamespace == nil {
            try session.undo.push("create namespace \(access.helperNamespace)", .deleteNamespace(kubectl: kubectl.argv, name: access.helperNamespace))
            let file = session.directory + "/namespace-\(access.helperNamespace).json"
            try HelperPod.namespaceManifest(access.helperNamespace).write(toFile: file, atomically: true, encoding: .utf8)
            try kubectl.check(["create", "-f", file], what: "create namespace \(access.helperNamespace)")
            journal.note("created namespace \(access.helperNamespace)")
        }
        let deadline = Int(Planner.helperDeadline(plan).seconds.rounded(.up))
        let helpers = nodes.enumerated().map { index, node in
            HelperPod(run: runID, index: index + 1, plan: plan, namespace: access.helperNamespace, node: node, deadlineSeconds: deadline)
        }
        let deployStart = Date()
        for helper in helpers {
            let file = session.directory + "/helper-\(helper.node).json"
            try helper.manifest.write(toFile: file, atomically: true, encoding: .utf8)
            try session.undo.push("helper pod on \(helper.node)", .deletePod(kubectl: kubectl.argv, namespace: helper.namespace, name: helper.name))
            try kubectl.check(["create", "-f", file], what: "create the helper pod on node \(helper.node)")
            journal.note("created helper pod \(helper.namespace)/\(helper.name) on \(helper.node) (deadline \(deadline) s)")
        }
        session.say("helper pod\(helpers.count == 1 ? "" : "s") \(helpers.map(\.name).joined(separator: ", ")) created; waiting until Ready")
        try waitUntilReady(helpers)
        let readyAt = Date()
        journal.note("helpers Ready after \(String(format: "%.1f", readyAt.timeIntervalSince(deployStart))) s")

        let interfaces = try resolveInterfaces(pods: pods, helpers: helpers)
        for interface in interfaces { journal.note("interface \(interface.node ?? "")/\(interface.name): \(interface.method)") }
        try checkInterrupt()

        // One tcpdump per node and interface, each streamed over its own kubectl exec.
        var streams: [(name: String, child: ChildProcess, log: String, journalIndex: Int)] = []
        defer {
            for entry in streams {
                entry.child.stop(grace: 5)
                session.undo.settled(entry.journalIndex)
            }
        }
        for interface in interfaces {
            guard let helper = helpers.first(where: { $0.node == interface.node }) else { continue }
            let filter = [plan.capture.filter, interface.extraFilter ?? ""].filter { !$0.isEmpty }.map { "(\($0))" }.joined(separator: " and ")
            let command = ["tcpdump", "-i", interface.name, "-U", "-w", "-", "-s", String(plan.capture.snaplen)] + (filter.isEmpty ? [] : [filter])
            let argv = kubectl.exec(namespace: helper.namespace, pod: helper.name, container: "capture", command)
            // A shared bridge is captured once per pod (each with its own host filter): names stay unique.
            let name = "\(helper.node)/\(interface.name)" + (interface.extraFilter != nil ? interface.pod.map { " for \($0)" } ?? "" : "")
            let log = session.directory + "/tcpdump-\(streams.count + 1)-\(helper.node)-\(interface.name).log"
            let child = try ChildProcess(argv, standardOutput: .pipe, standardError: .file(log))
            let index = try session.undo.push("capture \(name)", .stopProcess(pid: child.pid, startTicks: child.startTicks, command: argv))
            streams.append((name, child, log, index))
            journal.note("stream \(name): \(argv.joined(separator: " "))")
        }
        let logs = streams.map { (name: $0.name, log: $0.log) }
        let source = try PcapStreams(streams: streams.map { ($0.name, $0.child.standardOutput) }, headerTimeout: 30, describeFailure: { name in
            logs.first { $0.name == name }.flatMap { try? String(contentsOfFile: $0.log, encoding: .utf8) } ?? ""
        })
        let kubectl = self.kubectl
        let interrupts = session.interrupts
        source.abandon = { interrupts.received >= 2 }
        source.onStop = {
            // tcpdump hands packets over in 1 s batches: let the last batch out, then SIGINT makes it
            // write everything it has and exit, which ends each stream.
            Thread.sleep(forTimeInterval: 1.1)
            DispatchQueue.concurrentPerform(iterations: helpers.count) { index in
                Self.interruptTcpdump(in: helpers[index], kubectl: kubectl)
            }
        }

        let target = CaptureTarget(
            kind: "kubernetes", source: source, interfaces: interfaces, identities: identities(cluster),
            statistics: { logs.map { Self.tcpdumpStatistics(name: $0.name, log: $0.log) } },
            reproduce: { step in try reproduceArgv(step) },
            record: { record in
                record.kubernetes = .init(context: access.context, kubeconfig: access.kubeconfig, runID: runID, nodes: nodes, cordoned: cordoned,
                                          helperPods: helpers.map { "\($0.namespace)/\($0.name)" },
                                          pods: pods.map { .init(namespace: $0.namespace, name: $0.name, ips: $0.ips, node: $0.node) },
                                          timeline: .init(preflightDone: preflightDone.timeIntervalSince(applyStart),
                                                          helpersReady: readyAt.timeIntervalSince(applyStart),
                                                          captureStarted: session.captureStart?.timeIntervalSince(applyStart),
                                                          firstPacket: session.firstPacketAt?.timeIntervalSince(applyStart)))
            })
        return try session.run(target)
    }

    private func checkInterrupt() throws {
        if session.interrupts.received > 0 { throw Apply.Interrupted() }
    }

    // MARK: pods and nodes

    func resolvePods(_ cluster: Preflight.Cluster) throws -> [ResolvedPod] {
        guard !plan.pods.isEmpty else { return [] }
        let snapshot = TargetSnapshot(nodes: [], pods: cluster.pods.map(\.snapshot))
        let matched: [TargetSnapshot.Pod]
        do {
            matched = try Planner.match(plan.pods, in: snapshot)
        } catch {
            throw KubernetesError("\(error.message); kubectl get pods -n \(plan.pods.first?.namespace ?? access.namespace) lists what there is")
        }
        return try matched.map { found in
            guard let pod = cluster.pods.first(where: { $0.namespace == found.namespace && $0.name == found.name }) else {
                throw KubernetesError("pod \(found.namespace)/\(found.name) vanished")
            }
            guard pod.status?.phase == "Running", let node = pod.spec?.nodeName, !pod.ips.isEmpty else {
                throw KubernetesError("pod \(found.namespace)/\(found.name) is \(pod.status?.phase ?? "not scheduled")\(pod.status?.reason.map { " (\($0))" } ?? ""), not Running; capture needs it running (kubectl describe pod -n \(found.namespace) \(found.name))")
            }
            let selection = plan.pods.first { selection in
                selection.namespace == found.namespace && {
                    switch selection.match {
                    case .name(let name): return name == found.name
                    case .selector(let selector): return selector.matches(found.labels)
                    }
                }()
            }
            let containers = pod.spec?.containers?.map(\.name) ?? []
            if let wanted = selection?.container, !containers.contains(wanted) {
                throw KubernetesError("pod \(found.namespace)/\(found.name) has no container \(wanted); it has \(containers.joined(separator: ", "))")
            }
            return ResolvedPod(namespace: found.namespace, name: found.name, ips: pod.ips, node: node,
                               container: selection?.container ?? containers.first, hostNetwork: pod.spec?.hostNetwork ?? false)
        }
    }

    func chooseNodes(_ pods: [ResolvedPod], _ cluster: Preflight.Cluster) throws -> [String] {
        if let pinned = plan.target.node {
            let elsewhere = pods.filter { $0.node != pinned }
            if case .pods = plan.interfaces, !pods.isEmpty, elsewhere.count == pods.count {
                throw KubernetesError("no pod of the plan runs on node \(pinned) (target.node); they run on \(Set(pods.map(\.node)).sorted().joined(separator: ", ")). Drop target.node, or move the pods there (isolate: cordon-others, then recreate them)")
            }
            for pod in elsewhere {
                session.say("pod \(pod.full) runs on \(pod.node), not on the pinned node \(pinned): its traffic is not captured")
            }
            return [pinned]
        }
        let nodes = Array(Set(pods.map(\.node))).sorted()
        guard !nodes.isEmpty else {
            throw KubernetesError("no capture node: the plan names no pods and no target.node; set target.node")
        }
        for node in nodes where !(cluster.nodes.first { $0.name == node }?.ready ?? false) {
            throw KubernetesError("node \(node), where the pods run, is not Ready")
        }
        return nodes
    }

    // MARK: helper pods

    /// Waits until every helper is Ready; what keeps one from starting becomes the error.
    func waitUntilReady(_ helpers: [HelperPod]) throws {
        let deadline = Date().addingTimeInterval(Self.helperReadyTimeout)
        var nextProgress = Date().addingTimeInterval(5)
        while true {
            try checkInterrupt()
            let pods = try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self,
                                       ["pods", "-n", access.helperNamespace, "-l", "\(HelperPod.runLabel)=\(runID)"], what: "read the helper pods").items
            var waiting: [String] = []
            for helper in helpers {
                guard let pod = pods.first(where: { $0.name == helper.name }) else {
                    waiting.append("\(helper.name): not created yet")
                    continue
                }
                if pod.ready { continue }
                if let problem = Self.startProblem(pod, helper: helper) { throw KubernetesError(problem) }
                let reason = pod.status?.containerStatuses?.first?.state?.waiting?.reason
                waiting.append("\(helper.name): \(pod.status?.phase ?? "Pending")\(reason.map { " (\($0))" } ?? "")")
            }
            if waiting.isEmpty { return }
            if Date() >= nextProgress {
                session.say("still waiting for the helper: \(waiting.joined(separator: "; "))")
                nextProgress = Date().addingTimeInterval(5)
            }
            if Date() >= deadline {
                throw KubernetesError("the helper pods were not Ready within \(Int(Self.helperReadyTimeout)) s (\(waiting.joined(separator: "; "))); kubectl describe pod -n \(access.helperNamespace) shows why")
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// Why a helper pod cannot start, if the cluster already says so.
    static func startProblem(_ pod: ClusterObjects.Pod, helper: HelperPod) -> String? {
        let on = "the helper pod \(helper.namespace)/\(helper.name) on node \(helper.node)"
        if let scheduled = pod.status?.conditions?.first(where: { $0.type == "PodScheduled" }), scheduled.status == "False",
           scheduled.reason == "Unschedulable" {
            return "\(on) cannot be scheduled: \(scheduled.message ?? "Unschedulable")"
        }
        if pod.status?.phase == "Failed" || pod.status?.phase == "Succeeded" {
            return "\(on) ended before it was Ready: \(pod.status?.reason ?? pod.status?.phase ?? "")\(pod.status?.message.map { ": \($0)" } ?? "")"
        }
        for status in pod.status?.containerStatuses ?? [] {
            if let waiting = status.state?.waiting, let reason = waiting.reason,
               ["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError",
                "CreateContainerError", "RunContainerError", "CrashLoopBackOff"].contains(reason) {
                let hint = reason.contains("Image") ? ". The image \(helper.image) (capture.image) must be pullable from the node and have ip and tcpdump" : ""
                return "\(on) cannot start: \(reason)\(waiting.message.map { ": \($0)" } ?? "")\(hint)"
            }
            if let terminated = status.state?.terminated {
                return "\(on) exited: \(terminated.reason ?? "exit \(terminated.exitCode ?? -1)")\(terminated.message.map { ": \($0)" } ?? ""); its image needs sleep, ip and tcpdump"
            }
        }
        return nil
    }

    // MARK: interfaces

    /// The interfaces to capture on each node, each with how it was found.
    func resolveInterfaces(pods: [ResolvedPod], helpers: [HelperPod]) throws -> [ResolvedInterface] {
        var result: [ResolvedInterface] = []
        for helper in helpers {
            let links = try nodeLinks(helper)
            switch plan.interfaces {
            case .any:
                result.append(ResolvedInterface(name: "any", method: "any: every interface of the node, without capplan's own stream",
                                                node: helper.node, extraFilter: Self.ownStreamExclusion(for: "any")))
            case .named(let names):
                for name in names where name != "any" && !links.values.contains(name) {
                    throw KubernetesError("interface \(name) does not exist on node \(helper.node); it has \(links.values.sorted().joined(separator: ", "))")
                }
                result += names.map { ResolvedInterface(name: $0, method: "named in the plan, without capplan's own stream",
                                                        node: helper.node, extraFilter: Self.ownStreamExclusion(for: $0)) }
            case .pods:
                for pod in pods where pod.node == helper.node {
                    let found = try podInterface(pod, helper: helper, links: links)
                    if !result.contains(where: { $0.node == found.node && $0.name == found.name && $0.extraFilter == found.extraFilter }) {
                        result.append(found)
                    }
                }
            }
        }
        guard !result.isEmpty else { throw KubernetesError("no interface to capture on: no pod of the plan runs on the capture node") }
        return result
    }

    /// The capture leaves the node through the kubelet (port 10250) and the container runtime's
    /// streaming server (loopback): captured again, every packet would make more packets. A node
    /// interface (not a pod's veth) therefore never sees that traffic.
    static func ownStreamExclusion(for interface: String) -> String {
        let loopback = "tcp and ((src host 127.0.0.1 and dst host 127.0.0.1) or (src host ::1 and dst host ::1))"
        return interface == "any" || interface == "lo" ? "not (tcp port 10250 or (\(loopback)))" : "not tcp port 10250"
    }

    /// The runbook's way (eth0's iflink read in the pod, then the node's link with that index), and
    /// when the image cannot (no cat: distroless) the node's route to the pod's address, which
    /// needs nothing from the app image.
    func podInterface(_ pod: ResolvedPod, helper: HelperPod, links: [Int: String]) throws -> ResolvedInterface {
        if pod.hostNetwork {
            throw KubernetesError("pod \(pod.full) uses the node's network (hostNetwork): it has no veth; capture it with interfaces: any")
        }
        let read = try kubectl.run(["exec", "-n", pod.namespace, pod.name] + (pod.container.map { ["-c", $0] } ?? [])
                                   + ["--", "cat", "/sys/class/net/eth0/iflink"], timeout: 30)
        if read.status == 0, let index = Int(read.output.trimmingCharacters(in: .whitespacesAndNewlines)), let name = links[index] {
            return ResolvedInterface(name: name, method: "\(pod.full): eth0 iflink \(index) -> \(name) (kubectl exec cat)", node: helper.node, pod: pod.full)
        }
        let why = read.status == 0 ? "eth0's iflink has no match on the node" : "cat failed in the pod (\(Kubectl.message(read.errors)))"
        session.journal.note("interface of \(pod.full): \(why); trying the node's route")
        guard let address = pod.ips.first else { throw KubernetesError("pod \(pod.full) has no IP") }
        let route = try helperRun(helper, ["ip", "-o", "route", "get", address], what: "read the node's route to \(address)")
        let words = route.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        guard let at = words.firstIndex(of: "dev"), at + 1 < words.count else {
            throw KubernetesError("cannot find the interface of pod \(pod.full): \(why), and the node's route to \(address) names none (\(route))")
        }
        let device = words[at + 1]
        let details = (try? helperRun(helper, ["ip", "-d", "-o", "link", "show", "dev", device], what: "read \(device)")) ?? ""
        if details.contains(" bridge ") {
            // A bridge carries every pod on it: capture there, but only this pod's address.
            return ResolvedInterface(name: device, method: "\(pod.full): \(why); the node's route to \(address) -> bridge \(device), filtered to host \(address)",
                                     node: helper.node, pod: pod.full, extraFilter: "host \(address)")
        }
        return ResolvedInterface(name: device, method: "\(pod.full): \(why); the node's route to \(address) -> \(device)", node: helper.node, pod: pod.full)
    }

    /// The node's interfaces, index → name, as the helper (on the node's network) sees them.
    func nodeLinks(_ helper: HelperPod) throws -> [Int: String] {
        let output = try helperRun(helper, ["ip", "-o", "link"], what: "list the interfaces of node \(helper.node)")
        var links: [Int: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count >= 2, let index = Int(parts[0].trimmingCharacters(in: .whitespaces)) else { continue }
            links[index] = parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init) ?? ""
        }
        return links
    }

    private func helperRun(_ helper: HelperPod, _ command: [String], what: String) throws -> String {
        try kubectl.check(["exec", "-n", helper.namespace, helper.name, "-c", "capture", "--"] + command, timeout: 30, what: what)
    }

    /// SIGINT to every tcpdump in a helper (found with ps: neither image needs pkill). The helper
    /// has its own PID namespace, so only capplan's own processes are there.
    static func interruptTcpdump(in helper: HelperPod, kubectl: Kubectl) {
        let prefix = ["exec", "-n", helper.namespace, helper.name, "-c", "capture", "--"]
        guard let listing = try? kubectl.run(prefix + ["ps", "-o", "pid,comm"], timeout: 15), listing.status == 0 else { return }
        let pids = listing.output.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            return words.count == 2 && words[1] == "tcpdump" && Int(words[0]) != nil ? String(words[0]) : nil
        }
        guard !pids.isEmpty else { return }
        _ = try? kubectl.run(prefix + ["kill", "-INT"] + pids, timeout: 15)
    }

    // MARK: reproduce, identities, counters

    func reproduceArgv(_ step: ReproduceStep) throws -> [String] {
        switch step.action {
        case .exec(let pod, let container, let command):
            return kubectl.exec(namespace: pod.namespace ?? access.namespace, pod: pod.name, container: container, command)
        case .local(let netns, let command):
            return (netns.map { ["ip", "netns", "exec", $0] } ?? []) + command
        }
    }

    /// Addresses → who they are in the cluster: pods, nodes, services, load balancers; a node's pod
    /// range says "pod network" for pods capplan could not list; everything else is external.
    func identities(_ cluster: Preflight.Cluster) -> IdentityMap {
        var map = IdentityMap()
        for everything in ["0.0.0.0/0", "::/0"] {
            if case .success(let block) = CIDR.parse(everything) { map.add(block, Identity(name: "", kind: .external)) }
        }
        for node in cluster.nodes {
            if let range = node.spec?.podCIDR, case .success(let block) = CIDR.parse(range) {
                map.add(block, Identity(name: "pod network of node \(node.name)", kind: .other))
            }
        }
        func add(_ text: String?, _ identity: Identity) {
            guard let text, let address = IPAddress(text) else { return }
            map.add(CIDR(address: address, prefixLength: address.bitCount), identity)
        }
        for node in cluster.nodes {
            for address in node.status?.addresses ?? [] where address.type.hasSuffix("IP") { add(address.address, Identity(name: node.name, kind: .node)) }
        }
        for service in cluster.services {
            let name = "\(service.metadata.namespace ?? "default")/\(service.metadata.name)"
            for ip in (service.spec?.clusterIPs ?? []) + [service.spec?.clusterIP].compactMap({ $0 }) where ip != "None" {
                add(ip, Identity(name: name, kind: .service))
            }
            for ip in service.spec?.externalIPs ?? [] { add(ip, Identity(name: name, kind: .service)) }
            for ingress in service.status?.loadBalancer?.ingress ?? [] { add(ingress.ip, Identity(name: name, kind: .loadBalancer)) }
        }
        for pod in cluster.pods where !(pod.spec?.hostNetwork ?? false) {
            for ip in pod.ips { add(ip, Identity(name: "\(pod.namespace)/\(pod.name)", kind: .pod)) }
        }
        return map
    }

    /// tcpdump's own counts, printed to its stderr as it exits.
    static func tcpdumpStatistics(name: String, log: String) -> LiveCapture.Statistics {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        func count(_ suffix: String) -> UInt32 {
            for line in text.split(separator: "\n") where line.hasSuffix(suffix) {
                if let number = UInt32(line.split(separator: " ").first ?? "") { return number }
            }
            return 0
        }
        return LiveCapture.Statistics(interface: name, received: count("packets received by filter"),
                                      droppedByKernel: count("packets dropped by kernel"), droppedByInterface: 0)
    }
}
