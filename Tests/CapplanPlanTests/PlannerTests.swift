import CapplanLoad
import CapplanPlan
import Foundation
import Testing

struct PlannerTests {
    static func plan(_ body: String) throws -> Plan {
        let yaml = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\n" + body
        let loaded = PlanLoader.load(source: yaml, path: "t.yaml")
        return try #require(loaded.plan, "\(loaded.printer.render(loaded.diagnostics))")
    }

    static let cluster = TargetSnapshot(
        nodes: [
            .init(name: "node0", schedulable: true, ready: true),
            .init(name: "node1", schedulable: true, ready: true),
            .init(name: "node2", schedulable: false, ready: true),  // cordoned before capplan ran
            .init(name: "node3", schedulable: true, ready: true),
            .init(name: "node4", schedulable: true, ready: false),
        ],
        pods: [
            .init(namespace: "myapp", name: "web-1", labels: ["app": "web"], ips: ["10.244.0.5"], node: "node1", containers: ["app", "sidecar"], peerIndex: 7),
            .init(namespace: "myapp", name: "web-2", labels: ["app": "web"], ips: ["10.244.1.5"], node: "node3", containers: ["app"]),
            .init(namespace: "other", name: "web-1", labels: ["app": "web"], ips: ["10.244.2.5"], node: "node0", containers: ["app"]),
            .init(namespace: "myapp", name: "sick", ips: ["10.244.4.5"], node: "node4", containers: ["app"], peerIndex: 9),
            .init(namespace: "myapp", name: "pending", phase: "Pending", reason: "Unschedulable"),
            .init(namespace: "myapp", name: "host", ips: ["192.0.2.10"], node: "node1", containers: ["app"], hostNetwork: true),
        ],
        helperNamespace: .exists(podSecurity: "privileged"))

    static func kinds(_ steps: [Step]) -> [String] {
        steps.map { step in String(describing: step.operation).prefix { $0 != "(" }.description }
    }

    static func streams(_ steps: [Step]) -> [CaptureStream]? {
        for step in steps { if case .resolveInterfaces(_, let streams, _) = step.operation { return streams.value } }
        return nil
    }

    @Test func kubernetesStepsFollowTheRunbookOrder() throws {
        let plan = try Self.plan("""
            target: {kubernetes: {namespace: myapp}, isolate: cordon-others}
            pods: [{selector: app=web}]
            reproduce: [{at: 2s, exec: {pod: client, command: [curl, "https://203.0.113.12/"]}}]
            stop: {when: reset}
            """)
        let steps = try Planner.steps(for: plan)
        #expect(Self.kinds(steps) == ["preflight", "resolvePods", "chooseNodes", "cordon", "deployHelper", "resolveInterfaces",
                                      "capture", "reproduce", "stopWhen", "collect", "redact", "analyse", "report"])
        #expect(steps.map(\.number) == Array(1...13))
        #expect(steps.filter { $0.undo != nil }.count == 3)  // cordon, helper pod, exec in a pod
        #expect(steps.allSatisfy { ($0.change == nil) == ($0.undo == nil) }, "every change has its undo")
    }

    @Test func offlinePlanLeavesClusterFactsForApply() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{name: web-1}]\n")
        let steps = try Planner.steps(for: plan)
        #expect(steps.contains { $0.operation == .chooseNodes(.atApply, pinned: false, notes: []) })
        #expect(steps.contains { $0.operation == .cordon(.atApply, keep: .atApply, mark: Planner.planRunID) })
        #expect(Self.streams(steps) == nil)
    }

    /// Difference 3: the cordon set is decided here once, and the undo uncordons exactly it.
    @Test func cordonsExactlyTheSchedulableOthers() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{name: web-1}]\n")
        let steps = try Planner.steps(for: plan, snapshot: Self.cluster, runID: "run1")
        // node2 was cordoned before: it is neither cordoned again nor (so) uncordoned by the undo.
        let cordon = try #require(steps.first { if case .cordon = $0.operation { true } else { false } })
        #expect(cordon.operation == .cordon(.known(["node0", "node3", "node4"]), keep: .known(["node1"]), mark: "run1"))
        #expect(cordon.undo == .uncordon(nodes: .known(["node0", "node3", "node4"]), mark: "run1"))
        #expect(cordon.undo?.description.contains("node0, node3, node4") == true)
    }

    @Test func podsOnSeveralNodesGetAHelperEach() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}}\npods: [{selector: app=web}]\n")
        let steps = try Planner.steps(for: plan, snapshot: Self.cluster, runID: "run1")
        let helpers = steps.compactMap { step -> HelperPod? in
            if case .deployHelper(let helper) = step.operation { return helper }
            return nil
        }
        #expect(helpers.map(\.node) == [.known("node1"), .known("node3")])
        #expect(helpers.map(\.name) == ["capplan-run1-1", "capplan-run1-2"])
        #expect(helpers.first?.manifest.contains("\"nodeName\" : \"node1\"") == true)
        #expect(steps.compactMap(\.undo).contains(.deletePod(namespace: "capplan-system", name: "capplan-run1-2")))
    }

    @Test func pinnedNodeWins() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, node: node3, isolate: cordon-others}\npods: [{selector: app=web}]\n")
        let steps = try Planner.steps(for: plan, snapshot: Self.cluster)
        #expect(steps.contains { $0.operation == .cordon(.known(["node0", "node1", "node4"]), keep: .known(["node3"]), mark: Planner.planRunID) })
        #expect(steps.contains { step in
            if case .chooseNodes(_, true, let notes) = step.operation { notes == ["pod myapp/web-1 runs on node1, not on the pinned node node3: its traffic is not captured"] } else { false }
        })
    }

    /// Difference 2: pods and nodes that apply could not use are refused at planning, for plan and apply alike.
    @Test(arguments: [
        ("target: {kubernetes: {namespace: myapp}}\npods: [{name: nope}]\n", "no pod matches myapp/nope in namespace myapp"),
        ("target: {kubernetes: {}, node: node9}\ninterfaces: any\n", "node node9 (target.node) does not exist"),
        ("target: {kubernetes: {namespace: myapp}, node: node0}\npods: [{name: web-1}]\n", "no pod of the plan runs on node node0 (target.node)"),
        ("target: {kubernetes: {namespace: myapp}}\npods: [{name: sick}]\n", "node node4, where the pods run, is not Ready"),
        ("target: {kubernetes: {}, node: node4}\ninterfaces: any\n", "node node4 (target.node) is not Ready"),
        ("target: {kubernetes: {namespace: myapp}}\npods: [{name: pending}]\n", "pod myapp/pending is Pending (Unschedulable), not Running"),
        ("target: {kubernetes: {namespace: myapp}}\npods: [{name: web-1, container: nope}]\n", "has no container nope; it has app, sidecar"),
        ("target: {kubernetes: {namespace: myapp}}\npods: [{name: host}]\n", "uses the node's network (hostNetwork)"),
    ] as [(String, String)])
    func podsAndNodesApplyCannotUseAreRefused(_ body: String, _ message: String) throws {
        let plan = try Self.plan(body)
        #expect {
            try Planner.steps(for: plan, snapshot: Self.cluster)
        } throws: { error in
            (error as? PlanningError)?.message.contains(message) == true
        }
    }

    @Test func helperDeadlineCoversTheCapture() throws {
        let plan = try Self.plan("target: {kubernetes: {}}\ninterfaces: any\ncapture: {duration: 10m}\nstop: {when: reset, grace: 5s}\n")
        let deadline = try Planner.steps(for: plan).compactMap { step -> Int? in
            if case .deployHelper(let helper) = step.operation { return helper.deadlineSeconds }
            return nil
        }
        #expect(deadline == [600 + 5 + 300])
    }

    @Test func localPlansChangeNothingOutsideTheRun() throws {
        let plan = try Self.plan("target: {local: {}}\npods: [{name: pod-a}]\n")
        let steps = try Planner.steps(for: plan)
        #expect(Self.kinds(steps) == ["resolveNamespaces", "resolveInterfaces", "capture", "collect", "redact", "analyse", "report"])
        #expect(steps.allSatisfy { $0.undo == nil })
        let snapshot = TargetSnapshot(pods: [.init(namespace: "", name: "pod-a", peerIndex: 5, peerName: "veth-a")], links: ["lo", "veth-a"])
        #expect(Self.streams(try Planner.steps(for: plan, snapshot: snapshot))
                == [CaptureStream(node: nil, source: .podPeer(pod: "pod-a", index: 5, name: "veth-a"), extraFilter: nil, filter: "")])
        #expect(throws: PlanningError.self) { try Planner.steps(for: plan, snapshot: TargetSnapshot(links: ["lo"])) }
    }

    /// Difference 1: a missing helper namespace is a planned step with its undo, and its permissions are asked.
    @Test func aMissingHelperNamespaceIsCreatedAsAPlannedStep() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{name: web-1}]\n")
        guard case .preflight(let permissions) = try Planner.steps(for: plan).first?.operation else {
            Issue.record("first step is not preflight")
            return
        }
        #expect(permissions.map(\.description).contains("patch nodes"))
        #expect(permissions.map(\.description).contains("create pods/exec in myapp"))
        #expect(permissions.map(\.description).contains("create,delete,get,list pods in capplan-system"))
        #expect(!permissions.contains { $0.resource == "namespaces" }, "creating the helper namespace is asked only when it is missing")

        var missing = Self.cluster
        missing.helperNamespace = .missing
        let steps = try Planner.steps(for: plan, snapshot: missing)
        let create = try #require(steps.first { if case .createNamespace = $0.operation { true } else { false } })
        #expect(create.operation == .createNamespace("capplan-system"))
        #expect(create.undo == .deleteNamespace("capplan-system"))
        guard case .preflight(let asked) = steps.first?.operation else { return }
        #expect(asked.contains(Permission(["create", "delete"], "namespaces")))
        let order = Self.kinds(steps)
        #expect((order.firstIndex(of: "createNamespace") ?? 99) < (order.firstIndex(of: "deployHelper") ?? 0))
    }

    @Test func aHelperNamespaceThatRejectsTheHelperIsRefused() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}}\npods: [{name: web-1}]\n")
        var baseline = Self.cluster
        baseline.helperNamespace = .exists(podSecurity: "baseline")
        #expect { try Planner.steps(for: plan, snapshot: baseline) } throws: { error in
            (error as? PlanningError)?.message.contains("enforces PodSecurity \"baseline\"") == true
        }
    }

    /// Differences 4 and 5: each stream's interface comes from the snapshot's iflink (or the route
    /// when the pod could not show it), and its whole filter is decided here.
    @Test func everyStreamHasItsInterfaceAndWholeFilter() throws {
        let pods = try Self.plan("target: {kubernetes: {namespace: myapp}}\npods: [{selector: app=web}]\ncapture: {filter: tcp port 443}\n")
        #expect(Self.streams(try Planner.steps(for: pods, snapshot: Self.cluster)) == [
            CaptureStream(node: "node1", source: .podPeer(pod: "myapp/web-1", index: 7, name: nil), extraFilter: nil, filter: "tcp port 443"),
            CaptureStream(node: "node3", source: .podRoute(pod: "myapp/web-2", address: "10.244.1.5"), extraFilter: "host 10.244.1.5",
                          filter: "(tcp port 443) and (host 10.244.1.5)"),
        ])
        let any = try Self.plan("target: {kubernetes: {}, node: node0}\ninterfaces: any\ncapture: {filter: udp}\n")
        let stream = try #require(Self.streams(try Planner.steps(for: any, snapshot: Self.cluster))?.first)
        #expect(stream.source == .any)
        #expect(stream.filter.hasPrefix("(udp) and (not (tcp port 10250 or "), "capplan's own stream is left out: \(stream.filter)")
        let named = try Self.plan("target: {kubernetes: {}, node: node0}\ninterfaces: [eth0]\n")
        #expect(Self.streams(try Planner.steps(for: named, snapshot: Self.cluster))?.first?.filter == "not tcp port 10250")
    }

    /// Difference 6: reproduce steps are ordered here, once, each with the exact argv apply runs.
    @Test func reproduceStepsAreOrderedWithTheirArgv() throws {
        let plan = try Self.plan("""
            target: {kubernetes: {namespace: myapp, kubeconfig: /k/config, context: lab}}
            interfaces: any
            reproduce:
              - {at: 3s, exec: {pod: other/client, container: c, command: [curl, x]}}
              - {at: 1s, local: {netns: ext, command: [python3, server.py]}}
            """)
        let reproduce = try Planner.steps(for: plan).compactMap { step -> (Double, [String])? in
            if case .reproduce(let step, let argv) = step.operation { return (step.at.seconds, argv) }
            return nil
        }
        #expect(reproduce.map(\.0) == [1, 3])
        #expect(reproduce.map(\.1) == [["ip", "netns", "exec", "ext", "python3", "server.py"],
                                       ["kubectl", "--kubeconfig", "/k/config", "--context", "lab", "exec", "-n", "other", "client", "-c", "c", "--", "curl", "x"]])
    }

    @Test func stepsRoundTripThroughJSON() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{selector: app=web}]\nstop: {when: reset}\n")
        let steps = try Planner.steps(for: plan, snapshot: Self.cluster, runID: "abc")
        let decoded = try JSONDecoder().decode([Step].self, from: try JSONEncoder().encode(steps))
        #expect(decoded == steps)
    }

    @Test func aChangedTargetIsNamed() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{name: web-1}]\n")
        let saved = try Planner.steps(for: plan, snapshot: Self.cluster)
        var changed = Self.cluster
        changed.nodes[0].schedulable = false
        let now = try Planner.steps(for: plan, snapshot: changed)
        #expect(StepDifference.first(saved: saved, now: saved) == nil)
        let difference = try #require(StepDifference.first(saved: saved, now: now))
        #expect(difference.contains("Cordon the other nodes") && difference.contains("node0, node3, node4") && difference.contains("node3, node4"),
                "\(difference)")
    }

    @Test func permissionsBecomeCanIQuestions() {
        #expect(Permission(["create"], "pods/exec", in: "myapp").canI("create") == ["auth", "can-i", "create", "pods", "--subresource=exec", "-n", "myapp"])
        #expect(Permission(["get", "list"], "nodes").canI("list") == ["auth", "can-i", "list", "nodes"])
        #expect(Permission(["get", "list"], "pods", in: "a").description == "get,list pods in a")
    }

    @Test func argvIsShownUnambiguously() throws {
        let plan = try Self.plan("target: {local: {}}\nreproduce: [{local: {command: [printf, \"%s\", \"$HOME; rm x\", \"it's\"]}}]\n")
        let text = StepPrinter.render(try Planner.steps(for: plan), plan: plan, path: "t.yaml")
        #expect(text.contains(#"on this machine: printf %s '$HOME; rm x' 'it'\''s'"#))
    }
}
