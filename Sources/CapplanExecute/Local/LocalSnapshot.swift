import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import CapplanPlan
import Foundation

/// The local target read the runbook's way, for `plan` and `apply` alike: a "pod" is a network
/// namespace, its host-side interface the one whose index is the namespace's eth0 iflink, found
/// among the interfaces of the namespace that plays the node (or this machine's own).
public struct LocalSnapshot: Sendable {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The namespace that plays the node (capture happens there), nil for this machine's own.
    public var netns: String?

    public init(netns: String?) { self.netns = netns }

    public func read(_ plan: Plan) throws -> TargetSnapshot {
        let (status, output, _) = try Processes.run(["ip"] + (netns.map { ["-n", $0] } ?? []) + ["-o", "link"])
        guard status == 0 else { throw Failure(description: "ip -o link failed\(netns.map { " in network namespace \($0): does it exist?" } ?? "")") }
        let links = IPLink.parse(output)
        var pods: [TargetSnapshot.Pod] = []
        for selection in plan.pods {
            guard case .name(let namespace) = selection.match else { continue }
            // Unreadable (no such namespace, or no eth0): the planner says so if the plan needs it.
            let (status, output, _) = try Processes.run(["ip", "netns", "exec", namespace, "cat", "/sys/class/net/eth0/iflink"])
            let index = status == 0 ? Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) : nil
            pods.append(TargetSnapshot.Pod(namespace: "", name: namespace, ips: addresses(of: namespace).map(\.description),
                                           peerIndex: index, peerName: index.flatMap { links[$0] }))
        }
        var routes: [String: String] = [:]
        if case .path = plan.interfaces {
            for address in Planner.namedFarEnds(plan) { routes[address] = try route(toward: address) }
        }
        return TargetSnapshot(pods: pods, links: Array(links.values).sorted(), routes: routes)
    }

    /// The interface of the capture host's route toward `address`; nil when there is none.
    private func route(toward address: String) throws -> String? {
        let (status, output, _) = try Processes.run(["ip"] + (netns.map { ["-n", $0] } ?? []) + ["-o", "route", "get", address])
        guard status == 0 else { return nil }
        return IPLink.device(inRoute: output)
    }

    /// The pods' addresses, as the snapshot read them, for the identity map.
    public static func identities(of snapshot: TargetSnapshot) -> IdentityMap {
        var map = IdentityMap()
        for pod in snapshot.pods {
            for address in pod.ips.compactMap(IPAddress.init) {
                map.add(CIDR(address: address, prefixLength: address.bitCount), Identity(name: pod.name, kind: .pod))
            }
        }
        return map
    }

    /// A namespace's addresses, without loopback and IPv6 link-local ones.
    private func addresses(of namespace: String) -> [IPAddress] {
        guard let (status, output, _) = try? Processes.run(["ip", "-n", namespace, "-o", "addr", "show"]), status == 0 else { return [] }
        return output.split(separator: "\n").filter { !$0.contains(" lo ") }.compactMap { line in
            let words = line.split(separator: " ")
            guard let at = words.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), at + 1 < words.count,
                  let address = IPAddress(String(words[at + 1].split(separator: "/")[0])),
                  !(address.isIPv6 && address.high >> 54 == 0x3FA) else { return nil }
            return address
        }
    }
}
