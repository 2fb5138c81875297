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
        return try streams.map { stream in
            guard let node = stream.node, let helper = helpers.first(where: { $0.node.value == node }) else {
                throw KubernetesError("no helper pod on the node of stream \(StepPrinter.streamSource(stream.source))")
            }
            if links[node] == nil { links[node] = IPLink.parse(try run(helper, ["ip", "-o", "link"], what: "list the interfaces of node \(node)")) }
            return (stream, try interface(stream, node: node, helper: helper, links: links[node] ?? [:]))
        }
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
            let route = try run(helper, ["ip", "-o", "route", "get", address], what: "read the node's route to \(address)")
            let words = route.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
            guard let at = words.firstIndex(of: "dev"), at + 1 < words.count else {
                throw KubernetesError("cannot find the interface of pod \(pod): its image shows no eth0 iflink and the node's route to \(address) names none (\(route))")
            }
            return ResolvedInterface(name: words[at + 1], method: "\(pod): no eth0 iflink in its image; the node's route to \(address) -> \(words[at + 1]), filtered to its addresses",
                                     node: node, pod: pod, extraFilter: stream.extraFilter)
        }
    }

    private func run(_ helper: HelperPod, _ command: [String], what: String) throws(KubernetesError) -> String {
        try kubectl.check(["exec", "-n", helper.namespace, helper.name, "-c", HelperPod.container, "--"] + command, timeout: 30, what: what)
    }
}
