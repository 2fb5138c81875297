/// Who made a packet, and where it was lost, from the ranks of the points that saw it: a packet
/// appears where it was made and passes every later point on its way unless something drops it.
extension PathTracer {
    /// Fills in the hop's sender, the points it missed, and its finding in words.
    /// `earlierTTL` holds, per point, the TTL of the connection's last inbound packet seen there.
    func attribute(_ hop: inout PathHop, _ group: Group, outbound: Bool, path: [Int: Int], podEnd: Int, earlierTTL: [Int: UInt8]) {
        let ranks = Array(Set(path.values)).sorted()
        let seen = group.sightings.compactMap { sighting in path[sighting.point].map { (rank: $0, sighting: sighting) } }
        guard ranks.count > 1, let low = seen.map(\.rank).min(), let high = seen.map(\.rank).max(),
              let firstRank = ranks.first, let lastRank = ranks.last else { return }
        let entry = outbound ? low : high
        guard let entered = seen.filter({ $0.rank == entry }).map(\.sighting).min(by: { $0.nanos < $1.nanos }) else { return }
        let at = points[entered.point]
        let time = String(format: "%.3f", hop.seen.first { $0.packet == entered.packet }?.time ?? 0)
        if entry == (outbound ? firstRank : lastRank) {
            if at.role == .podVeth {
                hop.sender = PathSender(kind: .pod, name: at.pod ?? at.name, firstSeenAt: at.name)
                // Only worth saying of a packet that could have been made on the way.
                if hop.packet.hasPrefix("RST") || hop.packet.hasPrefix("ICMP") {
                    hop.finding = "\(hop.packet) sent by pod \(at.pod ?? at.name): first seen on its veth \(at.name) at \(time) s"
                }
            } else {
                hop.sender = PathSender(kind: .external, name: at.node, firstSeenAt: at.name)
                hop.finding = "\(hop.packet) came from outside node \(at.node): it entered on \(at.name) at \(time) s with TTL \(entered.ttl)"
                    + ttlEvidence(entered, earlier: earlierTTL[entered.point])
            }
        } else if let before = outbound ? ranks.last(where: { $0 < entry }) : ranks.first(where: { $0 > entry }) {
            let passed = names(at: before, path)
            let nodes = Set(path.filter { $0.value == before || $0.value == entry }.map { points[$0.key].node })
            let sender = nodes.count == 1 ? PathSender(kind: .node, name: at.node, firstSeenAt: at.name)
                                          : PathSender(kind: .network, name: nodes.sorted().joined(separator: " and "), firstSeenAt: at.name)
            hop.sender = sender
            hop.finding = "\(hop.packet) made by " + (sender.kind == .node ? "node \(sender.name)" : "the network between nodes \(sender.name)")
                + ": first seen on \(at.name) at \(time) s, never on \(passed) before it"
        }
        let exit = outbound ? high : low
        if let next = outbound ? ranks.first(where: { $0 > exit }) : ranks.last(where: { $0 < exit }),
           let last = seen.filter({ $0.rank == exit }).map(\.sighting).max(by: { $0.nanos < $1.nanos }) {
            hop.missedAt = path.filter { $0.value == next }.map { points[$0.key].name }.sorted()
            let nodes = Set(path.filter { $0.value == next }.map { points[$0.key].node } + [points[last.point].node])
            hop.stoppedOn = nodes.count == 1 ? nodes.first : nil
            let lastTime = String(format: "%.3f", hop.seen.first { $0.packet == last.packet }?.time ?? 0)
            let lost = (hop.stoppedOn.map { "\(hop.packet) stopped on node \($0)" } ?? "\(hop.packet) lost between nodes \(nodes.sorted().joined(separator: " and "))")
                + ": last seen on \(points[last.point].name) at \(lastTime) s, never on \(names(at: next, path))"
            hop.finding = hop.finding.map { "\($0); \(lost)" } ?? lost
        }
    }

    /// The points at one rank of the path, in words.
    private func names(at rank: Int, _ path: [Int: Int]) -> String {
        path.filter { $0.value == rank }.map { points[$0.key].name }.sorted().joined(separator: " or ")
    }

    /// What the TTL says about who sent a packet that came from outside the node.
    private func ttlEvidence(_ sighting: Sighting, earlier: UInt8?) -> String {
        guard let earlier else { return "" }
        if earlier == sighting.ttl { return ", as the connection's earlier packets from that side: sent from where they came" }
        let hops = abs(Int(earlier) - Int(sighting.ttl))
        return " after the connection's earlier packets from that side had \(earlier): sent by something \(hops) hop\(hops == 1 ? "" : "s") "
            + "from where they came, not by the far end's host"
    }
}
