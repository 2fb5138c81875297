import CapplanLoad
import Foundation

/// The capture helper: one pod per capture node, pinned there by nodeName, on the node's
/// network (hostNetwork) so that `ip link` lists the pods' host-side veths, with NET_ADMIN
/// and NET_RAW instead of privileged unless the plan asks. It only sleeps; capplan runs
/// tcpdump in it through kubectl exec. Its deadline makes the kubelet stop it even when
/// capplan is killed; its labels let `capplan cleanup` find it.
public struct HelperPod: Sendable, Equatable {
    public static let manager = "capplan"
    public static let managedBy = "app.kubernetes.io/managed-by=capplan"
    public static let runLabel = "capplan.dev/run"

    public var name: String
    public var namespace: String
    public var node: String
    public var image: String
    public var privileged: Bool
    public var deadlineSeconds: Int
    public var run: String
    public var plan: String

    public init(run: String, index: Int, plan: Plan, namespace: String, node: String, deadlineSeconds: Int) {
        name = "capplan-\(run)-\(index)"
        self.namespace = namespace
        self.node = node
        image = plan.capture.helperImage
        privileged = plan.capture.privileged
        self.deadlineSeconds = deadlineSeconds
        self.run = run
        self.plan = plan.name
    }

    /// The helper namespace, when capplan creates it: labelled as capplan's (so that only capplan's
    /// own is ever deleted) and admitting the helper under PodSecurity.
    public static func namespaceManifest(_ name: String) -> String {
        let namespace: [String: Any] = [
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": ["name": name, "labels": ["app.kubernetes.io/managed-by": manager, "pod-security.kubernetes.io/enforce": "privileged"]],
        ]
        return json(namespace)
    }

    /// The manifest kubectl creates, as JSON (sorted keys, so that it reads the same every time).
    public var manifest: String {
        let security: [String: Any] = privileged ? ["privileged": true] : ["capabilities": ["add": ["NET_ADMIN", "NET_RAW"]]]
        let pod: [String: Any] = [
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": [
                "name": name,
                "namespace": namespace,
                "labels": ["app.kubernetes.io/managed-by": Self.manager, "app.kubernetes.io/name": "capplan-helper",
                           Self.runLabel: run, "capplan.dev/plan": plan],
            ],
            "spec": [
                "nodeName": node,
                "hostNetwork": true,
                "dnsPolicy": "ClusterFirstWithHostNet",
                "restartPolicy": "Never",
                "activeDeadlineSeconds": deadlineSeconds,
                "terminationGracePeriodSeconds": 1,
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "tolerations": [["operator": "Exists"]],
                "containers": [[
                    "name": "capture",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sleep", String(deadlineSeconds)],
                    "securityContext": security,
                    "resources": ["requests": ["cpu": "50m", "memory": "64Mi"]],
                ]],
            ],
        ]
        return Self.json(pod)
    }

    /// A manifest as kubectl reads it: JSON with sorted keys, so that it reads the same every time.
    static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
