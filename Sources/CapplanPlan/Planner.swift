public import CapplanLoad

/// Why a plan cannot be carried out on this target.
public struct PlanningError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) { self.message = message }
}

/// Plan: a pure function from a validated plan and a snapshot of the target to the ordered
/// steps that `plan` prints and `apply` performs, exactly. Every decision is made here, once:
/// nodes, the cordon set, the helper namespace, each capture stream and its whole filter, the
/// argv of each reproduce command and their order. Without a snapshot (`plan --offline`),
/// facts that need the target are `.atApply`; nothing here talks to anything.
public enum Planner {
    /// How long the helper pod may outlive the planned capture before the cluster removes it.
    public static let helperDeadlineMargin = PlanDuration.seconds(300)
    /// The annotation that marks a node a run cordoned, so that only those are uncordoned.
    public static let cordonMark = "capplan.dev/cordoned-by"
    /// The run id `plan` shows in names that `apply` makes with its own run id.
    public static let planRunID = "RUNID"

    /// The helper pod's activeDeadlineSeconds: the longest the capture can last, plus the margin.
    public static func helperDeadline(_ plan: Plan) -> PlanDuration {
        PlanDuration(milliseconds: plan.capture.duration.milliseconds + (plan.stop?.grace.milliseconds ?? 0) + helperDeadlineMargin.milliseconds)
    }

    public static func steps(for plan: Plan, snapshot: TargetSnapshot? = nil, runID: String = planRunID) throws(PlanningError) -> [Step] {
        var operations: [Step.Operation]
        switch plan.target.kind {
        case .kubernetes(let access):
            operations = try KubernetesPlanner(plan: plan, access: access, snapshot: snapshot, runID: runID).setup()
        case .local(let netns):
            operations = try localSetup(plan, netns: netns, snapshot: snapshot)
        }
        operations.append(.capture(filter: plan.capture.filter, duration: plan.capture.duration,
                                   maxPackets: plan.capture.maxPackets, maxBytes: plan.capture.maxBytes,
                                   snaplen: plan.capture.snaplen, streamed: plan.target.isKubernetes, bufferSize: plan.capture.bufferSize))
        if let keep = plan.capture.keep { operations.append(.keepWindows(keep)) }
        // Sorted here, once: apply starts them in this order.
        for step in plan.reproduce.sorted(by: { $0.at < $1.at }) {
            operations.append(.reproduce(step, argv: try reproduceArgv(step, plan: plan)))
        }
        if let stop = plan.stop { operations.append(.stopWhen(stop)) }
        operations += [.collect, .redact(plan.redaction), .analyse(expectations: plan.expectations), .report(directory: plan.outputDirectory, capture: plan.outputFormat)]
        return operations.enumerated().map { Step(number: $0.offset + 1, operation: $0.element) }
    }

    /// `kubectl [--kubeconfig FILE] [--context NAME]`: every call to the plan's cluster starts with it.
    public static func kubectl(_ access: KubernetesAccess) -> [String] {
        ["kubectl"] + (access.kubeconfig.map { ["--kubeconfig", $0] } ?? []) + (access.context.map { ["--context", $0] } ?? [])
    }

    /// The exact argv of a reproduce command: kubectl exec in a pod, or a command on this machine.
    static func reproduceArgv(_ step: ReproduceStep, plan: Plan) throws(PlanningError) -> [String] {
        switch step.action {
        case .exec(let pod, let container, let command):
            guard let access = plan.target.kubernetes else {
                throw PlanningError(message: "reproduce: exec runs in a Kubernetes pod; a local plan uses local: commands")
            }
            return kubectl(access) + ["exec", "-n", pod.namespace ?? access.namespace, pod.name]
                + (container.map { ["-c", $0] } ?? []) + ["--"] + command
        case .local(let netns, let command):
            return (netns.map { ["ip", "netns", "exec", $0] } ?? []) + command
        }
    }

    /// The local target: a pod is a network namespace, its interface the host-side peer of its eth0.
    static func localSetup(_ plan: Plan, netns: String?, snapshot: TargetSnapshot?) throws(PlanningError) -> [Step.Operation] {
        var operations: [Step.Operation] = []
        var namespaces: [String] = []
        for pod in plan.pods {
            guard case .name(let name) = pod.match else {
                throw PlanningError(message: "pod \(pod): on the local target a pod is a network namespace, named (not selected)")
            }
            namespaces.append(name)
        }
        if !namespaces.isEmpty { operations.append(.resolveNamespaces(namespaces)) }
        // Without a snapshot only a pod's interface is unknown: `any` and named ones need no reading.
        let streams: Resolved<[CaptureStream]>
        if snapshot == nil, plan.interfaces.capturesPodVeths {
            streams = .atApply
        } else {
            streams = .known(try StreamPlanner(plan: plan).local(namespaces, snapshot: snapshot, netns: netns))
        }
        operations.append(.resolveInterfaces(plan.interfaces, streams: streams, local: true))
        if case .path = plan.interfaces {
            operations.append(.readNodeState(snapshot.map { .known(NodeStateRead.reads(on: [nil], podAddresses: $0.pods.flatMap(\.ips))) } ?? .atApply))
        }
        return operations
    }

    /// The far ends a plan names for `interfaces: path`: its `toward` list, else the single addresses
    /// its expectations and stop condition name as peers. The local snapshot looks up their routes.
    public static func namedFarEnds(_ plan: Plan) -> [String] {
        if case .path(let toward) = plan.interfaces, !toward.isEmpty { return toward }
        let peers = plan.expectations.flatMap { [$0.from, $0.to] } + [plan.stop?.from]
        var addresses: [String] = []
        for case .network(let block)? in peers where block.prefixLength == block.address.bitCount {
            if !addresses.contains(block.address.description) { addresses.append(block.address.description) }
        }
        return addresses
    }

    /// Pods of the snapshot that the plan selects, in the plan's order; a pod named but missing is an error.
    public static func match(_ selections: [PodSelection], in snapshot: TargetSnapshot) throws(PlanningError) -> [TargetSnapshot.Pod] {
        var result: [TargetSnapshot.Pod] = []
        for selection in selections {
            let found = snapshot.pods.filter { $0.namespace == (selection.namespace ?? "") && selects(selection, $0) }
            if found.isEmpty {
                throw PlanningError(message: "no pod matches \(selection) in namespace \(selection.namespace ?? "default")")
            }
            for pod in found where !result.contains(where: { $0.namespace == pod.namespace && $0.name == pod.name }) {
                result.append(pod)
            }
        }
        return result
    }

    static func selects(_ selection: PodSelection, _ pod: TargetSnapshot.Pod) -> Bool {
        switch selection.match {
        case .name(let name): name == pod.name
        case .selector(let selector): selector.matches(pod.labels)
        }
    }

    /// The container capplan execs into in a pod: the plan's, else the pod's first.
    public static func container(of pod: TargetSnapshot.Pod, in selections: [PodSelection]) -> String? {
        let selection = selections.first { ($0.namespace ?? "") == pod.namespace && selects($0, pod) }
        return selection?.container ?? pod.containers.first
    }

    /// What `kubectl auth can-i` must allow for this plan, and nothing more: creating and deleting
    /// the helper namespace only when the snapshot shows it missing.
    public static func permissions(_ plan: Plan, access: KubernetesAccess, helperNamespaceMissing: Bool = false) -> [Permission] {
        var needed = [Permission(["get", "list"], "nodes")]
        let execIn = Set(plan.pods.compactMap(\.namespace)).union(execNamespaces(plan, access: access))
        for namespace in execIn.sorted() { needed.append(Permission(["get", "list"], "pods", in: namespace)) }
        if helperNamespaceMissing { needed.append(Permission(["create", "delete"], "namespaces")) }
        needed.append(Permission(["create", "delete", "get", "list"], "pods", in: access.helperNamespace))
        needed.append(Permission(["create"], "pods/exec", in: access.helperNamespace))
        for namespace in execIn.sorted() where namespace != access.helperNamespace {
            needed.append(Permission(["create"], "pods/exec", in: namespace))
        }
        if plan.target.isolation == .cordonOthers { needed.append(Permission(["patch"], "nodes")) }
        return needed
    }

    private static func execNamespaces(_ plan: Plan, access: KubernetesAccess) -> Set<String> {
        Set(plan.reproduce.compactMap { step in
            if case .exec(let pod, _, _) = step.action { return pod.namespace ?? access.namespace }
            return nil
        })
    }
}
