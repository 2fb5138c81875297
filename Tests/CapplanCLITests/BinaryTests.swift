import Foundation
import Testing

/// A few end-to-end runs of the real executable, as a user types them.
struct BinaryTests {
    @Test func validatesTheShippedPlans() throws {
        let result = try runBinary(["validate", "plans/lb-rst.yaml", "plans/ingress-any.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout == "plans/lb-rst.yaml: valid\nplans/ingress-any.yaml: valid\n")
    }

    @Test func exitCodesAreDocumented() throws {
        let path = try ValidateCommandTests.temporaryPlan(ValidateCommandTests.broken)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try runBinary(["validate", path]).status == 1)
        #expect(try runBinary(["validate", "missing.yaml"]).status == 2)
        #expect(try runBinary(["--no-such-flag"]).status == 2)
        #expect(try runBinary(["--help"]).status == 0)
    }

    @Test func planPrintsStepsAndChangesNothing() throws {
        let result = try runBinary(["plan", "plans/lb-rst.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("+ 4. Deploy the capture helper pod"))
        #expect(result.stdout.contains("Nothing has been changed."))
    }
}
