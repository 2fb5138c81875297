public import CapplanLoad

/// A fact about the target that is known now (from a snapshot) or only once `apply` looks.
public enum Resolved<Value: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    case known(Value)
    case atApply

    public var value: Value? { if case .known(let value) = self { value } else { nil } }
}

/// One thing `apply` will do, as a value: what it does, what it changes, and how that is undone.
public struct Step: Sendable, Codable, Equatable {
    public var number: Int
    public var operation: Operation

    /// What a step changes outside capplan's own run directory, and the undo that reverses it.
    public struct Change: Sendable, Codable, Equatable {
        public var what: String
        public var undo: String
    }

    public enum Operation: Sendable, Codable, Equatable {
        /// Kubernetes: the cluster answers and every permission the plan needs is granted.
        case preflight(permissions: [String])
        /// Pods by name and selector to IPs, containers and nodes.
        case resolvePods([PodSelection], namespaces: [String])
        /// Local target: network namespaces that play the pods.
        case resolveNamespaces([String])
        case chooseNodes(Resolved<[String]>, pinned: Bool)
        case cordon(Resolved<[String]>, keep: Resolved<[String]>)
        case deployHelper(nodes: Resolved<[String]>, namespace: String, image: String, privileged: Bool, deadline: PlanDuration)
        case resolveInterfaces(InterfaceSelection, found: Resolved<[String]>, local: Bool)
        case capture(filter: String, duration: PlanDuration, maxPackets: Int64?, maxBytes: ByteSize?, snaplen: Int, streamed: Bool)
        case reproduce(ReproduceStep)
        case stopWhen(StopCondition)
        case collect
        case redact(Redaction)
        case analyse(expectations: [Expectation])
        case report(directory: String)
    }

    public var change: Change? {
        switch operation {
        case .cordon(let nodes, _):
            return Change(what: "marks " + (nodes.value.map { $0.isEmpty ? "no node" : $0.joined(separator: ", ") }
                                            ?? "every other schedulable node") + " unschedulable",
                          undo: "uncordon exactly the nodes this step cordoned; a node cordoned before stays cordoned")
        case .deployHelper(let nodes, let namespace, _, _, let deadline):
            let on = nodes.value.map { $0.joined(separator: ", ") } ?? "each capture node"
            return Change(what: "creates a capture helper pod in \(namespace) on \(on); its deadline (activeDeadlineSeconds) stops it after \(deadline) even if capplan is killed",
                          undo: "delete the helper pod and wait until it is gone")
        case .reproduce(let step):
            if case .exec(let pod, _, _) = step.action {
                return Change(what: "runs a command in pod \(pod)", undo: "stop the command if it still runs")
            }
            return Change(what: "runs a command on this machine", undo: "stop the command if it still runs")
        default:
            return nil
        }
    }
}
