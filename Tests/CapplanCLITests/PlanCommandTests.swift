import Foundation
import Testing

struct PlanCommandTests {
    /// The terraform-like text of every shipped plan, pinned as golden files.
    @Test(arguments: ["lb-rst", "ingress-any", "dns-failures", "db-refused"])
    func planOutputMatchesGolden(_ name: String) throws {
        let result = runCLI("plan", "--offline", "plans/\(name).yaml".absoluteInRepository)
        #expect(result.status == 0, "\(result.stderr)")
        let relative = result.stdout.replacingOccurrences(of: Repository.root.path + "/", with: "")
        try expectGolden(relative, "Tests/CapplanCLITests/Golden/plan-\(name).txt")
    }

    @Test func jsonStepsDecode() throws {
        let result = runCLI("plan", "--offline", "--format", "json", "plans/lb-rst.yaml".absoluteInRepository)
        #expect(result.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let steps = try #require(document["steps"] as? [[String: Any]])
        #expect(steps.count == 11)
        #expect(steps.map { $0["number"] as? Int } == Array(1...11))
    }

    @Test func invalidPlanIsNotPlanned() throws {
        let path = try ValidateCommandTests.temporaryPlan(ValidateCommandTests.broken)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = runCLI("plan", path)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("did you mean 'duration'?"))
    }
}

extension String {
    var absoluteInRepository: String { Repository.path(self) }
}
