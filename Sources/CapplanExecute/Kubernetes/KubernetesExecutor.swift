import CapplanLoad
import CapplanPlan
import Foundation

/// Performs the planner's steps on a cluster, in order and nothing else: the account's
/// permissions and the cluster are read first (the same reader as `capplan plan`), the planner
/// decides, and each step is carried out with its undo recorded before the change is made.
struct KubernetesExecutor {
    let context: RunContext
    let access: KubernetesAccess
    let kubectl: Kubectl

    init(context: RunContext, access: KubernetesAccess) {
        self.context = context
        self.access = access
        var kubectl = Kubectl(access)
        let interrupts = context.interrupts
        kubectl.cancelled = { interrupts.received > 0 }
        self.kubectl = kubectl
    }

    /// What the steps so far have done, for the steps after them and for run.json.
    private struct State {
        var started = Date()
        var preflightDone: Date?
        var helpersReady: Date?
        var checked: [Permission] = []
        var pods: [PodFact] = []
        var nodes: [String] = []
        var cordoned: [String] = []
        var helpers: [HelperPod] = []
        var streams: [(stream: CaptureStream, interface: ResolvedInterface)] = []
    }

    func run() throws -> ApplyExit {
        var state = State()
        context.say("run \(context.runID): checking access to the cluster")
        try kubectl.requireAnswer(access)
        state.checked = Planner.permissions(context.plan, access: access)
        try Preflight(kubectl: kubectl).require(state.checked)
        context.journal.note("preflight: permissions: all \(state.checked.count) checked with kubectl auth can-i")
        try context.checkInterrupt()
        let cluster = try ClusterSnapshot.read(plan: context.plan, kubectl: kubectl, access: access)
        state.preflightDone = Date()
        for note in cluster.notes {
            context.journal.note("preflight: \(note)")
            context.say(note)
        }
        try context.adopt(try Planner.steps(for: context.plan, snapshot: cluster.snapshot, runID: context.runID),
                          comparable: { try Planner.steps(for: context.plan, snapshot: cluster.snapshot) })
        for step in context.steps {
            try context.checkInterrupt()
            if case .capture = step.operation { return try capture(step, state: state, cluster: cluster) }
            try perform(step, &state)
        }
        throw KubernetesError("the plan has no capture step")
    }

    private func perform(_ step: Step, _ state: inout State) throws {
        var facts: [String] = []
        switch step.operation {
        case .preflight(let permissions):
            let more = permissions.filter { !state.checked.contains($0) }
            if !more.isEmpty { try Preflight(kubectl: kubectl).require(more) }
            facts = ["all \(permissions.count) permissions granted"]
        case .resolvePods(_, let found):
            state.pods = found.value ?? []
            facts = state.pods.map { "pod \($0.full): \($0.ips.joined(separator: ", ")) on node \($0.node ?? "?")" }
            context.say("pods: \(state.pods.map { "\($0.full) (\($0.ips.first ?? "no IP") on \($0.node ?? "?"))" }.joined(separator: ", "))")
        case .chooseNodes(let nodes, _, let notes):
            state.nodes = nodes.value ?? []
            facts = ["capture nodes: \(state.nodes.joined(separator: ", "))"]
            notes.forEach(context.say)
        case .createNamespace(let name):
            try createNamespace(name, step: step)
        case .cordon(let nodes, _, let mark):
            state.cordoned = try cordon(nodes.value ?? [], mark: mark, step: step)
        case .deployHelper(let helper):
            try HelperPods(kubectl: kubectl, context: context).create(helper, step: step)
            state.helpers.append(helper)
        case .readNodeState:
            return  // performed by the capture, at its start and stop
        case .resolveInterfaces(_, let streams, _):
            try resolveInterfaces(streams.value ?? [], state: &state)
            facts = state.streams.map { "interface \($0.interface.node ?? "")/\($0.interface.name): \($0.interface.method)" }
        default:
            throw KubernetesError("step \(step.number) (\(step.operation)) comes after the capture")
        }
        context.finished(step, facts: facts)
    }

    private func createNamespace(_ name: String, step: Step) throws {
        if let undo = step.undo { try context.undo.push(step.number, "create namespace \(name)", undo) }
        let file = context.directory + "/namespace-\(name).json"
        try HelperPod.namespaceManifest(name).write(toFile: file, atomically: true, encoding: .utf8)
        try kubectl.check(["create", "-f", file], what: "create namespace \(name)")
        context.journal.note("created namespace \(name)")
    }

    /// Cordons exactly the planned nodes; the undo (recorded first) uncordons those still marked.
    private func cordon(_ nodes: [String], mark: String, step: Step) throws -> [String] {
        if let undo = step.undo { try context.undo.push(step.number, "cordon \(nodes.joined(separator: ", "))", undo) }
        for node in nodes {
            try kubectl.cordon(node: node, run: mark)
            context.journal.note("cordoned \(node)")
            try context.checkInterrupt()
        }
        context.say(nodes.isEmpty ? "cordon-others: no other node was schedulable" : "cordoned \(nodes.joined(separator: ", "))")
        return nodes
    }

    private func resolveInterfaces(_ streams: [CaptureStream], state: inout State) throws {
        context.say("helper pod\(state.helpers.count == 1 ? "" : "s") \(state.helpers.map(\.name).joined(separator: ", ")) created; waiting until Ready")
        let created = Date()
        try HelperPods(kubectl: kubectl, context: context).waitUntilReady(state.helpers)
        state.helpersReady = Date()
        context.journal.note("helpers Ready after \(String(format: "%.1f", Date().timeIntervalSince(created))) s")
        state.streams = try NodeInterfaces(kubectl: kubectl).resolve(streams, helpers: state.helpers)
    }

    /// The capture step and every one after it: the streams into the run's one pass.
    private func capture(_ step: Step, state: State, cluster: ClusterSnapshot) throws -> ApplyExit {
        let streams = TcpdumpStreams(kubectl: kubectl, context: context)
        defer { streams.stopAll() }
        try streams.start(state.streams, helpers: state.helpers, snaplen: context.plan.capture.snaplen,
                          bufferSize: context.plan.capture.bufferSize, step: step)
        let context = self.context
        var target = CaptureTarget(
            kind: .kubernetes, source: try streams.source(helpers: state.helpers), interfaces: state.streams.map(\.interface),
            identities: ClusterIdentities.map(cluster), statistics: { streams.statistics() }, liveStatistics: false,
            record: { record in
                func since(_ date: Date?) -> Double? { date.map { $0.timeIntervalSince(state.started) } }
                record.kubernetes = .init(context: access.context, kubeconfig: access.kubeconfig, runID: context.runID, nodes: state.nodes,
                                          cordoned: state.cordoned, helperPods: state.helpers.map { "\($0.namespace)/\($0.name)" },
                                          pods: state.pods.map { .init(namespace: $0.namespace, name: $0.name, ips: $0.ips, node: $0.node) },
                                          timeline: .init(preflightDone: since(state.preflightDone), helpersReady: since(state.helpersReady),
                                                          captureStarted: since(context.captureStart), firstPacket: since(context.firstPacketAt)))
            })
        target.gaps = { streams.gaps }
        target.readNodeState = { [kubectl] read in
            guard let helper = state.helpers.first(where: { $0.node.value == read.node }) else { return .failure(.init(reason: "no helper on its node")) }
            do throws(KubernetesError) {
                return .success(try kubectl.checkInHelper(helper, read.command, what: "read \(read.name)"))
            } catch {
                return .failure(.init(reason: error.description))
            }
        }
        target.pathPoints = CaptureTarget.pathPoints(context.plan, interfaces: state.streams.map(\.interface),
                                                     podAddresses: Dictionary(state.pods.map { ($0.full, $0.ips) }, uniquingKeysWith: { first, _ in first }))
        return try CaptureSession(context: context, target: target).run()
    }
}
