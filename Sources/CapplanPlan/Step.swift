public import CapplanLoad

/// A fact about the target that is known now (from a snapshot) or only once `apply` looks.
public enum Resolved<Value: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    case known(Value)
    case atApply

    public var value: Value? { if case .known(let value) = self { value } else { nil } }
}

/// A pod of the plan as the planner found it in the snapshot.
public struct PodFact: Sendable, Codable, Equatable {
    public var namespace: String
    public var name: String
    public var ips: [String]
    public var node: String?
    /// The container capplan execs into (the plan's, else the pod's first).
    public var container: String?
    /// eth0's iflink read in the pod (the index of its host-side peer); nil when unreadable (no cat).
    public var peerIndex: Int?

    public init(namespace: String, name: String, ips: [String], node: String?, container: String?, peerIndex: Int?) {
        self.namespace = namespace
        self.name = name
        self.ips = ips
        self.node = node
        self.container = container
        self.peerIndex = peerIndex
    }

    public var full: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// One tcpdump (Kubernetes) or libpcap handle (local): where it captures and with which filter.
public struct CaptureStream: Sendable, Codable, Equatable {
    public enum Source: Sendable, Codable, Equatable {
        /// Every interface (Linux cooked capture).
        case any
        case named(String)
        /// The pod's host-side veth: the interface whose index is the pod's eth0 iflink. Its name
        /// is known at planning on this machine; on a node the helper reads it at apply.
        case podPeer(pod: String, index: Int, name: String?)
        /// The interface of the node's route to the pod's address (its image could not show
        /// eth0's iflink, e.g. distroless); read through the helper at apply.
        case podRoute(pod: String, address: String)
        /// A node's uplink on the path: the interface of its route toward the far ends. Named at
        /// planning on this machine (one stream per interface); on a node the helper reads it at apply.
        case uplink(toward: [String], name: String?)
    }

    /// The node it runs on (Kubernetes); nil on this machine.
    public var node: String?
    public var source: Source
    /// What the planner added to the plan's filter for this stream, and why it is there.
    public var extraFilter: String?
    /// The filter tcpdump or libpcap gets, whole.
    public var filter: String

    public init(node: String?, source: Source, extraFilter: String?, filter: String) {
        self.node = node
        self.source = source
        self.extraFilter = extraFilter
        self.filter = filter
    }

    public var pod: String? {
        switch source {
        case .podPeer(let pod, _, _), .podRoute(let pod, _): pod
        case .any, .named, .uplink: nil
        }
    }

    /// Whether it is a node's uplink on a path (the outside of the node), not a pod's veth.
    public var isUplink: Bool { if case .uplink = source { true } else { false } }
}

extension CaptureStream.Source {
    /// The far ends an uplink leads toward; empty for every other source.
    public var toward: [String] { if case .uplink(let toward, _) = self { toward } else { [] } }
}

/// One thing `apply` will do, as a value: what it does, what it changes, and how that is undone.
public struct Step: Sendable, Codable, Equatable {
    public var number: Int
    public var operation: Operation

    public enum Operation: Sendable, Codable, Equatable {
        /// Kubernetes: every permission the plan needs is granted (kubectl auth can-i).
        case preflight(permissions: [Permission])
        /// Pods by name and selector to IPs, containers and nodes.
        case resolvePods([PodSelection], found: Resolved<[PodFact]>)
        /// Local target: network namespaces that play the pods.
        case resolveNamespaces([String])
        case chooseNodes(Resolved<[String]>, pinned: Bool, notes: [String])
        /// The helper namespace does not exist: create it, labelled as capplan's and PodSecurity-privileged.
        case createNamespace(String)
        case cordon(Resolved<[String]>, keep: Resolved<[String]>, mark: String)
        case deployHelper(HelperPod)
        case resolveInterfaces(InterfaceSelection, streams: Resolved<[CaptureStream]>, local: Bool)
        /// `interfaces: path`: each node's rule counters and conntrack entries, at the capture's start and stop.
        case readNodeState(Resolved<[NodeStateRead]>)
        case capture(filter: String, duration: PlanDuration, maxPackets: Int64?, maxBytes: ByteSize?, snaplen: Int, streamed: Bool,
                     bufferSize: ByteSize? = nil)
        /// `capture.keep`: only the windows around each event reach the file; the rest waits in a ring and goes.
        case keepWindows(KeepWindows)
        /// A reproduce command and the exact argv that runs it.
        case reproduce(ReproduceStep, argv: [String])
        case stopWhen(StopCondition)
        case collect
        case redact(Redaction)
        case analyse(expectations: [Expectation])
        /// The run directory and the capture file's format.
        case report(directory: String, capture: CaptureFileFormat)
    }

    public init(number: Int, operation: Operation) {
        self.number = number
        self.operation = operation
    }

    /// How this step's change is reversed; nil for a step that changes nothing outside the run directory.
    public var undo: Undo? {
        switch operation {
        case .createNamespace(let name): .deleteNamespace(name)
        case .cordon(let nodes, _, let mark): .uncordon(nodes: nodes, mark: mark)
        case .deployHelper(let helper): .deletePod(namespace: helper.namespace, name: helper.name)
        case .reproduce(_, let argv): .stopProcess(command: argv, process: nil)
        default: nil
        }
    }

    /// What the step changes outside capplan's run directory, in words.
    public var change: String? {
        switch operation {
        case .createNamespace(let name):
            "creates namespace \(name), labelled \(HelperPod.managedBy) and pod-security.kubernetes.io/enforce=privileged"
        case .cordon(let nodes, _, let mark):
            "marks " + (nodes.value.map { $0.isEmpty ? "no node" : $0.joined(separator: ", ") } ?? "every other schedulable node")
                + " unschedulable, annotated \(Planner.cordonMark)=\(mark)"
        case .deployHelper(let helper):
            "creates pod \(helper.namespace)/\(helper.name) on \(helper.node.value ?? "the capture node"); its deadline "
                + "(activeDeadlineSeconds \(helper.deadlineSeconds)) stops it even if capplan is killed"
        case .reproduce(let step, _):
            if case .exec(let pod, _, _) = step.action { "runs a command in pod \(pod)" } else { "runs a command on this machine" }
        default:
            nil
        }
    }
}
