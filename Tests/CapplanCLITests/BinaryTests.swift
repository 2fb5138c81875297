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
        let result = try runBinary(["plan", "--offline", "plans/lb-rst.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("+ 4. Deploy the capture helper pod"))
        #expect(result.stdout.contains("Nothing has been changed."))
    }

    /// Without --offline, a cluster that does not answer is said so, and the steps are still shown.
    @Test func planWithoutAClusterSaysSoAndShowsTheSteps() throws {
        let path = try ValidateCommandTests.temporaryPlan(
            (try String(contentsOfFile: Repository.path("plans/lb-rst.yaml"), encoding: .utf8))
                .replacingOccurrences(of: "    namespace: myapp\n", with: "    namespace: myapp\n    kubeconfig: /nonexistent/kubeconfig\n"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runBinary(["plan", path])
        #expect(result.status == 0)
        #expect(result.stderr.contains("the cluster does not answer"), "\(result.stderr)")
        #expect(result.stdout.contains("resolved at apply time"))
    }

    /// Installed as kubectl-capplan on PATH, it is a kubectl plugin: `kubectl capplan ...`.
    @Test func kubectlRunsItAsAPlugin() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capplan-plugin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("kubectl-capplan").path,
                                                   withDestinationPath: try builtExecutable().path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["kubectl", "capplan", "validate", "plans/lb-rst.yaml"]
        process.currentDirectoryURL = Repository.root
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = directory.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output == "plans/lb-rst.yaml: valid\n")
    }
}
