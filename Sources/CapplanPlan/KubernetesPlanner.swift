import CapplanLoad

/// The Kubernetes target's decisions, in the runbook's order: preflight, the pods, the capture
/// nodes, the helper namespace, the cordon set, a helper per node, and the capture streams.
struct KubernetesPlanner {
    let plan: Plan
    let access: KubernetesAccess
    let snapshot: TargetSnapshot?
    let runID: String

    func setup() throws(PlanningError) -> [Step.Operation] {
        let missingNamespace = snapshot?.helperNamespace == .missing
        var operations: [Step.Operation] = [.preflight(permissions: Planner.permissions(plan, access: access,
                                                                                         helperNamespaceMissing: missingNamespace))]
        let pods = try resolvePods()
        if !plan.pods.isEmpty { operations.append(.resolvePods(plan.pods, found: pods)) }
        let (nodes, notes) = try chooseNodes(pods.value)
        operations.append(.chooseNodes(nodes, pinned: plan.target.node != nil, notes: notes))
        if case .exists(let level?) = snapshot?.helperNamespace, level != "privileged" {
            throw PlanningError(message: """
                namespace \(access.helperNamespace) enforces PodSecurity "\(level)", which rejects the helper pod (hostNetwork, \
                NET_ADMIN, NET_RAW). Label it: kubectl label namespace \(access.helperNamespace) \
                pod-security.kubernetes.io/enforce=privileged --overwrite, or set target.kubernetes.helperNamespace to one that allows it
                """)
        }
        if missingNamespace { operations.append(.createNamespace(access.helperNamespace)) }
        if plan.target.isolation == .cordonOthers {
            let others: Resolved<[String]> = switch (nodes, snapshot) {
            case (.known(let keep), let snapshot?): .known(snapshot.nodes.filter { $0.schedulable && !keep.contains($0.name) }.map(\.name))
            default: .atApply
            }
            operations.append(.cordon(others, keep: nodes, mark: runID))
        }
        let helpers = self.helpers(on: nodes)
        operations += helpers.map(Step.Operation.deployHelper)
        let streams: Resolved<[CaptureStream]> = switch (nodes, pods) {
        case (.known(let nodes), .known(let pods)): .known(try StreamPlanner(plan: plan).kubernetes(pods, nodes: nodes))
        default: .atApply
        }
        operations.append(.resolveInterfaces(plan.interfaces, streams: streams, local: false))
        if case .path = plan.interfaces {
            operations.append(.readNodeState(nodes.value.flatMap { nodes in
                pods.value.map { .known(NodeStateRead.reads(on: nodes, podAddresses: $0.flatMap(\.ips))) }
            } ?? .atApply))
        }
        return operations
    }

    /// The plan's pods as the snapshot has them: each must be Running with an address, and have
    /// the container the plan names.
    func resolvePods() throws(PlanningError) -> Resolved<[PodFact]> {
        if plan.pods.isEmpty { return .known([]) }  // nothing to look up
        guard let snapshot else { return .atApply }
        var facts: [PodFact] = []
        for pod in try Planner.match(plan.pods, in: snapshot) {
            guard pod.phase == "Running", let node = pod.node, !pod.ips.isEmpty else {
                throw PlanningError(message: "pod \(pod.full) is \(pod.phase ?? "not scheduled")\(pod.reason.map { " (\($0))" } ?? ""), not Running; "
                                    + "capture needs it running (kubectl describe pod -n \(pod.namespace) \(pod.name))")
            }
            let container = Planner.container(of: pod, in: plan.pods)
            if let container, !pod.containers.isEmpty, !pod.containers.contains(container) {
                throw PlanningError(message: "pod \(pod.full) has no container \(container); it has \(pod.containers.joined(separator: ", "))")
            }
            if pod.hostNetwork, plan.interfaces.capturesPodVeths {
                throw PlanningError(message: "pod \(pod.full) uses the node's network (hostNetwork): it has no veth; capture it with interfaces: any")
            }
            facts.append(PodFact(namespace: pod.namespace, name: pod.name, ips: pod.ips, node: node, container: container, peerIndex: pod.peerIndex))
        }
        return .known(facts)
    }

    /// The pinned node, else every node the pods run on; each must exist and be Ready.
    func chooseNodes(_ pods: [PodFact]?) throws(PlanningError) -> (Resolved<[String]>, notes: [String]) {
        guard let snapshot else { return (plan.target.node.map { .known([$0]) } ?? .atApply, []) }
        let pods = pods ?? []  // known whenever the snapshot is
        let nodes: [String]
        var notes: [String] = []
        if let pinned = plan.target.node {
            guard snapshot.nodes.contains(where: { $0.name == pinned }) else {
                throw PlanningError(message: "node \(pinned) (target.node) does not exist; nodes: \(snapshot.nodes.map(\.name).joined(separator: ", "))")
            }
            let elsewhere = pods.filter { $0.node != pinned }
            if plan.interfaces.capturesPodVeths, !pods.isEmpty, elsewhere.count == pods.count {
                throw PlanningError(message: "no pod of the plan runs on node \(pinned) (target.node); they run on "
                                    + "\(Set(pods.compactMap(\.node)).sorted().joined(separator: ", ")). Drop target.node, or move the pods there")
            }
            notes = elsewhere.map { "pod \($0.full) runs on \($0.node ?? "no node"), not on the pinned node \(pinned): its traffic is not captured" }
            nodes = [pinned]
        } else {
            nodes = Array(Set(pods.compactMap(\.node))).sorted()
            guard !nodes.isEmpty else {
                throw PlanningError(message: "no capture node: the plan names no pods and no target.node; set target.node")
            }
        }
        for node in nodes where !(snapshot.nodes.first { $0.name == node }?.ready ?? false) {
            throw PlanningError(message: "node \(node)\(plan.target.node == nil ? ", where the pods run," : " (target.node)") is not Ready; capture on a Ready node")
        }
        return (.known(nodes), notes)
    }

    func helpers(on nodes: Resolved<[String]>) -> [HelperPod] {
        let deadline = Int(Planner.helperDeadline(plan).seconds.rounded(.up))
        let names: [Resolved<String>] = nodes.value.map { $0.map { .known($0) } } ?? [.atApply]
        return names.enumerated().map { index, node in
            HelperPod(name: "capplan-\(runID)-\(index + 1)", namespace: access.helperNamespace, node: node, image: plan.capture.helperImage,
                      privileged: plan.capture.privileged, deadlineSeconds: deadline, run: runID, plan: plan.name)
        }
    }
}
