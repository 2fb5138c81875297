public import CapplanPackets

/// The end of the pass: each connection's key packets in time order, which points saw each, and
/// who sent it. The points are put in the order a packet passes them, from the pod at the
/// connection's end outward: the pod's veth (rank 0), its node's uplinks (1), other nodes'
/// uplinks (2), veths on other nodes (3). An outbound packet first seen past rank 0 was made on
/// the way; an inbound one seen at the veth but not at the uplink before it was made by the node.
extension PathTracer {
    /// At most this many connections get a ladder: those with something to say come first.
    public static let connectionLimit = 200

    /// `conntrack`: the capture nodes' entries (read at the capture's stop), which say how each
    /// node translated a connection.
    public func report(start: Timestamp?, conntrack: [ConntrackEntry] = []) -> PathReport {
        let byOriginal = Dictionary(conntrack.map { ("\($0.node) \($0.original.from) \($0.original.to)", $0) }, uniquingKeysWith: { first, _ in first })
        let numbers = connectionNumbers()
        let origin = start?.nanoseconds ?? began.first ?? 0
        // Ladders are built only for the connections that get one: those likely to have something
        // to say first (judged from the packets followed alone, cheaply), then those seen at
        // several points, each in the order its first packet was followed.
        var byRank: [[Int]] = [[], [], []]
        for (connection, rank) in ranks(numbers).enumerated() { byRank[rank].append(connection) }
        let chosen = Array(byRank.joined().prefix(Self.connectionLimit).sorted())
        let connections = members(of: chosen, numbers).map { packets in
            let keyGroups = packets.map(group)
            var path = self.connection(keyGroups, lastData: lastData(of: keyGroups), origin: origin)
            path.translations = translations(keyGroups, byOriginal)
            return path
        }
        let final: (PathConnection) -> Int = { connection in
            connection.ladder.contains { $0.finding != nil } ? 0 : connection.views.count > 1 ? 1 : 2
        }
        let ordered = connections.enumerated().sorted { (final($0.element), $0.offset) < (final($1.element), $1.offset) }.map(\.element)
        return PathReport(points: points, connections: ordered, untracedPackets: untraced)
    }

    /// The last data segments of a connection's views, in the order of their `lastData` slots.
    /// Looked up by the views its key packets were seen on, and only for the connections that get
    /// a ladder: a view joins a connection only when one of them is seen on it, and reading every
    /// view's last data to find those few took a sixth of building the report.
    func lastData(of keyGroups: [Group]) -> [(key: Key, sighting: Sighting)] {
        var data: [(key: Key, sighting: Sighting)] = []
        for view in Set(keyGroups.lazy.flatMap(\.sightings).map(\.view)).sorted() {
            for slot in [view << 1, view << 1 | 1] where slot < lastData.count {
                guard let entry = lastData[slot] else { continue }
                data.append((entry.key, Sighting(view: view, views[view], fromLow: slot & 1 == 1, packet: entry.packet, nanos: entry.nanos,
                                                 ttl: entry.ttl)))
            }
        }
        return data
    }

    /// How the nodes' conntrack tables say they translated the connection: an entry whose original
    /// tuple is the connection as a point on that node saw it.
    func translations(_ groups: [Group], _ byOriginal: [String: ConntrackEntry]) -> [String] {
        guard !byOriginal.isEmpty else { return [] }
        var found: [String] = []
        for sighting in groups.flatMap(\.sightings) {
            for (from, to) in [(sighting.from, sighting.to), (sighting.to, sighting.from)] {
                guard let entry = byOriginal["\(points[sighting.point].node) \(from) \(to)"], let text = entry.translation,
                      !found.contains(text) else { continue }
                found.append(text)
            }
        }
        return found
    }

    /// Each packet followed's connection (views joined by a match), connections numbered in the
    /// order their first packet was followed.
    struct ConnectionNumbers {
        /// By the packet's index in `followed`.
        var of: [Int]
        var count: Int
    }

    func connectionNumbers() -> ConnectionNumbers {
        var table = views
        var number = [Int](repeating: -1, count: table.count)
        var numbers = ConnectionNumbers(of: [Int](repeating: 0, count: followed.count), count: 0)
        for index in followed.indices {
            let root = table.root(followed[index].firstView)
            if number[root] < 0 {
                number[root] = numbers.count
                numbers.count += 1
            }
            numbers.of[index] = number[root]
        }
        return numbers
    }

    /// The packets followed of each connection in `chosen`, in the order they were followed.
    func members(of chosen: [Int], _ numbers: ConnectionNumbers) -> [[Int]] {
        var position = [Int](repeating: -1, count: numbers.count)
        for (at, connection) in chosen.enumerated() { position[connection] = at }
        var members = [[Int]](repeating: [], count: chosen.count)
        for (index, connection) in numbers.of.enumerated() where position[connection] >= 0 { members[position[connection]].append(index) }
        return members
    }

    /// Each connection's rank: 0 for a RST or ICMP error, a packet some point of the connection
    /// did not see, or a connection that never crossed an uplink though there are some; 1 for one
    /// seen at several points; 2 for the rest. In one pass over the packets followed, in their
    /// order: read connection by connection, they were cache misses, a third of building the report.
    /// The points seen are a bit set (a Set where there are more than 64).
    func ranks(_ numbers: ConnectionNumbers) -> [Int] {
        guard points.count <= 64 else {
            let hasUplink = points.contains { $0.role == .uplink }
            return members(of: Array(0..<numbers.count), numbers).map { rankWithSet($0.map(group), hasUplink: hasUplink) }
        }
        var seen = [UInt64](repeating: 0, count: numbers.count)
        var fewestPoints = [Int](repeating: .max, count: numbers.count)
        var made = [Bool](repeating: false, count: numbers.count)
        for (index, packet) in followed.enumerated() {
            let connection = numbers.of[index]
            seen[connection] |= packet.points
            fewestPoints[connection] = min(fewestPoints[connection], packet.count)
            // "RST", "RST-ACK", "ICMP ...": made by someone, always worth a ladder.
            if packet.name.isMadeOnTheWay { made[connection] = true }
        }
        let uplinks = points.indices.reduce(UInt64(0)) { points[$1].role == .uplink ? $0 | 1 << UInt64($1) : $0 }
        return (0..<numbers.count).map { connection in
            let count = seen[connection].nonzeroBitCount
            if made[connection] || fewestPoints[connection] < count { return 0 }
            // Never across an uplink, though there are some.
            if uplinks != 0, seen[connection] & uplinks == 0 { return 0 }
            return count > 1 ? 1 : 2
        }
    }

    private func rankWithSet(_ groups: [Group], hasUplink: Bool) -> Int {
        var seen: Set<Int> = []
        for group in groups {
            if group.label.hasPrefix("RST") || group.label.hasPrefix("ICMP") { return 0 }
            for sighting in group.sightings { seen.insert(sighting.point) }
        }
        if groups.contains(where: { $0.sightings.count < seen.count }) { return 0 }
        if !seen.contains(where: { points[$0].role == .uplink }), hasUplink { return 0 }
        return seen.count > 1 ? 1 : 2
    }

    /// One connection's ladder: its key packets, and its last data each way, in time order.
    func connection(_ keyGroups: [Group], lastData: [(key: Key, sighting: Sighting)], origin: Int64) -> PathConnection {
        var groups = keyGroups
        let podEnd = groups.flatMap(\.sightings).filter { points[$0.point].role == .podVeth }.min { $0.nanos < $1.nanos }
        let path = podEnd.map { order(groups, podEnd: $0.point) } ?? [:]
        let podSide = podEnd.map { podSides(groups, podEnd: $0.point) } ?? [:]
        groups = (groups + lastDataGroups(lastData, podSide: podSide)).sorted {
            ($0.sightings.first?.nanos ?? 0) < ($1.sightings.first?.nanos ?? 0)
        }
        var seenViews: [Int: Sighting] = [:]
        for sighting in groups.flatMap(\.sightings) where seenViews[sighting.point] == nil { seenViews[sighting.point] = sighting }
        let views = seenViews.keys.sorted().compactMap { point in
            seenViews[point].map { "\(points[point].name): \($0.from) > \($0.to)" }
        }
        var ladder: [PathHop] = []
        var inboundTTL: [Int: UInt8] = [:]
        for group in groups {
            let outbound = direction(group, podSide: podSide)
            var hop = PathHop(packet: group.label, direction: outbound.map { $0 ? "outbound" : "inbound" },
                              seen: group.sightings.map { sighting in
                                  PathSighting(point: points[sighting.point].name, time: Double(sighting.nanos - origin) / 1e9,
                                               ttl: sighting.ttl, packet: sighting.packet, from: sighting.from.description, to: sighting.to.description)
                              }, missedAt: [], stoppedOn: nil, sender: nil, finding: nil)
            if let outbound, let podEnd { attribute(&hop, group, outbound: outbound, path: path, podEnd: podEnd.point, earlierTTL: inboundTTL) }
            if outbound == false { for sighting in group.sightings { inboundTTL[sighting.point] = sighting.ttl } }
            ladder.append(hop)
        }
        return PathConnection(pod: podEnd.flatMap { points[$0.point].pod }, views: views, ladder: ladder)
    }

    /// Each way, the latest data segment any point saw, with every point whose last data it was too.
    func lastDataGroups(_ entries: [(key: Key, sighting: Sighting)], podSide: [Int: Endpoint]) -> [Group] {
        var groups: [Group] = []
        for outbound in [true, false] {
            let way = entries.filter { entry in podSide[entry.sighting.point].map { (entry.sighting.from == $0) == outbound } ?? false }
            guard let latest = way.max(by: { $0.sighting.nanos < $1.sighting.nanos }) else { continue }
            let seen = way.filter { $0.key == latest.key }.map { $0.sighting }.sorted { $0.nanos < $1.nanos }
            groups.append(Group(label: "last DATA", sightings: seen))
        }
        return groups
    }

    /// The rank of each point on this connection's path (see the type's comment).
    func order(_ groups: [Group], podEnd: Int) -> [Int: Int] {
        let node = points[podEnd].node
        let seen = Set(groups.flatMap(\.sightings).map(\.point))
        let sameNodePeer = seen.contains { $0 != podEnd && points[$0].role == .podVeth && points[$0].node == node }
        let nodesSeen = Set(seen.map { points[$0].node })
        var path: [Int: Int] = [podEnd: 0]
        let ownUplinks = points.indices.filter { points[$0].role == .uplink && points[$0].node == node }
        // The node's uplinks that carried the connection; all of them when none did (which one would have is unknown).
        let carrying = ownUplinks.filter(seen.contains)
        if !sameNodePeer { for point in carrying.isEmpty ? ownUplinks : carrying { path[point] = 1 } }
        for (index, point) in points.enumerated() where index != podEnd && path[index] == nil {
            if point.role == .uplink, point.node != node, seen.contains(index) { path[index] = 2 }
            if point.role == .podVeth, seen.contains(index) || (point.node != node && nodesSeen.contains(point.node)) { path[index] = 3 }
        }
        return path
    }

    /// The pod's own endpoint at its veth: the one with the pod's address, else the sender of the
    /// first SYN, SYN-ACK or FIN that the veth saw before any other point (a RST or an ICMP error
    /// may be made on the way, so they do not tell).
    func podSide(_ groups: [Group], podEnd: Int) -> Endpoint? {
        let addresses = points[podEnd].addresses.compactMap(IPAddress.init)
        for sighting in groups.flatMap(\.sightings) where sighting.point == podEnd && !addresses.isEmpty {
            if addresses.contains(sighting.from.address) { return sighting.from }
            if addresses.contains(sighting.to.address) { return sighting.to }
        }
        for group in groups where !group.label.hasPrefix("RST") && !group.label.hasPrefix("ICMP") {
            guard let atVeth = group.sightings.first(where: { $0.point == podEnd }) else { continue }
            return group.sightings.allSatisfy({ $0.nanos >= atVeth.nanos }) ? atVeth.from : atVeth.to
        }
        return nil
    }

    /// The pod's own endpoint at each point, learnt from packets seen at the pod's veth and elsewhere.
    func podSides(_ groups: [Group], podEnd: Int) -> [Int: Endpoint] {
        guard let own = podSide(groups, podEnd: podEnd) else { return [:] }
        var sides: [Int: Endpoint] = [podEnd: own]
        for group in groups {
            guard let atVeth = group.sightings.first(where: { $0.point == podEnd }), let side = sides[podEnd] else { continue }
            let outbound = atVeth.from == side
            for sighting in group.sightings where sides[sighting.point] == nil {
                sides[sighting.point] = outbound ? sighting.from : sighting.to
            }
        }
        return sides
    }

    /// True when the packet travels away from the pod, false toward it, nil when no point tells.
    func direction(_ group: Group, podSide: [Int: Endpoint]) -> Bool? {
        for sighting in group.sightings {
            guard let side = podSide[sighting.point] else { continue }
            if sighting.from == side { return true }
            if sighting.to == side { return false }
        }
        return nil
    }
}
