import CapplanPlan
import Foundation

/// The names behind the planner's capture streams on a node, read through the node's helper
/// (on the node's network): a pod's veth by eth0's iflink, the interface of the node's route,
/// a named interface that must exist. Nothing is decided here: a stream whose interface is not
/// there is an error that says so.
struct NodeInterfaces {
    let kubectl: Kubectl

    func resolve(_ streams: [CaptureStream], helpers: [HelperPod]) throws -> [(stream: CaptureStream, interface: ResolvedInterface)] {
        var links: [String: [Int: String]] = [:]
        var resolved: [(stream: CaptureStream, interface: ResolvedInterface)] = []
        for stream in streams {
            guard let node = stream.node, let helper = helpers.first(where: { $0.node.value == node }) else {
                throw KubernetesError("no helper pod on the node of stream \(StepPrinter.streamSource(stream.source))")
            }
            if links[node] == nil { links[node] = IPLink.parse(try kubectl.checkInHelper(helper, ["ip", "-o", "link"], what: "list the interfaces of node \(node)")) }
            let interface = try interface(stream, node: node, helper: helper, links: links[node] ?? [:])
            // Two far ends behind one route: the same uplink, captured once.
            if interface.uplink, let at = resolved.firstIndex(where: { $0.interface.uplink && $0.interface.point == interface.point }) {
                resolved[at].interface.method += "; also toward \(stream.source.toward.joined(separator: ", "))"
                continue
            }
            resolved.append((stream, interface))
        }
        return resolved
    }

    private func interface(_ stream: CaptureStream, node: String, helper: HelperPod, links: [Int: String]) throws -> ResolvedInterface {
        switch stream.source {
        case .any:
            return ResolvedInterface(name: "any", method: "any: every interface of the node, without capplan's own stream",
                                     node: node, extraFilter: stream.extraFilter)
        case .named(let name):
            guard links.values.contains(name) else {
                throw KubernetesError("interface \(name) does not exist on node \(node); it has \(links.values.sorted().joined(separator: ", "))")
            }
            return ResolvedInterface(name: name, method: "named in the plan, without capplan's own stream", node: node, extraFilter: stream.extraFilter)
        case .podPeer(let pod, let index, _):
            guard let name = links[index] else {
                throw KubernetesError("pod \(pod)'s eth0 peer (interface \(index)) is not on node \(node): the pod's network is not the node's; "
                                      + "capture it with interfaces: any")
            }
            return ResolvedInterface(name: name, method: "\(pod): eth0 iflink \(index) -> \(name) (kubectl exec cat)", node: node, pod: pod)
        case .podRoute(let pod, let address):
            let (device, route) = try routeDevice(helper, toward: address)
            guard let device else {
                throw KubernetesError("cannot find the interface of pod \(pod): its image shows no eth0 iflink and the node's route to \(address) names none (\(route))")
            }
            return ResolvedInterface(name: device, method: "\(pod): no eth0 iflink in its image; the node's route to \(address) -> \(device), filtered to its addresses",
                                     node: node, pod: pod, extraFilter: stream.extraFilter)
        case .uplink(let toward, _):
            let address = toward.first ?? ""
            let (device, route) = try routeDevice(helper, toward: address)
            guard let device else {
                throw KubernetesError("node \(node) has no route toward \(address) (\(route)): the path's uplink is the interface of that route")
            }
            return ResolvedInterface(name: device, method: "uplink: the node's route toward \(toward.joined(separator: ", ")) -> \(device)",
                                     node: node, uplink: true, extraFilter: stream.extraFilter)
        }
    }

    /// The interface of the node's route toward `address`, as `ip -o route get` in the helper names it.
    private func routeDevice(_ helper: HelperPod, toward address: String) throws(KubernetesError) -> (device: String?, route: String) {
        let route = try kubectl.checkInHelper(helper, ["ip", "-o", "route", "get", address], what: "read the node's route toward \(address)")
        return (IPLink.device(inRoute: route), route)
    }
}
