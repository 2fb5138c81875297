import CapplanAnalyse
import CapplanLoad
import CapplanPackets
import Foundation

/// The local target's facts, found the runbook's way: a "pod" is a network namespace, its
/// host-side interface the one whose index is the namespace's eth0 iflink.
public struct LocalTarget: Sendable {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The namespace that plays the node (capture happens there), nil for this machine's own.
    public var netns: String?

    /// `ip [-n NETNS] ARGS...`
    private func ip(_ arguments: [String]) -> [String] {
        ["ip"] + (netns.map { ["-n", $0] } ?? []) + arguments
    }

    public func resolveInterfaces(_ selection: InterfaceSelection, pods: [PodSelection], journal: Journal) throws -> [ResolvedInterface] {
        switch selection {
        case .any:
            return [ResolvedInterface(name: "any", method: "any: every interface")]
        case .named(let names):
            let known = try links()
            for name in names where !known.values.contains(name) && name != "any" {
                throw Failure(description: "interface \(name) does not exist\(netns.map { " in network namespace \($0)" } ?? ""); known: \(known.values.sorted().joined(separator: ", "))")
            }
            return names.map { ResolvedInterface(name: $0, method: "named in the plan") }
        case .pods:
            let known = try links()
            return try pods.map { pod in
                guard case .name(let namespace) = pod.match else { throw Failure(description: "a local pod is a network namespace name") }
                let argv = ["ip", "netns", "exec", namespace, "cat", "/sys/class/net/eth0/iflink"]
                journal.note("run: \(argv.joined(separator: " "))")
                let (status, output, _) = try Processes.run(argv)
                guard status == 0, let index = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw Failure(description: "cannot read eth0's iflink in network namespace \(namespace): is it a pod of the lab (ip netns list)?")
                }
                guard let name = known[index] else {
                    throw Failure(description: "no interface with index \(index) (eth0's peer of \(namespace))\(netns.map { " in \($0)" } ?? "")")
                }
                return ResolvedInterface(name: name, method: "\(namespace): eth0 iflink \(index) -> \(name)")
            }
        }
    }

    /// Interface index → name in the capture namespace (`ip -o link`).
    func links() throws -> [Int: String] {
        let (status, output, _) = try Processes.run(ip(["-o", "link"]))
        guard status == 0 else { throw Failure(description: "ip -o link failed\(netns.map { " in network namespace \($0): does it exist?" } ?? "")") }
        var result: [Int: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count >= 2, let index = Int(parts[0]) else { continue }
            let name = parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init) ?? ""
            result[index] = name
        }
        return result
    }

    /// Pods' addresses, as the identity map's pods.
    public func identities(of pods: [PodSelection]) -> IdentityMap {
        var map = IdentityMap()
        for pod in pods {
            guard case .name(let namespace) = pod.match,
                  let (status, output, _) = try? Processes.run(["ip", "-n", namespace, "-o", "addr", "show"]), status == 0 else { continue }
            for line in output.split(separator: "\n") where !line.contains(" lo ") {
                let words = line.split(separator: " ")
                guard let at = words.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), at + 1 < words.count,
                      let address = IPAddress(String(words[at + 1].split(separator: "/")[0])),
                      !(address.isIPv6 && address.high >> 54 == 0x3FA) else { continue }  // not link-local
                map.add(CIDR(address: address, prefixLength: address.bitCount), Identity(name: namespace, kind: .pod))
            }
        }
        return map
    }
}

