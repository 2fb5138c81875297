/// A read-only view of the target at planning time: everything the planner decides from.
/// `capplan plan --offline` has none; `plan` and `apply` read it the same way (get, list,
/// auth can-i and a `cat` in each pod on a cluster; `ip` on this machine).
public struct TargetSnapshot: Sendable, Codable, Equatable {
    public struct Node: Sendable, Codable, Equatable {
        public var name: String
        public var schedulable: Bool
        public var ready: Bool

        public init(name: String, schedulable: Bool, ready: Bool) {
            self.name = name
            self.schedulable = schedulable
            self.ready = ready
        }
    }

    public struct Pod: Sendable, Codable, Equatable {
        /// The Kubernetes namespace; empty on the local target, where a pod is a network namespace.
        public var namespace: String
        public var name: String
        public var labels: [String: String]
        public var ips: [String]
        public var node: String?
        /// Pending, Running, ... (nil when unknown: the local target).
        public var phase: String?
        public var reason: String?
        public var containers: [String]
        public var hostNetwork: Bool
        /// eth0's iflink read inside the pod: the index of its host-side peer; nil when unreadable.
        public var peerIndex: Int?
        /// The interface with that index, where the planner can know it (the local target).
        public var peerName: String?

        public init(namespace: String, name: String, labels: [String: String] = [:], ips: [String] = [], node: String? = nil,
                    phase: String? = "Running", reason: String? = nil, containers: [String] = [], hostNetwork: Bool = false,
                    peerIndex: Int? = nil, peerName: String? = nil) {
            self.namespace = namespace
            self.name = name
            self.labels = labels
            self.ips = ips
            self.node = node
            self.phase = phase
            self.reason = reason
            self.containers = containers
            self.hostNetwork = hostNetwork
            self.peerIndex = peerIndex
            self.peerName = peerName
        }

        public var full: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
    }

    /// The helper namespace as the cluster has it.
    public enum Namespace: Sendable, Codable, Equatable {
        case missing
        /// Its PodSecurity `enforce` level, if labelled.
        case exists(podSecurity: String?)
    }

    public var nodes: [Node]
    public var pods: [Pod]
    /// Nil on the local target.
    public var helperNamespace: Namespace?
    /// The capture host's interfaces (the local target; a node's are read through its helper at apply).
    public var links: [String]?
    /// The capture host's route toward each far end of a path: address -> interface (the local target).
    public var routes: [String: String]?

    public init(nodes: [Node] = [], pods: [Pod] = [], helperNamespace: Namespace? = nil, links: [String]? = nil, routes: [String: String]? = nil) {
        self.nodes = nodes
        self.pods = pods
        self.helperNamespace = helperNamespace
        self.links = links
        self.routes = routes
    }
}
