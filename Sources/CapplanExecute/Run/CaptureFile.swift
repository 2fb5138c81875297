import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import CapplanPlan
import CapplanRedact
import CapplanReport
import Foundation

/// The run's capture file as the planner chose it (the report step's format), and what a pcapng
/// of it says besides the packets: who wrote it, the capture points, the run's names, and
/// comments on the packets the findings cite. Names are written only while the rules keep them.
struct CaptureFile {
    let format: CaptureFileFormat
    let path: String
    let keepNames: Bool

    init(context: RunContext) {
        format = context.steps.lazy.compactMap { step -> CaptureFileFormat? in
            if case .report(_, let capture) = step.operation { capture } else { nil }
        }.first ?? .pcapng
        path = context.directory + "/" + format.fileName
        keepNames = context.plan.redaction.names == .keep
    }

    /// The section comment and one interface per capture point, in the source's order (the
    /// packets' `source`). Path points carry their description for `capplan report`.
    func header(context: RunContext, target: CaptureTarget, points: [PathPoint]?) -> RedactingWriter.PcapngHeader? {
        guard format == .pcapng else { return nil }
        let plan = context.plan
        let sha = Redactor.sha256(Array(context.apply.planSource.utf8)).map { String(format: "%02x", $0) }.joined()
        let comment = "capplan \(capplanVersion) run \(context.runID) of plan \(plan.name) (sha256 \(sha))"
        let names = target.source.interfaces
        func node(_ index: Int) -> String? {
            let node = index < target.interfaces.count ? target.interfaces[index].node : nil
            return node ?? points.flatMap { index < $0.count && !$0[index].node.isEmpty ? $0[index].node : nil }
        }
        // Without names, nodes are numbered in the order of their names.
        let nodes = Array(Set(names.indices.compactMap(node))).sorted()
        func shown(_ node: String) -> String { keepNames ? node : "node\((nodes.firstIndex(of: node) ?? 0) + 1)" }
        let interfaces = names.indices.map { index in
            let resolved = index < target.interfaces.count ? target.interfaces[index] : nil
            let interface = resolved?.name ?? names[index]
            let name = node(index).map { "\(shown($0))/\(interface)" } ?? interface
            var point = index < (points?.count ?? 0) ? points?[index] : nil
            point?.name = name
            if let pointNode = point?.node { point?.node = shown(pointNode) }
            if !keepNames { point?.pod = nil }
            return PcapngInterface(name: name, description: keepNames ? resolved.map(Self.describe) : nil, comment: point?.pcapngComment,
                                   linkType: target.source.linkType, snaplen: plan.capture.snaplen)
        }
        return .init(comment: comment, application: "capplan \(capplanVersion)", interfaces: interfaces)
    }

    static func describe(_ interface: ResolvedInterface) -> String {
        if let pod = interface.pod { return "veth of pod \(pod)" + (interface.node.map { " on node \($0)" } ?? "") }
        if interface.uplink { return "uplink of node \(interface.node ?? "this machine")" }
        return "interface \(interface.name)" + (interface.node.map { " on node \($0)" } ?? "")
    }

    /// The run's named single addresses, as the capture shows them (`identities` already mapped to pseudonyms).
    func writeNames(_ writer: RedactingWriter, identities: IdentityMap) {
        guard format == .pcapng, keepNames else { return }
        writer.writeNames(identities.hostNames)
    }

    /// Comments on the packets the findings cite, added once the report is known.
    /// Returns why it left the comments out, when it did: the capture is too large to write again.
    /// `windows`: comments on the packets that opened `capture.keep`'s windows, first.
    /// `checkpoints`: the writer's, so the part before the first comment is copied as it is.
    func annotate(_ summary: Summary, windows: [Int: String] = [:], checkpoints: [PcapngCheckpoint] = []) throws -> String? {
        guard format == .pcapng, keepNames else { return nil }
        var comments: [Int: String] = [:]
        for finding in summary.findings {
            for packet in finding.packets.prefix(Self.commentsPerFinding) where comments[packet] == nil {
                comments[packet] = "capplan: " + finding.text
            }
        }
        comments.merge(windows) { finding, window in window + "\n" + finding }
        guard let first = comments.keys.min() else { return nil }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let rewritten = PcapngWriter.bytesRewritten(forCommentsFrom: first, size: Int64(size), checkpoints: checkpoints)
        guard rewritten <= Self.annotationLimit else {
            return "commenting them means writing \(rewritten / 1_048_576) MiB of the capture again: the packets the findings cite are named in summary.md, not commented in the file"
        }
        try PcapngWriter.addComments(path: path, comments, checkpoints: checkpoints)
        return nil
    }

    static let commentsPerFinding = 20
    /// Adding comments writes part of the file again (all of it when they start early); past this
    /// many bytes that costs more than it gives.
    static let annotationLimit: Int64 = 1 << 30

    /// Which way a packet went at its point, where the point knows: Linux cooked captures say it,
    /// and a pod's host-side veth receives what the pod sends. A pod has an address or two: a list
    /// is read faster per packet than a set is hashed.
    /// `podAddresses`: per source interface, looked up here rather than passed one by one, which
    /// retained and released the source's array for every packet.
    static func direction(_ packet: DecodedPacket, cooked: Bool, podAddresses: [[IPAddress]], source: Int) -> PacketDirection? {
        if cooked {
            return packet.packetType == 4 ? .outbound : .inbound
        }
        guard source < podAddresses.count, !podAddresses[source].isEmpty, packet.network == .ipv4 || packet.network == .ipv6 else { return nil }
        if podAddresses[source].contains(packet.source) { return .inbound }
        if podAddresses[source].contains(packet.destination) { return .outbound }
        return nil
    }
}
