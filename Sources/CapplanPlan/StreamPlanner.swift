import CapplanLoad

/// Where each capture stream reads and with which whole filter: the plan's filter, plus what a
/// stream needs on top (capplan's own traffic left out on node interfaces; one pod's addresses
/// on an interface found by route, which may be a bridge that carries other pods too).
struct StreamPlanner {
    let plan: Plan

    /// On a node: per pod its veth (by iflink) or its route; `any` and named interfaces per node.
    func kubernetes(_ pods: [PodFact], nodes: [String]) throws(PlanningError) -> [CaptureStream] {
        var streams: [CaptureStream] = []
        for node in nodes {
            switch plan.interfaces {
            case .any:
                streams.append(stream(node, .any, extra: Self.ownStreamExclusion(for: "any")))
            case .named(let names):
                streams += names.map { stream(node, $0 == "any" ? .any : .named($0), extra: Self.ownStreamExclusion(for: $0)) }
            case .pods, .path:
                for pod in pods where pod.node == node {
                    let found = try podStream(pod, node: node)
                    if !streams.contains(found) { streams.append(found) }
                }
                if case .path = plan.interfaces, pods.contains(where: { $0.node == node }) {
                    streams += try farEnds(from: node, pods: pods).map {
                        stream(node, .uplink(toward: [$0], name: nil), extra: Self.ownStreamExclusion(for: "uplink"))
                    }
                }
            }
        }
        guard !streams.isEmpty else { throw PlanningError(message: "no interface to capture on: no pod of the plan runs on the capture node") }
        return streams
    }

    /// Where a node's path leads: the plan's `toward`, else the addresses its expectations and stop
    /// condition name, and the plan's pods on other nodes. Each is the destination of one route lookup.
    func farEnds(from node: String?, pods: [PodFact]) throws(PlanningError) -> [String] {
        var addresses = Planner.namedFarEnds(plan)
        if case .path(let toward) = plan.interfaces, toward.isEmpty {
            for pod in pods where pod.node != node {
                if let address = pod.ips.first, !addresses.contains(address) { addresses.append(address) }
            }
        }
        guard !addresses.isEmpty else {
            throw PlanningError(message: "interfaces: path needs to know where the path leads: name the far end with "
                                + "interfaces: {path: {toward: [ADDRESS]}}, or an address in expect (to: ADDRESS)")
        }
        return addresses
    }

    private func podStream(_ pod: PodFact, node: String) throws(PlanningError) -> CaptureStream {
        if let index = pod.peerIndex {
            return stream(node, .podPeer(pod: pod.full, index: index, name: nil), extra: nil)
        }
        guard let address = pod.ips.first else { throw PlanningError(message: "pod \(pod.full) has no IP") }
        // A route may lead to a bridge that carries every pod on it: only this pod's addresses.
        return stream(node, .podRoute(pod: pod.full, address: address), extra: pod.ips.map { "host \($0)" }.joined(separator: " or "))
    }

    /// On this machine: every name is known from the snapshot (needed for pods; named interfaces
    /// are checked against it when there is one).
    func local(_ namespaces: [String], snapshot: TargetSnapshot?, netns: String?) throws(PlanningError) -> [CaptureStream] {
        let inside = netns.map { " in network namespace \($0)" } ?? ""
        switch plan.interfaces {
        case .any:
            return [stream(nil, .any, extra: nil)]
        case .named(let names):
            if let links = snapshot?.links {
                for name in names where name != "any" && !links.contains(name) {
                    throw PlanningError(message: "interface \(name) does not exist\(inside); known: \(links.sorted().joined(separator: ", "))")
                }
            }
            return names.map { stream(nil, $0 == "any" ? .any : .named($0), extra: nil) }
        case .path:
            let veths = try podVeths(namespaces, snapshot: snapshot, inside: inside)
            var uplinks: [(name: String, toward: [String])] = []
            for address in try farEnds(from: nil, pods: []) {
                guard let name = snapshot?.routes?[address] else {
                    throw PlanningError(message: "no route toward \(address)\(inside): the path's uplink is the interface of that route")
                }
                if let at = uplinks.firstIndex(where: { $0.name == name }) { uplinks[at].toward.append(address) } else { uplinks.append((name, [address])) }
            }
            return veths + uplinks.map { stream(nil, .uplink(toward: $0.toward, name: $0.name), extra: nil) }
        case .pods:
            return try podVeths(namespaces, snapshot: snapshot, inside: inside)
        }
    }

    private func podVeths(_ namespaces: [String], snapshot: TargetSnapshot?, inside: String) throws(PlanningError) -> [CaptureStream] {
        try namespaces.map { namespace throws(PlanningError) in
                guard let pod = snapshot?.pods.first(where: { $0.name == namespace }), let index = pod.peerIndex else {
                    throw PlanningError(message: "cannot read eth0's iflink in network namespace \(namespace): is it a pod of the lab (ip netns list)?")
                }
                guard let name = pod.peerName else {
                    throw PlanningError(message: "no interface with index \(index) (eth0's peer of \(namespace))\(inside)")
                }
                return stream(nil, .podPeer(pod: namespace, index: index, name: name), extra: nil)
        }
    }

    private func stream(_ node: String?, _ source: CaptureStream.Source, extra: String?) -> CaptureStream {
        let filter = extra.map { extra in plan.capture.filter.isEmpty ? extra : "(\(plan.capture.filter)) and (\(extra))" } ?? plan.capture.filter
        return CaptureStream(node: node, source: source, extraFilter: extra, filter: filter)
    }

    /// The capture leaves the node through the kubelet (port 10250) and the container runtime's
    /// streaming server (loopback): captured again, every packet would make more packets. A pod's
    /// veth never sees that traffic; a node interface does.
    static func ownStreamExclusion(for interface: String) -> String {
        let loopback = "tcp and ((src host 127.0.0.1 and dst host 127.0.0.1) or (src host ::1 and dst host ::1))"
        return interface == "any" || interface == "lo" ? "not (tcp port 10250 or (\(loopback)))" : "not tcp port 10250"
    }
}
