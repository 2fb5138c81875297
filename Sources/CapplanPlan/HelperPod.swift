import Foundation

/// The capture helper: one pod per capture node, pinned there by nodeName, on the node's
/// network (hostNetwork) so that `ip link` lists the pods' host-side veths, with NET_ADMIN
/// and NET_RAW instead of privileged unless the plan asks. It only sleeps; capplan runs
/// tcpdump in it through kubectl exec. Its deadline makes the kubelet stop it even when
/// capplan is killed; its labels let `capplan cleanup` find it.
public struct HelperPod: Sendable, Codable, Equatable {
    public static let manager = "capplan"
    public static let managedBy = "app.kubernetes.io/managed-by=capplan"
    public static let runLabel = "capplan.dev/run"
    /// The container capplan execs into.
    public static let container = "capture"

    public var name: String
    public var namespace: String
    public var node: Resolved<String>
    public var image: String
    public var privileged: Bool
    public var deadlineSeconds: Int
    public var run: String
    public var plan: String

    public init(name: String, namespace: String, node: Resolved<String>, image: String, privileged: Bool, deadlineSeconds: Int,
                run: String, plan: String) {
        self.name = name
        self.namespace = namespace
        self.node = node
        self.image = image
        self.privileged = privileged
        self.deadlineSeconds = deadlineSeconds
        self.run = run
        self.plan = plan
    }

    /// The manifest kubectl creates, as JSON with sorted keys (it reads the same every time).
    public var manifest: String { Self.json(PodManifest(self)) }

    /// The helper namespace, when capplan creates it: labelled as capplan's (so that only capplan's
    /// own is ever deleted) and admitting the helper under PodSecurity.
    public static func namespaceManifest(_ name: String) -> String {
        json(NamespaceManifest(metadata: .init(name: name, namespace: nil,
                                               labels: ["app.kubernetes.io/managed-by": manager, "pod-security.kubernetes.io/enforce": "privileged"])))
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self) + "\n"
    }
}

/// The Kubernetes objects capplan creates, as the API reads them (only the fields set).
struct ObjectMeta: Encodable {
    var name: String
    var namespace: String?
    var labels: [String: String]
}

struct NamespaceManifest: Encodable {
    var apiVersion = "v1"
    var kind = "Namespace"
    var metadata: ObjectMeta
}

struct PodManifest: Encodable {
    struct Spec: Encodable {
        var nodeName: String
        var hostNetwork = true
        var dnsPolicy = "ClusterFirstWithHostNet"
        var restartPolicy = "Never"
        var activeDeadlineSeconds: Int
        var terminationGracePeriodSeconds = 1
        var automountServiceAccountToken = false
        var enableServiceLinks = false
        var tolerations = [["operator": "Exists"]]
        var containers: [Container]
    }
    struct Container: Encodable {
        var name = HelperPod.container
        var image: String
        var imagePullPolicy = "IfNotPresent"
        var command: [String]
        var securityContext: SecurityContext
        var resources = ["requests": ["cpu": "50m", "memory": "64Mi"]]
    }
    struct SecurityContext: Encodable {
        struct Capabilities: Encodable { var add: [String] }
        var privileged: Bool?
        var capabilities: Capabilities?
    }

    var apiVersion = "v1"
    var kind = "Pod"
    var metadata: ObjectMeta
    var spec: Spec

    init(_ helper: HelperPod) {
        metadata = ObjectMeta(name: helper.name, namespace: helper.namespace,
                              labels: ["app.kubernetes.io/managed-by": HelperPod.manager, "app.kubernetes.io/name": "capplan-helper",
                                       HelperPod.runLabel: helper.run, "capplan.dev/plan": helper.plan])
        let security = helper.privileged ? SecurityContext(privileged: true)
                                         : SecurityContext(capabilities: .init(add: ["NET_ADMIN", "NET_RAW"]))
        spec = Spec(nodeName: helper.node.value ?? "NODE", activeDeadlineSeconds: helper.deadlineSeconds,
                    containers: [Container(image: helper.image, command: ["sleep", String(helper.deadlineSeconds)], securityContext: security)])
    }
}
