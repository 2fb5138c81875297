/// A read-only view of the target at planning time. `capplan plan` offline has none;
/// against a cluster it is read with get/list calls only.
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
        public var namespace: String
        public var name: String
        public var labels: [String: String]
        public var ip: String?
        public var node: String?
        /// The host-side interface, when already known.
        public var hostInterface: String?

        public init(namespace: String, name: String, labels: [String: String] = [:], ip: String? = nil,
                    node: String? = nil, hostInterface: String? = nil) {
            self.namespace = namespace
            self.name = name
            self.labels = labels
            self.ip = ip
            self.node = node
            self.hostInterface = hostInterface
        }
    }

    public var nodes: [Node]
    public var pods: [Pod]

    public init(nodes: [Node], pods: [Pod]) {
        self.nodes = nodes
        self.pods = pods
    }
}
