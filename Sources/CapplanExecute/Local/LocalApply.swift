import CapplanLoad
import CapplanPackets

/// The local target's steps: resolve the interfaces (pods are network namespaces), open them
/// with libpcap (inside the namespace that plays the node, if any), and run the capture pass.
struct LocalRun {
    let session: CaptureSession
    let netns: String?

    func run() throws -> ApplyExit {
        let plan = session.plan
        let target = LocalTarget(netns: netns)
        session.journal.note("target: local\(netns.map { " in network namespace \($0)" } ?? "")")
        let interfaces = try target.resolveInterfaces(plan.interfaces, pods: plan.pods, journal: session.journal)
        for interface in interfaces { session.journal.note("interface \(interface.name): \(interface.method)") }
        let capture = try LiveCapture(interfaces: interfaces.map(\.name), filter: plan.capture.filter,
                                      snaplen: plan.capture.snaplen, namespace: netns)
        defer { capture.close() }
        let runTarget = CaptureTarget(
            kind: "local", source: capture, interfaces: interfaces, identities: target.identities(of: plan.pods),
            statistics: { capture.statistics() },
            reproduce: { step in
                guard case .local(let netns, let command) = step.action else {
                    throw LocalTarget.Failure(description: "exec runs in a Kubernetes pod; a local plan uses local: commands")
                }
                return (netns.map { ["ip", "netns", "exec", $0] } ?? []) + command
            },
            record: { $0.netns = netns })
        return try session.run(runTarget)
    }
}
