extension Summary {
    /// The same summary with packet numbers as a file holding only some of the packets numbers them
    /// (`capture.keep`): `number` gives a packet's number in that file, nil when it is not there.
    /// Lists of evidence leave such packets out; a single packet number becomes 0 ("not in the file").
    public func renumbered(_ number: (Int) -> Int?) -> Summary {
        var summary = self
        for index in summary.findings.indices {
            let finding = summary.findings[index]
            let parallel = finding.times.count == finding.packets.count
            let kept = finding.packets.indices.compactMap { at in number(finding.packets[at]).map { (at, $0) } }
            summary.findings[index].packets = kept.map(\.1)
            if parallel { summary.findings[index].times = kept.map { finding.times[$0.0] } }
        }
        for index in summary.resets.indices { summary.resets[index].event.packet = number(resets[index].event.packet) ?? 0 }
        for index in summary.refused.indices { summary.refused[index].packets = refused[index].packets.compactMap(number) }
        for index in summary.unansweredSyns.indices { summary.unansweredSyns[index].packets = unansweredSyns[index].packets.compactMap(number) }
        for index in summary.icmpErrors.indices { summary.icmpErrors[index].packet = number(icmpErrors[index].packet) ?? 0 }
        for index in summary.dnsFailures.indices { summary.dnsFailures[index].packet = number(dnsFailures[index].packet) ?? 0 }
        for index in summary.connections.list.indices {
            summary.connections.list[index].firstPacket = number(connections.list[index].firstPacket) ?? 0
        }
        if var path = summary.path {
            for connection in path.connections.indices {
                for hop in path.connections[connection].ladder.indices {
                    // A sighting stays: the packet was seen there, even where the file does not hold it.
                    for at in path.connections[connection].ladder[hop].seen.indices {
                        path.connections[connection].ladder[hop].seen[at].packet = number(path.connections[connection].ladder[hop].seen[at].packet) ?? 0
                    }
                }
            }
            summary.path = path
        }
        return summary
    }
}
