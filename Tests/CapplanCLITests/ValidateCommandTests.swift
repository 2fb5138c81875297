import Foundation
import Testing

struct ValidateCommandTests {
    static let broken = """
        apiVersion: capplan/v1
        kind: CapturePlan
        metadata: {name: t}
        target: {local: {}}
        capture:
          duraton: 60s
          filter: tcp prot 443

        """

    static func temporaryPlan(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("capplan-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func shippedPlansAreValid() {
        let plans = ["lb-rst", "ingress-any", "dns-failures", "db-refused"].map { Repository.path("plans/\($0).yaml") }
        let result = runCLI(["validate"] + plans)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == plans.count)
        #expect(result.stderr.isEmpty)
    }

    @Test func invalidPlanExitsOneWithEveryProblem() throws {
        let path = try Self.temporaryPlan(Self.broken)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = runCLI("validate", path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(path):6:3: error: capture: unknown key 'duraton' in capture; did you mean 'duration'?"))
        #expect(result.stderr.contains("\(path):7:11: error: capture.filter: libpcap rejects the filter"))
        #expect(result.stderr.contains("invalid (2 errors)"))
    }

    @Test func jsonFormatIsMachineReadable() throws {
        let path = try Self.temporaryPlan(Self.broken)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = runCLI("validate", "--format", "json", path, Repository.path("plans/lb-rst.yaml"))
        #expect(result.status == 1)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let files = try #require(document["files"] as? [[String: Any]])
        #expect(files.map { $0["valid"] as? Bool } == [false, true])
        let first = try #require((files.first?["diagnostics"] as? [[String: Any]])?.first)
        #expect(first["line"] as? Int == 6)
        #expect(first["column"] as? Int == 3)
        #expect(first["severity"] as? String == "error")
        #expect(first["field"] as? String == "capture")
    }

    @Test func unreadableFileIsUsageError() {
        let result = runCLI("validate", "/nonexistent/plan.yaml")
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot read /nonexistent/plan.yaml: No such file or directory"))
    }

    @Test func badUsageExitsTwo() {
        #expect(runCLI("validate").status == 2)
        #expect(runCLI("validate", "--format", "xml", "x.yaml").status == 2)
        #expect(runCLI("frobnicate").status == 2)
    }

    @Test func helpTeachesWithExamples() {
        let root = runCLI("--help")
        #expect(root.status == 0)
        #expect(root.stdout.contains("capplan validate plans/lb-rst.yaml"))
        for command in ["validate", "plan", "schema"] {
            let help = runCLI(command, "--help")
            #expect(help.status == 0)
            #expect(help.stdout.contains("Examples:"), "\(command) --help has no examples")
        }
        #expect(runCLI("--version").stdout == "0.2.0\n")
    }
}
