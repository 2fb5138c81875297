import CapplanLoad
import CapplanPlan
import Foundation

/// Before anything changes: the cluster answers, the account may do everything the plan
/// needs (`kubectl auth can-i`, all of it asked, every refusal listed with the RBAC rules that
/// would grant it), and the nodes, pods and helper namespace are as the plan needs them.
/// Only get, list and can-i calls.
struct Preflight {
    let kubectl: Kubectl
    let plan: Plan
    let access: KubernetesAccess

    /// What the cluster looked like when checked.
    struct Cluster {
        var nodes: [ClusterObjects.Node]
        /// Pods of the plan's namespaces (and every namespace when the account may list them all).
        var pods: [ClusterObjects.Pod]
        var services: [ClusterObjects.Service]
        /// Nil when the helper namespace does not exist yet.
        var helperNamespace: ClusterObjects.Namespace?
        var notes: [String]
    }

    func check(note: (String) -> Void) throws(KubernetesError) -> Cluster {
        try kubectl.requireAnswer(access)
        let needed = Planner.permissions(plan, access: access)
        let refused = refusedPermissions(needed)
        guard refused.isEmpty else {
            throw KubernetesError("""
                the account is not allowed to do everything this plan needs; missing:
                \(refused.map { "  - \($0.description)" }.joined(separator: "\n"))
                Nothing was changed. Grant them (deploy/rbac.yaml has a minimal ClusterRole), e.g.:
                \(Self.rbacSnippet(refused))
                """)
        }
        note("permissions: all \(needed.count) checked with kubectl auth can-i")
        var notes: [String] = []
        let nodes = try kubectl.get(ClusterObjects.List<ClusterObjects.Node>.self, ["nodes"], what: "list nodes").items
        if let pinned = plan.target.node {
            guard let node = nodes.first(where: { $0.name == pinned }) else {
                throw KubernetesError("node \(pinned) (target.node) does not exist; nodes: \(nodes.map(\.name).joined(separator: ", "))")
            }
            guard node.ready else { throw KubernetesError("node \(pinned) (target.node) is not Ready; capture on a Ready node") }
        }
        var pods: [ClusterObjects.Pod] = []
        if allowed(["auth", "can-i", "list", "pods", "--all-namespaces"]) {
            pods = try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self, ["pods", "--all-namespaces"], what: "list pods").items
        } else {
            for namespace in Set(plan.pods.compactMap(\.namespace)).sorted() {
                pods += try kubectl.get(ClusterObjects.List<ClusterObjects.Pod>.self, ["pods", "-n", namespace], what: "list pods in \(namespace)").items
            }
            notes.append("pods of other namespaces are not named in the summary: the account may not list pods in every namespace")
        }
        var services: [ClusterObjects.Service] = []
        if allowed(["auth", "can-i", "list", "services", "--all-namespaces"]) {
            services = (try? kubectl.get(ClusterObjects.List<ClusterObjects.Service>.self, ["services", "--all-namespaces"], what: "list services").items) ?? []
        } else {
            notes.append("services and load balancers are not named in the summary: the account may not list services")
        }
        let helperNamespace = try namespace(access.helperNamespace)
        if let helperNamespace {
            let enforce = helperNamespace.metadata.labels?["pod-security.kubernetes.io/enforce"]
            if let enforce, enforce != "privileged" {
                throw KubernetesError("""
                    namespace \(access.helperNamespace) enforces PodSecurity "\(enforce)", which rejects the helper pod (hostNetwork, \
                    NET_ADMIN, NET_RAW). Label it: kubectl label namespace \(access.helperNamespace) \
                    pod-security.kubernetes.io/enforce=privileged --overwrite, or set target.kubernetes.helperNamespace to one that allows it
                    """)
            }
        } else if !allowed(["auth", "can-i", "create", "namespaces"]) || !allowed(["auth", "can-i", "delete", "namespaces"]) {
            throw KubernetesError("""
                namespace \(access.helperNamespace) (target.kubernetes.helperNamespace) does not exist and this account may not create and delete it. \
                Create it once (kubectl apply -f deploy/rbac.yaml does), or name an existing one
                """)
        }
        return Cluster(nodes: nodes, pods: pods, services: services, helperNamespace: helperNamespace, notes: notes)
    }

    /// Every verb of every permission the account lacks, asked in parallel.
    private func refusedPermissions(_ needed: [Permission]) -> [Permission] {
        let questions = needed.flatMap { permission in permission.verbs.map { (permission, $0) } }
        let answers = Answers(count: questions.count)
        DispatchQueue.concurrentPerform(iterations: questions.count) { index in
            answers.set(index, allowed(questions[index].0.canI(questions[index].1)))
        }
        var refused: [Permission] = []
        for (index, (permission, verb)) in questions.enumerated() where !answers.value(index) {
            if let at = refused.firstIndex(where: { $0.resource == permission.resource && $0.namespace == permission.namespace }) {
                refused[at].verbs.append(verb)
            } else {
                refused.append(Permission([verb], permission.resource, in: permission.namespace))
            }
        }
        return refused
    }

    private final class Answers: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Bool]
        init(count: Int) { values = Array(repeating: false, count: count) }
        func set(_ index: Int, _ value: Bool) { lock.lock(); values[index] = value; lock.unlock() }
        func value(_ index: Int) -> Bool { lock.lock(); defer { lock.unlock() }; return values[index] }
    }

    private func allowed(_ arguments: [String]) -> Bool {
        (try? kubectl.run(arguments, timeout: 30))?.output.trimmingCharacters(in: .whitespacesAndNewlines) == "yes"
    }

    /// The namespace, nil if it does not exist; when the account may not read namespaces, it is assumed to exist.
    private func namespace(_ name: String) throws(KubernetesError) -> ClusterObjects.Namespace? {
        let result = try kubectl.run(["get", "namespace", name, "-o", "json"])
        if result.status == 0 {
            return try? JSONDecoder().decode(ClusterObjects.Namespace.self, from: Data(result.output.utf8))
        }
        if result.errors.contains("NotFound") { return nil }
        return ClusterObjects.Namespace(metadata: .init(name: name, namespace: nil, labels: nil, annotations: nil))
    }

    /// RBAC rules (as YAML) that grant exactly the refused permissions.
    static func rbacSnippet(_ refused: [Permission]) -> String {
        var text = ""
        let clusterWide = refused.filter { $0.namespace == nil }
        if !clusterWide.isEmpty {
            text += "  # ClusterRole rules\n"
            for permission in clusterWide { text += rule(permission) }
        }
        for namespace in Set(refused.compactMap(\.namespace)).sorted() {
            text += "  # Role rules in namespace \(namespace)\n"
            for permission in refused where permission.namespace == namespace { text += rule(permission) }
        }
        return text
    }

    private static func rule(_ permission: Permission) -> String {
        "  - apiGroups: [\"\"]\n    resources: [\"\(permission.resource)\"]\n    verbs: [\(permission.verbs.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
    }
}
