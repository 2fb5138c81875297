import CapplanAnalyse
import CapplanLoad
import Foundation
import CapplanPackets
import CapplanPlan

/// Performs the planner's steps on this machine: the snapshot (namespaces' iflinks and the
/// capture namespace's interfaces) is read first, the planner names every interface, and
/// libpcap opens exactly those, inside the namespace that plays the node if there is one.
struct LocalExecutor {
    let context: RunContext
    let netns: String?

    func run() throws -> ApplyExit {
        context.journal.note("target: local\(netns.map { " in network namespace \($0)" } ?? "")")
        let snapshot = try LocalSnapshot(netns: netns).read(context.plan)
        let steps = try Planner.steps(for: context.plan, snapshot: snapshot)
        try context.adopt(steps, comparable: { steps })
        var streams: [CaptureStream] = []
        for step in context.steps {
            try context.checkInterrupt()
            switch step.operation {
            case .readNodeState:
                break  // performed by the capture, at its start and stop
            case .resolveNamespaces(let names):
                context.finished(step, facts: names.map { "network namespace \($0)" })
            case .resolveInterfaces(_, let planned, _):
                streams = planned.value ?? []
                context.finished(step, facts: streams.map(Self.interface).map { "interface \($0.name): \($0.method)" })
            case .capture:
                return try capture(streams, snapshot: snapshot)
            default:
                throw LocalSnapshot.Failure(description: "step \(step.number) (\(step.operation)) has no meaning on the local target")
            }
        }
        throw LocalSnapshot.Failure(description: "the plan has no capture step")
    }

    private func capture(_ streams: [CaptureStream], snapshot: TargetSnapshot) throws -> ApplyExit {
        let interfaces = streams.map(Self.interface)
        // One libpcap handle per interface, all with the one filter the planner gave them.
        let capture = try LiveCapture(interfaces: interfaces.map(\.name), filter: streams.first?.filter ?? context.plan.capture.filter,
                                      snaplen: context.plan.capture.snaplen,
                                      bufferSize: context.plan.capture.bufferSize.map { Int(clamping: $0.bytes) } ?? LiveCapture.defaultBufferSize,
                                      namespace: netns)
        defer { capture.close() }
        let netns = self.netns
        var target = CaptureTarget(kind: .local, source: capture, interfaces: interfaces, identities: LocalSnapshot.identities(of: snapshot),
                                   statistics: { capture.statistics() }, liveStatistics: true, record: { $0.netns = netns })
        target.pathPoints = CaptureTarget.pathPoints(context.plan, interfaces: interfaces.map { interface in
            var interface = interface
            interface.node = netns ?? LocalExecutor.machineName  // a point's name says which node it is on
            return interface
        }, podAddresses: Dictionary(snapshot.pods.map { ($0.name, $0.ips) }, uniquingKeysWith: { first, _ in first }))
        target.readNodeState = { read in
            let argv = (netns.map { ["ip", "netns", "exec", $0] } ?? []) + read.command
            guard let result = try? Processes.capture(argv, timeout: 15) else { return .failure(.init(reason: "cannot run \(read.command[0])")) }
            return result.status == 0 ? .success(result.output)
                : .failure(.init(reason: result.errors.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init)
                                 ?? "exit status \(result.status)"))
        }
        return try CaptureSession(context: context, target: target).run()
    }

    /// This machine's name, for a point on a path when no namespace plays the node.
    static var machineName: String { ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost" }

    /// A planned stream on this machine, named and with how it was found.
    static func interface(_ stream: CaptureStream) -> ResolvedInterface {
        switch stream.source {
        case .any: ResolvedInterface(name: "any", method: "any: every interface")
        case .named(let name): ResolvedInterface(name: name, method: "named in the plan")
        case .podPeer(let pod, let index, let name):
            ResolvedInterface(name: name ?? "", method: "\(pod): eth0 iflink \(index) -> \(name ?? "?")", pod: pod)
        case .podRoute(let pod, let address):
            ResolvedInterface(name: "", method: "\(pod): route to \(address)", pod: pod)
        case .uplink(let toward, let name):
            ResolvedInterface(name: name ?? "", method: "uplink: the route toward \(toward.joined(separator: ", ")) -> \(name ?? "?")", uplink: true)
        }
    }
}
