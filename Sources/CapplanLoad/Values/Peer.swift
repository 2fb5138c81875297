public import CapplanPackets

/// Who sent or received something, as an expectation or stop condition names it:
/// `pods` (any pod of the plan), `pod:NAME` or `pod:NAMESPACE/NAME`, `node`, `node:NAME`,
/// `external` (anything outside the cluster), or an address or CIDR. With `interfaces: path`
/// a sender is who made the packet, as the capture points tell; else who its address names.
public enum Peer: Sendable, Hashable, Codable, CustomStringConvertible {
    case pods
    case pod(namespace: String?, name: String)
    case node
    case namedNode(String)
    case external
    case network(CIDR)

    public var description: String {
        switch self {
        case .pods: "pods"
        case .pod(let namespace, let name): "pod:" + (namespace.map { "\($0)/" } ?? "") + name
        case .node: "node"
        case .namedNode(let name): "node:\(name)"
        case .external: "external"
        case .network(let block):
            block.prefixLength == (block.address.isIPv6 ? 128 : 32) ? block.address.description : block.description
        }
    }

    public static func parse(_ text: String) -> Result<Peer, ValueError> {
        switch text {
        case "pods": return .success(.pods)
        case "node": return .success(.node)
        case "external": return .success(.external)
        default: break
        }
        if text.hasPrefix("pod:") {
            let reference = String(text.dropFirst(4))
            return PodReference.parse(reference).map { .pod(namespace: $0.namespace, name: $0.name) }
                .mapError { ValueError($0.message, offset: ($0.offset ?? 0) + 4) }
        }
        if text.hasPrefix("node:") {
            let name = String(text.dropFirst(5))
            if let problem = KubernetesName.checkSubdomain(name, what: "node name") {
                return .failure(ValueError(problem.message, offset: (problem.offset ?? 0) + 5))
            }
            return .success(.namedNode(name))
        }
        if text.contains(":") || text.first?.isNumber == true {
            return CIDR.parseValue(text).map(Peer.network)
        }
        let hint = Suggestion.closest(to: text, in: ["pods", "node", "external"]).map { "; did you mean '\($0)'?" }
            ?? (KubernetesName.checkSubdomain(text, what: "") == nil ? "; for one pod write pod:\(text)" : "")
        return .failure(ValueError("\"\(text)\" is not a peer: use pods, pod:NAME, pod:NAMESPACE/NAME, node, node:NAME, external, an address or a CIDR\(hint)", offset: 0))
    }
}

/// A pod named `NAME` or `NAMESPACE/NAME`.
public struct PodReference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var namespace: String?
    public var name: String

    public var description: String { (namespace.map { "\($0)/" } ?? "") + name }

    public static func parse(_ text: String) -> Result<PodReference, ValueError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            return .failure(ValueError("\"\(text)\" has more than one '/'; write NAME or NAMESPACE/NAME", offset: 0))
        }
        if parts.count == 2 {
            if let problem = KubernetesName.checkLabel(String(parts[0]), what: "namespace") { return .failure(problem) }
            if let problem = KubernetesName.checkSubdomain(String(parts[1]), what: "pod name") {
                return .failure(ValueError(problem.message, offset: parts[0].count + 1 + (problem.offset ?? 0)))
            }
            return .success(PodReference(namespace: String(parts[0]), name: String(parts[1])))
        }
        if let problem = KubernetesName.checkSubdomain(text, what: "pod name") { return .failure(problem) }
        return .success(PodReference(namespace: nil, name: text))
    }
}

extension CIDR {
    /// `CIDR.parse` with its error as a plan value error.
    static func parseValue(_ text: String) -> Result<CIDR, ValueError> {
        CIDR.parse(text).mapError { ValueError($0.message, offset: $0.offset) }
    }
}
