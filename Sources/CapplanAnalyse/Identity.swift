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
    private var entries: [(block: CIDR, identity: Identity)] = []

    public init() {}

    public init(_ entries: [(CIDR, Identity)]) {
        for (block, identity) in entries { add(block, identity) }
    }

    public mutating func add(_ block: CIDR, _ identity: Identity) {
        entries.append((block, identity))
        entries.sort { $0.block.prefixLength > $1.block.prefixLength }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The same identities on other addresses: the run's pseudonyms, when the capture's addresses
    /// are pseudonymized (prefix-preserving, so a block stays a block of the same length).
    public func mapped(_ address: (IPAddress) -> IPAddress) -> IdentityMap {
        IdentityMap(entries.map { (CIDR(address: address($0.block.address), prefixLength: $0.block.prefixLength), $0.identity) })
    }

    public func identity(of address: IPAddress) -> Identity? {
        entries.first { $0.block.contains(address) }?.identity
    }
}

extension IdentityMap {
    /// The single addresses the map names, each with a host name in DNS form (`web-1.myapp.pod`,
    /// `blocked.myapp.svc`, `worker-2.node`): for a pcapng's name resolution, so Wireshark shows them.
    public var hostNames: [(address: IPAddress, names: [String])] {
        entries.filter { $0.block.prefixLength == $0.block.address.bitCount }.map { entry in
            (entry.block.address, [entry.identity.hostName])
        }
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
