import CapplanLoad
import CapplanPlan
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
        ],
        pods: [
            .init(namespace: "myapp", name: "web-1", labels: ["app": "web"], ip: "10.244.0.5", node: "node1", hostInterface: "veth1a2b3c4d"),
            .init(namespace: "myapp", name: "web-2", labels: ["app": "web"], ip: "10.244.1.5", node: "node3"),
            .init(namespace: "other", name: "web-1", labels: ["app": "web"], ip: "10.244.2.5", node: "node0"),
        ])

    static func kinds(_ steps: [Step]) -> [String] {
        steps.map { step in String(describing: step.operation).prefix { $0 != "(" }.description }
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
        #expect(steps.filter { $0.change != nil }.count == 3)  // cordon, helper pod, exec in a pod
    }

    @Test func offlinePlanLeavesClusterFactsForApply() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{name: web-1}]\n")
        let steps = try Planner.steps(for: plan)
        #expect(steps.contains { $0.operation == .chooseNodes(.atApply, pinned: false) })
        #expect(steps.contains { $0.operation == .cordon(.atApply, keep: .atApply) })
    }

    @Test func cordonsExactlyTheSchedulableOthers() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{name: web-1}]\n")
        let steps = try Planner.steps(for: plan, snapshot: Self.cluster)
        // node2 was cordoned before: it is neither cordoned again nor (so) uncordoned by the undo.
        #expect(steps.contains { $0.operation == .cordon(.known(["node0", "node3"]), keep: .known(["node1"])) })
        #expect(steps.contains { if case .resolveInterfaces(_, .known(["veth1a2b3c4d"]), false) = $0.operation { true } else { false } })
    }

    @Test func podsOnSeveralNodesGetAHelperEach() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}}\npods: [{selector: app=web}]\n")
        let steps = try Planner.steps(for: plan, snapshot: Self.cluster)
        let helper = steps.compactMap { step -> [String]? in
            if case .deployHelper(.known(let nodes), _, _, _, _) = step.operation { return nodes }
            return nil
        }
        #expect(helper == [["node1", "node3"]])
    }

    @Test func pinnedNodeWins() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, node: node3, isolate: cordon-others}\npods: [{selector: app=web}]\n")
        let steps = try Planner.steps(for: plan, snapshot: Self.cluster)
        #expect(steps.contains { $0.operation == .cordon(.known(["node0", "node1"]), keep: .known(["node3"])) })
    }

    @Test func missingPodsAndNodesAreErrors() throws {
        let missingPod = try Self.plan("target: {kubernetes: {namespace: myapp}}\npods: [{name: nope}]\n")
        #expect(throws: PlanningError(message: "no pod matches myapp/nope in namespace myapp")) {
            try Planner.steps(for: missingPod, snapshot: Self.cluster)
        }
        let missingNode = try Self.plan("target: {kubernetes: {}, node: node9}\ninterfaces: any\n")
        #expect(throws: PlanningError.self) { try Planner.steps(for: missingNode, snapshot: Self.cluster) }
    }

    @Test func helperDeadlineCoversTheCapture() throws {
        let plan = try Self.plan("target: {kubernetes: {}}\ninterfaces: any\ncapture: {duration: 10m}\nstop: {when: reset, grace: 5s}\n")
        let deadline = try Planner.steps(for: plan).compactMap { step -> PlanDuration? in
            if case .deployHelper(_, _, _, _, let deadline) = step.operation { return deadline }
            return nil
        }
        #expect(deadline == [PlanDuration(milliseconds: 600_000 + 5000 + Planner.helperDeadlineMargin.milliseconds)])
    }

    @Test func localPlansChangeNothingOutsideTheRun() throws {
        let plan = try Self.plan("target: {local: {}}\npods: [{name: pod-a}]\n")
        let steps = try Planner.steps(for: plan)
        #expect(Self.kinds(steps) == ["resolveNamespaces", "resolveInterfaces", "capture", "collect", "redact", "analyse", "report"])
        #expect(steps.allSatisfy { $0.change == nil })
    }

    @Test func permissionsNameWhatThePlanNeeds() throws {
        let plan = try Self.plan("target: {kubernetes: {namespace: myapp}, isolate: cordon-others}\npods: [{name: web-1}]\n")
        guard case .preflight(let permissions) = try Planner.steps(for: plan).first?.operation else {
            Issue.record("first step is not preflight")
            return
        }
        #expect(permissions.contains("patch nodes"))
        #expect(permissions.contains("create pods/exec in myapp"))
        #expect(permissions.contains("create,delete,get,list pods in capplan-system"))
        #expect(!permissions.contains { $0.contains("namespaces") }, "creating the helper namespace is asked only when it is missing")
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
