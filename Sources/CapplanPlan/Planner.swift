public import CapplanLoad

/// Why a plan cannot be carried out on this target.
public struct PlanningError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) { self.message = message }
}

/// Plan: a pure function from a validated plan and (optionally) a snapshot of the
/// target to the ordered steps `apply` runs. Without a snapshot, facts that need
/// the target are `.atApply`; nothing here talks to anything.
public enum Planner {
    /// How long the helper pod may outlive the planned capture before the cluster removes it.
    public static let helperDeadlineMargin = PlanDuration.seconds(300)

    /// The helper pod's activeDeadlineSeconds: the longest the capture can last, plus the margin.
    public static func helperDeadline(_ plan: Plan) -> PlanDuration {
        PlanDuration(milliseconds: plan.capture.duration.milliseconds + (plan.stop?.grace.milliseconds ?? 0) + helperDeadlineMargin.milliseconds)
    }

    public static func steps(for plan: Plan, snapshot: TargetSnapshot? = nil) throws(PlanningError) -> [Step] {
        var operations: [Step.Operation] = []
        switch plan.target.kind {
        case .kubernetes(let access):
            operations += try kubernetesSetup(plan, access: access, snapshot: snapshot)
        case .local:
            operations += localSetup(plan)
        }
        operations.append(.capture(filter: plan.capture.filter, duration: plan.capture.duration,
                                   maxPackets: plan.capture.maxPackets, maxBytes: plan.capture.maxBytes,
                                   snaplen: plan.capture.snaplen, streamed: plan.target.isKubernetes))
        operations += plan.reproduce.sorted { $0.at < $1.at }.map(Step.Operation.reproduce)
        if let stop = plan.stop { operations.append(.stopWhen(stop)) }
        operations.append(.collect)
        operations.append(.redact(plan.redaction))
        operations.append(.analyse(expectations: plan.expectations))
        operations.append(.report(directory: plan.outputDirectory))
        return operations.enumerated().map { Step(number: $0.offset + 1, operation: $0.element) }
    }

    private static func localSetup(_ plan: Plan) -> [Step.Operation] {
        var operations: [Step.Operation] = []
        let namespaces = plan.pods.compactMap { pod -> String? in
            if case .name(let name) = pod.match { return name }
            return nil
        }
        if !namespaces.isEmpty { operations.append(.resolveNamespaces(namespaces)) }
        operations.append(.resolveInterfaces(plan.interfaces, found: namedInterfaces(plan.interfaces), local: true))
        return operations
    }

    private static func kubernetesSetup(_ plan: Plan, access: KubernetesAccess, snapshot: TargetSnapshot?) throws(PlanningError) -> [Step.Operation] {
        let cordoning = plan.target.isolation == .cordonOthers
        var operations: [Step.Operation] = [.preflight(permissions: permissions(plan, access: access).map(\.description))]
        var matched: [TargetSnapshot.Pod] = []
        if !plan.pods.isEmpty {
            let namespaces = Array(Set(plan.pods.compactMap(\.namespace))).sorted()
            operations.append(.resolvePods(plan.pods, namespaces: namespaces))
            if let snapshot { matched = try match(plan.pods, in: snapshot) }
        }

        let nodes: Resolved<[String]>
        if let pinned = plan.target.node {
            if let snapshot, !snapshot.nodes.contains(where: { $0.name == pinned }) {
                throw PlanningError(message: "node \(pinned) does not exist; nodes: \(snapshot.nodes.map(\.name).joined(separator: ", "))")
            }
            nodes = .known([pinned])
        } else if snapshot != nil {
            let podNodes = Array(Set(matched.compactMap(\.node))).sorted()
            if podNodes.isEmpty {
                throw PlanningError(message: "no pod of the plan is scheduled on a node yet; set target.node or wait for the pods")
            }
            nodes = .known(podNodes)
        } else {
            nodes = .atApply
        }
        operations.append(.chooseNodes(nodes, pinned: plan.target.node != nil))

        if cordoning {
            let others: Resolved<[String]> = switch (nodes, snapshot) {
            case (.known(let keep), let snapshot?):
                .known(snapshot.nodes.filter { $0.schedulable && !keep.contains($0.name) }.map(\.name))
            default: .atApply
            }
            operations.append(.cordon(others, keep: nodes))
        }
        operations.append(.deployHelper(nodes: nodes, namespace: access.helperNamespace, image: plan.capture.helperImage,
                                        privileged: plan.capture.privileged, deadline: helperDeadline(plan)))
        let found: Resolved<[String]>
        if case .pods = plan.interfaces, snapshot != nil {
            let known = matched.compactMap(\.hostInterface)
            found = known.count == matched.count ? .known(known) : .atApply
        } else {
            found = namedInterfaces(plan.interfaces)
        }
        operations.append(.resolveInterfaces(plan.interfaces, found: found, local: false))
        return operations
    }

    private static func namedInterfaces(_ selection: InterfaceSelection) -> Resolved<[String]> {
        switch selection {
        case .any: .known(["any"])
        case .named(let names): .known(names)
        case .pods: .atApply
        }
    }

    /// Pods of the snapshot that the plan selects; a pod named but missing is an error.
    public static func match(_ selections: [PodSelection], in snapshot: TargetSnapshot) throws(PlanningError) -> [TargetSnapshot.Pod] {
        var result: [TargetSnapshot.Pod] = []
        for selection in selections {
            let inNamespace = snapshot.pods.filter { $0.namespace == selection.namespace }
            let found: [TargetSnapshot.Pod]
            switch selection.match {
            case .name(let name): found = inNamespace.filter { $0.name == name }
            case .selector(let selector): found = inNamespace.filter { selector.matches($0.labels) }
            }
            if found.isEmpty {
                throw PlanningError(message: "no pod matches \(selection) in namespace \(selection.namespace ?? "default")")
            }
            for pod in found where !result.contains(where: { $0.namespace == pod.namespace && $0.name == pod.name }) {
                result.append(pod)
            }
        }
        return result
    }

    /// What `kubectl auth can-i` must allow for this plan, and nothing more.
    public static func permissions(_ plan: Plan, access: KubernetesAccess) -> [Permission] {
        var needed = [Permission(["get", "list"], "nodes")]
        let podNamespaces = Set(plan.pods.compactMap(\.namespace))
        let execIn = podNamespaces.union(execNamespaces(plan, access: access))
        for namespace in execIn.sorted() { needed.append(Permission(["get", "list"], "pods", in: namespace)) }
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
