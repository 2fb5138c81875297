/// What `capplan plan --format json` prints and `capplan apply --planned` reads back.
public struct PlanDocument: Codable, Sendable {
    public var version = 1
    public var plan: String
    public var steps: [Step]
    /// What the planner was told about the target, one line a fact (nil offline).
    public var cluster: [String]?

    public init(plan: String, steps: [Step], cluster: [String]?) {
        self.plan = plan
        self.steps = steps
        self.cluster = cluster
    }
}
