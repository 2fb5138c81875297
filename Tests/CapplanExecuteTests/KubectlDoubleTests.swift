import CapplanAnalyse
@testable import CapplanExecute
import CapplanLoad
import CapplanPackets
import CapplanPlan
import CapplanTestSupport
import Foundation
import Synchronization
import Testing

/// The Kubernetes layer against the kubectl double: kubectl's own argv, the answers recorded
/// from the lab (scripts/k8s-lab/record-kubectl-fixtures), its error texts and exit statuses.
/// No cluster and no root: this runs on any machine. The lab tests still run the real thing.
struct KubectlDoubleTests {
    typealias Rule = KubectlDouble.Rule

    static func labPlan(_ change: (String) -> String = { $0 }) throws -> Plan {
        let path = KubectlDouble.folder + "/../../../examples/lab/lb-rst.yaml"
        let loaded = PlanLoader.load(source: change(try String(contentsOfFile: path, encoding: .utf8)), path: "lb-rst.yaml")
        return try #require(loaded.plan, "\(loaded.printer.render(loaded.diagnostics))")
    }

    /// What reading the lab's cluster answers, as recorded.
    static func clusterRules(namespace: Rule? = nil, iflink: Rule? = nil) throws -> [Rule] {
        [
            Rule(["auth", "can-i", "**"], stdout: "yes\n"),
            Rule(["get", "nodes", "-o", "json"], file: "nodes.json"),
            Rule(["get", "pods", "--all-namespaces", "-o", "json"], file: "pods.json"),
            Rule(["get", "services", "--all-namespaces", "-o", "json"], file: "services.json"),
            try namespace ?? .failing(["get", "namespace", "capplan-system", "-o", "json"], stderrFile: "namespace-notfound.stderr"),
            iflink ?? Rule(["exec", "-n", "myapp", "myapppod", "-c", "app", "--", "cat", "/sys/class/net/eth0/iflink"], file: "iflink.txt"),
        ]
    }

    @Test func preflightListsExactlyWhatIsMissingWithTheRulesThatGrantIt() throws {
        let double = try KubectlDouble([
            Rule(["auth", "can-i", "create", "pods", "--subresource=exec", "**"], file: "can-i-no.txt", status: 1),
            Rule(["auth", "can-i", "patch", "nodes"], file: "can-i-no.txt", status: 1),
            Rule(["auth", "can-i", "**"], stdout: "yes\n"),
        ])
        let plan = try Self.labPlan()
        let permissions = Planner.permissions(plan, access: try #require(plan.target.kubernetes))
        #expect {
            try Preflight(kubectl: Kubectl(argv: double.argv)).require(permissions)
        } throws: { error in
            let text = "\(error)"
            return text.contains("  - create pods/exec in capplan-system\n  - create pods/exec in myapp\n  - patch nodes")
                && !text.contains("- get,list nodes")
                && text.contains("  # ClusterRole rules\n  - apiGroups: [\"\"]\n    resources: [\"nodes\"]\n    verbs: [\"patch\"]")
                && text.contains("  # Role rules in namespace myapp\n  - apiGroups: [\"\"]\n    resources: [\"pods/exec\"]\n    verbs: [\"create\"]")
        }
        let asked = double.calls.filter { $0.contains("can-i") }.count
        #expect(asked == permissions.reduce(0) { $0 + $1.verbs.count }, "one question per verb")
    }

    /// The one reader plan and apply share: every decision the planner makes comes from it.
    @Test func theClusterIsReadOnceIntoWhatThePlannerDecidesFrom() throws {
        let double = try KubectlDouble(try Self.clusterRules())
        let plan = try Self.labPlan()
        let access = try #require(plan.target.kubernetes)
        let cluster = try ClusterSnapshot.read(plan: plan, kubectl: Kubectl(argv: double.argv), access: access)
        let recordedIndex = Int(try KubectlDouble.recorded("iflink.txt").trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(cluster.snapshot.helperNamespace == .missing)
        #expect(cluster.snapshot.pods.first { $0.name == "myapppod" }?.peerIndex == recordedIndex)
        // Difference 4: eth0's iflink is read in the container capplan uses, as apply did.
        #expect(double.calls.contains(["--kubeconfig", double.kubeconfig, "exec", "-n", "myapp", "myapppod", "-c", "app", "--", "cat", "/sys/class/net/eth0/iflink"]))
        #expect(double.calls.allSatisfy { ["get", "auth", "exec"].contains($0[2]) }, "only reads")

        let steps = try Planner.steps(for: plan, snapshot: cluster.snapshot, runID: "abc")
        let kinds = steps.map { String(describing: $0.operation).prefix { $0 != "(" } }
        #expect(kinds.prefix(7) == ["preflight", "resolvePods", "chooseNodes", "createNamespace", "cordon", "deployHelper", "resolveInterfaces"])
        let node = try #require(cluster.snapshot.pods.first { $0.name == "myapppod" }?.node)
        let others = cluster.nodes.filter { $0.schedulable && $0.name != node }.map(\.name)
        #expect(steps.contains { $0.operation == .cordon(.known(others), keep: .known([node]), mark: "abc") })
    }

    @Test func aPodWithoutCatIsCapturedThroughTheNodesRouteFilteredToIt() throws {
        let distroless = try Rule.failing(["exec", "**"], stderrFile: "iflink-distroless.stderr")
        let double = try KubectlDouble(try Self.clusterRules(iflink: distroless))
        let plan = try Self.labPlan()
        let cluster = try ClusterSnapshot.read(plan: plan, kubectl: Kubectl(argv: double.argv), access: try #require(plan.target.kubernetes))
        let pod = try #require(cluster.snapshot.pods.first { $0.name == "myapppod" })
        #expect(pod.peerIndex == nil)
        let streams = try Planner.steps(for: plan, snapshot: cluster.snapshot).compactMap { step -> [CaptureStream]? in
            if case .resolveInterfaces(_, let streams, _) = step.operation { return streams.value }
            return nil
        }.first
        // lb-rst.yaml captures the path: the pod's interface, then its node's uplink toward the endpoint.
        #expect(streams == [CaptureStream(node: pod.node, source: .podRoute(pod: "myapp/myapppod", address: pod.ips[0]),
                                          extraFilter: "host \(pod.ips[0])", filter: "(tcp port 443) and (host \(pod.ips[0]))"),
                            CaptureStream(node: pod.node, source: .uplink(toward: ["203.0.113.12"], name: nil),
                                          extraFilter: "not tcp port 10250", filter: "(tcp port 443) and (not tcp port 10250)")])
    }

    @Test func aHelperNamespaceThatRejectsTheHelperStopsThePlan() throws {
        let baseline = Rule(["get", "namespace", "capplan-system", "-o", "json"], file: "namespace-baseline.json")
        let double = try KubectlDouble(try Self.clusterRules(namespace: baseline))
        let plan = try Self.labPlan()
        let cluster = try ClusterSnapshot.read(plan: plan, kubectl: Kubectl(argv: double.argv), access: try #require(plan.target.kubernetes))
        #expect(cluster.snapshot.helperNamespace == .exists(podSecurity: "baseline"))
        #expect { try Planner.steps(for: plan, snapshot: cluster.snapshot) } throws: { error in
            "\(error)".contains("enforces PodSecurity \"baseline\"") && "\(error)".contains("pod-security.kubernetes.io/enforce=privileged --overwrite")
        }
    }

    /// Pods the lab could not start (an image it cannot pull, a node nobody matches) and one it did.
    @Test func helperStartProblemsAreSaidPlainly() throws {
        let pods = try JSONDecoder().decode(ClusterObjects.List<ClusterObjects.Pod>.self, from: Data(try KubectlDouble.recorded("helper-pods.json").utf8)).items
        func helper(_ name: String) -> HelperPod {
            HelperPod(name: name, namespace: "capplan-record", node: .known("vm"), image: "registry.local/no-such-image:lab", privileged: false,
                      deadlineSeconds: 362, run: "RUNID", plan: "lab-lb-rst")
        }
        let problems = pods.map { HelperPods.startProblem($0, helper: helper($0.name)) }
        #expect(pods.map(\.name) == ["capplan-runid-1", "capplan-runid-2", "capplan-runid-3"])
        let pull = try #require(problems[0])
        #expect(pull.contains("cannot start: ErrImagePull") || pull.contains("cannot start: ImagePullBackOff"), "\(pull)")
        #expect(pull.contains("(capture.image) must be pullable"))
        #expect(problems[1]?.contains("cannot be scheduled") == true, "\(problems[1] ?? "none")")
        #expect(problems[2] == nil && pods[2].ready)
    }

    @Test func anAdmissionRefusalIsKubectlsOwnWords() throws {
        let double = try KubectlDouble([try .failing(["create", "-f", "*"], stderrFile: "create-forbidden.stderr")])
        #expect {
            try Kubectl(argv: double.argv).check(["create", "-f", "/tmp/helper.json"], what: "create the helper pod on node vm")
        } throws: { error in
            "\(error)".hasPrefix("create the helper pod on node vm: Error from server (Forbidden)") && "\(error)".contains("exceeded quota")
        }
    }

    @Test func tcpdumpsOwnCountsAreRead() throws {
        let text = try KubectlDouble.recorded("tcpdump.stderr")
        let statistics = TcpdumpStreams.statistics(name: "vm/lo", log: text)
        let received = try #require(text.split(separator: "\n").first { $0.hasSuffix("packets received by filter") }?.split(separator: " ").first)
        #expect(statistics.received == UInt32(received))
        #expect(statistics.received > 0 && statistics.droppedByKernel == 0)
    }

    /// The summary's names: every address the cluster knows, and everything else external.
    @Test func identitiesNameEveryAddressTheClusterKnows() throws {
        let double = try KubectlDouble(try Self.clusterRules())
        let plan = try Self.labPlan()
        let cluster = try ClusterSnapshot.read(plan: plan, kubectl: Kubectl(argv: double.argv), access: try #require(plan.target.kubernetes))
        let map = ClusterIdentities.map(cluster)
        func who(_ text: String?) -> Identity? { text.flatMap(IPAddress.init).flatMap(map.identity) }
        let pod = try #require(cluster.pods.first { $0.name == "myapppod" })
        #expect(who(pod.ips.first) == Identity(name: "myapp/myapppod", kind: .pod))
        let node = try #require(cluster.nodes.first { $0.ready })
        #expect(who(node.status?.addresses?.first { $0.type == "InternalIP" }?.address) == Identity(name: node.name, kind: .node))
        let service = try #require(cluster.services.first { $0.spec?.clusterIP != nil && $0.spec?.clusterIP != "None" })
        #expect(who(service.spec?.clusterIP)?.kind == .service)
        #expect(who("203.0.113.12")?.kind == .external)
    }

    /// The manifest apply creates is the one the lab's API server accepted (a server-side dry run).
    @Test func theHelperManifestIsWhatTheAPIServerAccepted() throws {
        let helper = HelperPod(name: "capplan-RUNID-1", namespace: "capplan-system", node: .known("vm"), image: "registry.local/tools:lab",
                               privileged: false, deadlineSeconds: 362, run: "RUNID", plan: "lab-lb-rst")
        #expect(helper.manifest == (try KubectlDouble.recorded("helper-manifest.json")))
    }

    /// Ctrl-C while kubectl waits on a slow API server: the call ends at once, not when kubectl would.
    @Test func anInterruptStopsASlowKubectlCall() throws {
        let double = try KubectlDouble([Rule(["create", "-f", "*"], sleep: 30)])
        let interrupted = Atomic<Bool>(false)
        var kubectl = Kubectl(argv: double.argv)
        kubectl.cancelled = { interrupted.load(ordering: .relaxed) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { interrupted.store(true, ordering: .relaxed) }
        let started = Date()
        #expect { try kubectl.check(["create", "-f", "/tmp/helper.json"], what: "create") } throws: { "\($0)".contains("interrupted") }
        #expect(Date().timeIntervalSince(started) < 10, "the slow call was cut short")
    }
}
