public import CapplanPackets

/// What an address is in the cluster: `pod myapp/web-1`, `node worker-2`, `external`.
public struct Identity: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case pod, node, service, loadBalancer = "loadbalancer", external, other
    }

    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// `pod myapp/web-1`, or just `external` when the name says no more.
    public var description: String {
        name.isEmpty || name == kind.rawValue ? kindWord : "\(kindWord) \(name)"
    }

    var kindWord: String { kind == .loadBalancer ? "load balancer" : kind.rawValue }
}

/// Address or CIDR → identity; the most specific block wins. Filled from a labels
/// file by `capplan report --labels`, and from the cluster by `apply`.
public struct IdentityMap: Sendable {
    /// Single addresses (a /32 or a /128): most of what a run names (its pods, Services and
    /// nodes), looked up by hash; the first named wins. Their names in the order added, as well.
    private var hosts: [IPAddress: Identity] = [:]
    private var hostEntries: [(address: IPAddress, identity: Identity)] = []
    /// Blocks, longest prefix first (the first that holds an address names it; in the order added among equals).
    private var blocks: [(block: CIDR, identity: Identity)] = []

    public init() {}

    public init(_ entries: [(CIDR, Identity)]) {
        for (block, identity) in entries { add(block, identity) }
    }

    public mutating func add(_ block: CIDR, _ identity: Identity) {
        guard block.prefixLength < block.address.bitCount else {
            if hosts[block.address] == nil { hosts[block.address] = identity }
            hostEntries.append((block.address, identity))
            return
        }
        // Kept in order as it grows: a map holds few blocks (a labels file's, the cluster's pod networks).
        let at = blocks.firstIndex { $0.block.prefixLength < block.prefixLength } ?? blocks.endIndex
        blocks.insert((block, identity), at: at)
    }

    public var isEmpty: Bool { hosts.isEmpty && blocks.isEmpty }

    /// The same identities on other addresses: the run's pseudonyms, when the capture's addresses
    /// are pseudonymized (prefix-preserving, so a block stays a block of the same length).
    public func mapped(_ address: (IPAddress) -> IPAddress) -> IdentityMap {
        var map = IdentityMap()
        for (host, identity) in hostEntries { map.add(CIDR(address: address(host), prefixLength: host.bitCount), identity) }
        for (block, identity) in blocks { map.add(CIDR(address: address(block.address), prefixLength: block.prefixLength), identity) }
        return map
    }

    public func identity(of address: IPAddress) -> Identity? {
        hosts[address] ?? blocks.first { $0.block.contains(address) }?.identity
    }
}

extension IdentityMap {
    /// The single addresses the map names, each with a host name in DNS form (`web-1.myapp.pod`,
    /// `blocked.myapp.svc`, `worker-2.node`): for a pcapng's name resolution, so Wireshark shows them.
    public var hostNames: [(address: IPAddress, names: [String])] {
        // IPv6 first, as when every entry was sorted by prefix length.
        let ordered = hostEntries.filter { $0.address.isIPv6 } + hostEntries.filter { !$0.address.isIPv6 }
        return ordered.map { ($0.address, [$0.identity.hostName]) }
    }
}

extension Identity {
    /// The identity a `hostName` names (`web-1.myapp.pod` → pod myapp/web-1), nil for any other name.
    public init?(hostName: String) {
        let parts = hostName.split(separator: ".").map(String.init)
        guard parts.count >= 2, let last = parts.last,
              let kind = last == "svc" ? .service : Kind(rawValue: last) else { return nil }
        self.init(name: parts.dropLast().reversed().joined(separator: "/"), kind: kind)
    }

    /// `namespace/name` as `name.namespace`, then the kind (`svc` for a Service); any other character becomes `-`.
    public var hostName: String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        let parts = name.split(separator: "/").reversed().map { String($0.map { allowed.contains($0) ? $0 : "-" }) }
        let suffix = kind == .service ? "svc" : kind.rawValue
        return (parts + [suffix]).joined(separator: ".")
    }
}
