import Foundation
import Testing

struct SchemaCommandTests {
    /// The committed schema and field reference are exactly what `capplan schema` prints,
    /// so they cannot drift from the loader (CAPPLAN_RECORD=1 rewrites them).
    @Test func committedSchemaIsCurrent() throws {
        try expectGolden(runCLI("schema").stdout, "schema/capplan-v1.schema.json")
    }

    @Test func committedFieldReferenceIsCurrent() throws {
        try expectGolden(runCLI("schema", "--format", "markdown").stdout, "docs/plan-reference.md")
    }

    /// The reference jsonschema implementation (Python) agrees with the loader:
    /// it accepts every shipped plan and rejects plans the loader rejects for their shape.
    @Test func referenceValidatorAgreesWithTheLoader() throws {
        let schema = Repository.path("schema/capplan-v1.schema.json")
        let plans = try FileManager.default.contentsOfDirectory(atPath: Repository.path("plans"))
            .filter { $0.hasSuffix(".yaml") }.map { Repository.path("plans/\($0)") }
        let accepted = try runPython([schema] + plans)
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")

        let head = "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {local: {}}\n"
        let shapes = [
            head + "capture: {duraton: 60s}\n",
            head + "capture: {duration: 90q}\n",
            head + "capture: {maxBytes: 5MQ}\n",
            head + "capture: {snaplen: 300000}\n",
            head + "pods: app=x\n",
            head + "pods: [{name: a, selector: app=b}]\n",
            head + "redact: {key: {env: 9KEY}}\n",
            head + "stop: {when: rst}\n",
            "apiVersion: capplan/v2\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {local: {}}\n",
            "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: Bad_Name}\ntarget: {local: {}}\n",
            "apiVersion: capplan/v1\nkind: CapturePlan\nmetadata: {name: t}\ntarget: {local: {}, kubernetes: {}}\n",
        ]
        for yaml in shapes {
            let path = try ValidateCommandTests.temporaryPlan(yaml)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(runCLI("validate", path).status == 1, "loader accepted:\n\(yaml)")
            let rejected = try runPython([schema, path])
            #expect(rejected.status == 1, "jsonschema accepted:\n\(yaml)\(rejected.stderr)")
        }
    }

    private func runPython(_ arguments: [String]) throws -> CLIResult {
        try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Repository.path("scripts/check-schema.py")] + arguments)
    }
}
