import CapplanPlan
import Foundation

/// Before anything changes: every permission the plan needs, asked with `kubectl auth can-i`
/// (in parallel), every refusal listed with the RBAC rules that would grant it.
struct Preflight {
    let kubectl: Kubectl

    func require(_ needed: [Permission]) throws(KubernetesError) {
        let refused = refusedPermissions(needed)
        guard refused.isEmpty else {
            throw KubernetesError("""
                the account is not allowed to do everything this plan needs; missing:
                \(refused.map { "  - \($0.description)" }.joined(separator: "\n"))
                Nothing was changed. Grant them (deploy/rbac.yaml has a minimal ClusterRole), e.g.:
                \(Self.rbacSnippet(refused))
                """)
        }
    }

    /// Every verb of every permission the account lacks, asked in parallel.
    func refusedPermissions(_ needed: [Permission]) -> [Permission] {
        let questions = needed.flatMap { permission in permission.verbs.map { (permission, $0) } }
        let kubectl = self.kubectl
        let granted = parallelMap(questions.count) { index in
            (try? kubectl.run(questions[index].0.canI(questions[index].1), timeout: 30))?.output
                .trimmingCharacters(in: .whitespacesAndNewlines) == "yes"
        }
        var refused: [Permission] = []
        for (index, (permission, verb)) in questions.enumerated() where !granted[index] {
            if let at = refused.firstIndex(where: { $0.resource == permission.resource && $0.namespace == permission.namespace }) {
                refused[at].verbs.append(verb)
            } else {
                refused.append(Permission([verb], permission.resource, in: permission.namespace))
            }
        }
        return refused
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
