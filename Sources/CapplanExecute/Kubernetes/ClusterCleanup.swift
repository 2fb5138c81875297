import CapplanPlan
import Foundation

/// `capplan cleanup --cluster`: what killed runs left on a cluster, found by capplan's labels
/// and marks rather than by a journal: helper pods (label app.kubernetes.io/managed-by=capplan),
/// nodes cordoned by a run (annotation capplan.dev/cordoned-by), and helper namespaces capplan
/// created once they hold no helper. Optionally one run's pods and cordons only.
public enum ClusterCleanup {
    public static func run(_ kubectl: Kubectl, runID: String?, say: (String) -> Void) throws(KubernetesError) -> Int {
        var actions = 0
        let selector = HelperPod.managedBy + (runID.map { ",\(HelperPod.runLabel)=\($0)" } ?? "")
        let pods = try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self, ["pods", "--all-namespaces", "-l", selector],
                                   what: "list capplan's helper pods").items
        for pod in pods {
            // A killed run's streams may still be open (its kubectl exec processes live on where it
            // ran): ending the tcpdumps ends them, or the pod waits on them to go away.
            TcpdumpStreams.interruptTcpdump(namespace: pod.namespace, pod: pod.name, kubectl: kubectl)
            let outcome = kubectl.deletePod(namespace: pod.namespace, name: pod.name)
            say(outcome.description)
            if outcome.changedSomething { actions += 1 }
        }
        let nodes = try kubectl.get(ClusterObjects.List<ClusterObjects.Node>.self, ["nodes"], what: "list nodes").items
        for node in nodes {
            guard let mark = node.metadata.annotations?[Planner.cordonMark], runID == nil || mark == runID else { continue }
            let outcome = kubectl.uncordon(node: node.name, run: mark)
            say(outcome.description)
            if outcome.changedSomething { actions += 1 }
        }
        let namespaces = try kubectl.get(ClusterObjects.List<ClusterObjects.Namespace>.self, ["namespaces", "-l", HelperPod.managedBy],
                                         what: "list capplan's namespaces").items
        for namespace in namespaces {
            let outcome = kubectl.deleteNamespace(namespace.metadata.name)
            if outcome.changedSomething { actions += 1 }
            say(outcome.description)
        }
        return actions
    }
}
