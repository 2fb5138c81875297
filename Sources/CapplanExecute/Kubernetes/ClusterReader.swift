import CapplanLoad
import CapplanPlan
import Foundation

/// What the planner needs from a cluster, read the same way for `plan` and `apply`, with get,
/// list and auth can-i and a `cat` of eth0's iflink in each pod of the plan (kubectl exec,
/// which changes nothing): nodes, pods, services, the helper namespace.
public struct ClusterSnapshot: Sendable {
    public var snapshot: TargetSnapshot
    public var nodes: [ClusterObjects.Node]
    /// Pods of the plan's namespaces (and every namespace when the account may list them all).
    public var pods: [ClusterObjects.Pod]
    public var services: [ClusterObjects.Service]
    /// What the account could not read, and what that costs the summary.
    public var notes: [String]

    /// One line per node, for `plan`'s printout.
    public var nodeFacts: [String] {
        nodes.map { "node \($0.name): \($0.ready ? "Ready" : "NotReady")\($0.schedulable ? "" : ", cordoned")" }
    }

    public static func read(plan: Plan, kubectl: Kubectl, access: KubernetesAccess) throws(KubernetesError) -> ClusterSnapshot {
        let reader = ClusterReader(kubectl: kubectl, plan: plan, access: access)
        let nodes = try kubectl.get(ClusterObjects.List<ClusterObjects.Node>.self, ["nodes"], what: "list nodes").items
        var notes: [String] = []
        let pods = try reader.pods(notes: &notes)
        let services = reader.services(notes: &notes)
        var snapshot = TargetSnapshot(nodes: nodes.map { .init(name: $0.name, schedulable: $0.schedulable, ready: $0.ready) },
                                      pods: pods.map(\.snapshot), helperNamespace: try reader.helperNamespace())
        try reader.readPeers(&snapshot)
        return ClusterSnapshot(snapshot: snapshot, nodes: nodes, pods: pods, services: services, notes: notes)
    }
}

struct ClusterReader {
    let kubectl: Kubectl
    let plan: Plan
    let access: KubernetesAccess

    func pods(notes: inout [String]) throws(KubernetesError) -> [ClusterObjects.Pod] {
        if allowed(["auth", "can-i", "list", "pods", "--all-namespaces"]) {
            return try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self, ["pods", "--all-namespaces"], what: "list pods").items
        }
        var pods: [ClusterObjects.Pod] = []
        for namespace in Set(plan.pods.compactMap(\.namespace)).sorted() {
            pods += try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self, ["pods", "-n", namespace], what: "list pods in \(namespace)").items
        }
        notes.append("pods of other namespaces are not named in the summary: the account may not list pods in every namespace")
        return pods
    }

    func services(notes: inout [String]) -> [ClusterObjects.Service] {
        if allowed(["auth", "can-i", "list", "services", "--all-namespaces"]) {
            return (try? kubectl.get(ClusterObjects.List<ClusterObjects.Service>.self, ["services", "--all-namespaces"], what: "list services").items) ?? []
        }
        notes.append("services and load balancers are not named in the summary: the account may not list services")
        return []
    }

    /// The helper namespace and its PodSecurity level; when the account may not read it, it is taken to exist.
    func helperNamespace() throws(KubernetesError) -> TargetSnapshot.Namespace {
        let result = try kubectl.run(["get", "namespace", access.helperNamespace, "-o", "json"])
        if result.status == 0 {
            let namespace = try? JSONDecoder().decode(ClusterObjects.Namespace.self, from: Data(result.output.utf8))
            return .exists(podSecurity: namespace?.metadata.labels?["pod-security.kubernetes.io/enforce"])
        }
        return result.errors.contains("NotFound") ? .missing : .exists(podSecurity: nil)
    }

    /// eth0's iflink in each running pod of the plan, read in the container capplan will use (all
    /// pods at once: a selector may match many); left unset where the image cannot show it (no
    /// cat: distroless), so the planner takes the node's route instead.
    func readPeers(_ snapshot: inout TargetSnapshot) throws(KubernetesError) {
        guard plan.interfaces.capturesPodVeths, let matched = try? Planner.match(plan.pods, in: snapshot) else { return }
        let pods = matched.filter { $0.phase == "Running" && !$0.ips.isEmpty && !$0.hostNetwork }
        let arguments = pods.map { Self.iflinkArguments($0, container: Planner.container(of: $0, in: plan.pods)) }
        let kubectl = self.kubectl
        let answers = parallelMap(pods.count) { index in
            Result { () throws(KubernetesError) in try kubectl.run(arguments[index], timeout: 30) }
        }
        for (pod, answer) in zip(pods, answers) {
            let read = try answer.get()
            guard read.status == 0, let peer = Int(read.output.trimmingCharacters(in: .whitespacesAndNewlines)),
                  let at = snapshot.pods.firstIndex(where: { $0.namespace == pod.namespace && $0.name == pod.name }) else { continue }
            snapshot.pods[at].peerIndex = peer
        }
    }

    /// `exec ... cat /sys/class/net/eth0/iflink` in the container capplan uses (the runbook's step 3).
    static func iflinkArguments(_ pod: TargetSnapshot.Pod, container: String?) -> [String] {
        Kubectl.execArguments(namespace: pod.namespace, pod: pod.name, container: container, ["cat", "/sys/class/net/eth0/iflink"])
    }

    private func allowed(_ arguments: [String]) -> Bool {
        (try? kubectl.run(arguments, timeout: 30))?.output.trimmingCharacters(in: .whitespacesAndNewlines) == "yes"
    }
}
