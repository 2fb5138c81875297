import CapplanAnalyse
import CapplanPackets

/// Addresses → who they are in the cluster: pods, nodes, services, load balancers; a node's pod
/// range says "pod network" for pods capplan could not list; everything else is external.
enum ClusterIdentities {
    static func map(_ cluster: ClusterSnapshot) -> IdentityMap {
        var map = IdentityMap()
        for everything in ["0.0.0.0/0", "::/0"] {
            if case .success(let block) = CIDR.parse(everything) { map.add(block, Identity(name: "", kind: .external)) }
        }
        for node in cluster.nodes {
            if let range = node.spec?.podCIDR, case .success(let block) = CIDR.parse(range) {
                map.add(block, Identity(name: "pod network of node \(node.name)", kind: .other))
            }
        }
        func add(_ text: String?, _ identity: Identity) {
            guard let text, let address = IPAddress(text) else { return }
            map.add(CIDR(address: address, prefixLength: address.bitCount), identity)
        }
        for node in cluster.nodes {
            for address in node.status?.addresses ?? [] where address.type.hasSuffix("IP") { add(address.address, Identity(name: node.name, kind: .node)) }
        }
        for service in cluster.services {
            let name = "\(service.metadata.namespace ?? "default")/\(service.metadata.name)"
            for ip in (service.spec?.clusterIPs ?? []) + [service.spec?.clusterIP].compactMap({ $0 }) where ip != "None" {
                add(ip, Identity(name: name, kind: .service))
            }
            for ip in service.spec?.externalIPs ?? [] { add(ip, Identity(name: name, kind: .service)) }
            for ingress in service.status?.loadBalancer?.ingress ?? [] { add(ingress.ip, Identity(name: name, kind: .loadBalancer)) }
        }
        for pod in cluster.pods where !(pod.spec?.hostNetwork ?? false) {
            for ip in pod.ips { add(ip, Identity(name: "\(pod.namespace)/\(pod.name)", kind: .pod)) }
        }
        return map
    }
}
