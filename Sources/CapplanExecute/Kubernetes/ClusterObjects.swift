import CapplanPlan

/// The parts of Kubernetes API objects capplan reads (kubectl get -o json), nothing more.
/// Every field is optional: clusters and versions leave different ones out.
public enum ClusterObjects {
    public struct List<Item: Decodable & Sendable>: Decodable, Sendable {
        public var items: [Item]
    }

    public struct Metadata: Decodable, Sendable {
        public var name: String
        public var namespace: String?
        public var labels: [String: String]?
        public var annotations: [String: String]?
        /// Set while the object is being deleted.
        public var deletionTimestamp: String?
    }

    public struct Node: Decodable, Sendable {
        public struct Spec: Decodable, Sendable {
            public var unschedulable: Bool?
            public var taints: [Taint]?
            public var podCIDR: String?
        }
        public struct Taint: Decodable, Sendable {
            public var key: String
            public var value: String?
            public var effect: String
        }
        public struct Status: Decodable, Sendable {
            public var conditions: [Condition]?
            public var addresses: [Address]?
        }
        public struct Address: Decodable, Sendable {
            public var type: String
            public var address: String
        }
        public var metadata: Metadata
        public var spec: Spec?
        public var status: Status?

        public var name: String { metadata.name }
        public var schedulable: Bool { !(spec?.unschedulable ?? false) }
        public var ready: Bool { status?.conditions?.first { $0.type == "Ready" }?.status == "True" }
    }

    public struct Condition: Decodable, Sendable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
    }

    public struct Pod: Decodable, Sendable {
        public struct Spec: Decodable, Sendable {
            public var nodeName: String?
            public var hostNetwork: Bool?
            public var containers: [Container]?
        }
        public struct Container: Decodable, Sendable {
            public var name: String
        }
        public struct Status: Decodable, Sendable {
            public var phase: String?
            public var podIP: String?
            public var podIPs: [IP]?
            public var hostIP: String?
            public var conditions: [Condition]?
            public var containerStatuses: [ContainerStatus]?
            public var reason: String?
            public var message: String?
        }
        public struct IP: Decodable, Sendable {
            public var ip: String
        }
        public struct ContainerStatus: Decodable, Sendable {
            public struct State: Decodable, Sendable {
                public struct Waiting: Decodable, Sendable {
                    public var reason: String?
                    public var message: String?
                }
                public struct Terminated: Decodable, Sendable {
                    public var reason: String?
                    public var exitCode: Int?
                    public var message: String?
                }
                public var waiting: Waiting?
                public var terminated: Terminated?
            }
            public var name: String
            public var ready: Bool?
            public var state: State?
        }
        public var metadata: Metadata
        public var spec: Spec?
        public var status: Status?

        public var name: String { metadata.name }
        public var namespace: String { metadata.namespace ?? "default" }
        /// Every address of the pod (IPv4 and IPv6 on dual-stack clusters).
        public var ips: [String] {
            let all = (status?.podIPs?.map(\.ip) ?? []) + (status?.podIP.map { [$0] } ?? [])
            return all.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        }
        public var ready: Bool { status?.conditions?.first { $0.type == "Ready" }?.status == "True" }
        /// As the planner sees it (eth0's peer index is read separately, in the pod).
        public var snapshot: TargetSnapshot.Pod {
            TargetSnapshot.Pod(namespace: namespace, name: name, labels: metadata.labels ?? [:], ips: ips, node: spec?.nodeName,
                               phase: status?.phase, reason: status?.reason, containers: spec?.containers?.map(\.name) ?? [],
                               hostNetwork: spec?.hostNetwork ?? false)
        }
    }

    public struct Service: Decodable, Sendable {
        public struct Spec: Decodable, Sendable {
            public var type: String?
            public var clusterIP: String?
            public var clusterIPs: [String]?
            public var externalIPs: [String]?
            public var loadBalancerIP: String?
        }
        public struct Status: Decodable, Sendable {
            public struct LoadBalancer: Decodable, Sendable {
                public struct Ingress: Decodable, Sendable {
                    public var ip: String?
                    public var hostname: String?
                }
                public var ingress: [Ingress]?
            }
            public var loadBalancer: LoadBalancer?
        }
        public var metadata: Metadata
        public var spec: Spec?
        public var status: Status?
    }

    public struct Namespace: Decodable, Sendable {
        public var metadata: Metadata
    }
}
