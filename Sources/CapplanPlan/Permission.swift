/// One thing the plan's account must be allowed to do, as `kubectl auth can-i` asks it.
public struct Permission: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
    public var verbs: [String]
    /// `pods`, `nodes`, `namespaces`, or a subresource such as `pods/exec`.
    public var resource: String
    /// Nil for cluster-scoped resources.
    public var namespace: String?

    public init(_ verbs: [String], _ resource: String, in namespace: String? = nil) {
        self.verbs = verbs
        self.resource = resource
        self.namespace = namespace
    }

    /// "get,list pods in myapp"
    public var description: String {
        verbs.joined(separator: ",") + " " + resource + (namespace.map { " in \($0)" } ?? "")
    }

    /// The `kubectl auth can-i` arguments for one verb of it.
    public func canI(_ verb: String) -> [String] {
        let parts = resource.split(separator: "/", maxSplits: 1).map(String.init)
        return ["auth", "can-i", verb, parts[0]] + (parts.count > 1 ? ["--subresource=\(parts[1])"] : [])
            + (namespace.map { ["-n", $0] } ?? [])
    }
}
