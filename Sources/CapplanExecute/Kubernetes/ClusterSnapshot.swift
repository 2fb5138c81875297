import CapplanLoad
import CapplanPlan
import Foundation

/// `capplan plan` against a live cluster: the facts apply would find, read with get, list and
/// a `cat` in each pod (kubectl exec, which changes nothing): nodes, pod IPs and nodes, each
/// pod's eth0 peer index, and the helper pod manifest apply would create.
public struct ClusterSnapshot {
    public var snapshot: TargetSnapshot
    /// One line per fact, for the printout.
    public var facts: [String]
    public var manifests: [String]

    public static func read(plan: Plan, access: KubernetesAccess) throws(KubernetesError) -> ClusterSnapshot {
        let kubectl = Kubectl(access)
        try kubectl.requireAnswer(access)
        let nodes = try kubectl.get(ClusterObjects.List<ClusterObjects.Node>.self, ["nodes"], what: "list nodes").items
        var pods: [ClusterObjects.Pod] = []
        for namespace in Set(plan.pods.compactMap(\.namespace)).sorted() {
            pods += try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self, ["pods", "-n", namespace], what: "list pods in \(namespace)").items
        }
        var snapshot = TargetSnapshot(
            nodes: nodes.map { .init(name: $0.name, schedulable: $0.schedulable, ready: $0.ready) },
            pods: pods.map(\.snapshot))
        var facts = nodes.map { "node \($0.name): \($0.ready ? "Ready" : "NotReady")\($0.schedulable ? "" : ", cordoned")" }
        let matched = (try? Planner.match(plan.pods, in: snapshot)) ?? []
        for pod in matched {
            var line = "pod \(pod.namespace)/\(pod.name): \(pod.ip ?? "no IP") on \(pod.node ?? "no node")"
            if case .pods = plan.interfaces, pod.ip != nil {
                let read = try kubectl.run(["exec", "-n", pod.namespace, pod.name, "--", "cat", "/sys/class/net/eth0/iflink"], timeout: 20)
                if read.status == 0, let index = Int(read.output.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    line += "; eth0's peer is interface \(index) on its node (apply reads its name there through the helper pod)"
                } else {
                    line += "; eth0's peer index unreadable (\(Kubectl.message(read.errors))): apply will use the node's route to \(pod.ip ?? "")"
                }
            }
            facts.append(line)
        }
        // Only pods that are scheduled count towards the capture nodes.
        snapshot.pods = snapshot.pods.filter { $0.node != nil || !matched.contains($0) }
        let steps = (try? Planner.steps(for: plan, snapshot: snapshot)) ?? []
        var manifests: [String] = []
        for step in steps {
            guard case .deployHelper(let nodes, let namespace, _, _, let deadline) = step.operation, let names = nodes.value else { continue }
            for (index, node) in names.enumerated() {
                let helper = HelperPod(run: "RUNID", index: index + 1, plan: plan, namespace: namespace, node: node,
                                       deadlineSeconds: Int(deadline.seconds.rounded(.up)))
                manifests.append(helper.manifest)
            }
        }
        return ClusterSnapshot(snapshot: snapshot, facts: facts, manifests: manifests)
    }
}
