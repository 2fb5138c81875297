import CapplanTestSupport
import Foundation
import Testing

/// `capplan apply` and `capplan cleanup` as a user runs them, against the kubectl double on PATH
/// (no cluster, no root): Ctrl-C while the API server is slow, and an undo the cluster refuses.
struct KubectlDoubleApplyTests {
    typealias Rule = KubectlDouble.Rule

    /// capplan's environment with the double first on PATH: `kubectl` is the double.
    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = KubectlDouble.folder + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        return environment
    }

    /// The lab as recorded, up to a helper pod whose creation hangs (a slow API server); the
    /// helper's deletion is refused by RBAC, the other undos work.
    static func slowCreateRules() throws -> [Rule] {
        [
            Rule(["auth", "can-i", "**"], stdout: "yes\n"),
            Rule(["get", "nodes", "-o", "json"], file: "nodes.json"),
            Rule(["get", "pods", "--all-namespaces", "-o", "json"], file: "pods.json"),
            Rule(["get", "services", "--all-namespaces", "-o", "json"], file: "services.json"),
            try .failing(["get", "namespace", "capplan-system", "-o", "json"], stderrFile: "namespace-notfound.stderr"),
            Rule(["exec", "-n", "myapp", "myapppod", "-c", "app", "--", "cat", "/sys/class/net/eth0/iflink"], file: "iflink.txt"),
            Rule(["patch", "node", "*", "**"], stdout: "node/patched\n"),
            Rule(["create", "-f", "*/namespace-capplan-system.json"], stdout: "namespace/capplan-system created\n"),
            Rule(["create", "-f", "*/helper-*.json"], sleep: 60),
            try .failing(["delete", "pod", "-n", "capplan-system", "capplan-*", "**"], stderrFile: "delete-forbidden.stderr"),
            Rule(["get", "node", "*", "-o", "**"], stdout: ""),
            Rule(["get", "namespace", "capplan-system", "--ignore-not-found", "**"], stdout: "capplan"),
            Rule(["get", "pods", "-n", "capplan-system", "**"], stdout: ""),
            Rule(["delete", "namespace", "capplan-system", "**"], stdout: "namespace \"capplan-system\" deleted\n"),
        ]
    }

    @Test func ctrlCDuringASlowCreateUndoesWhatItCanAndCleanupFinishes() throws {
        let double = try KubectlDouble(try Self.slowCreateRules())
        let (path, runs) = try planCopy("examples/lab/lb-rst.yaml") {
            $0.replacingOccurrences(of: "/var/tmp/capplan-k8s-lab/pki/admin.kubeconfig", with: double.kubeconfig)
        }
        let errors = Crafter.directory + "/apply-\(UUID().uuidString).err"
        let process = try startBinary(["apply", path], environment: Self.environment, errors: errors)
        let directory = try #require(try waitForRunDirectory(runs))
        #expect(waitForSteps(directory, "created namespace") && waitForSteps(directory, "cordoned lab-node-2"), "the run reached the helper")
        Thread.sleep(forTimeInterval: 1)
        let interrupted = Date()
        kill(process.processIdentifier, SIGINT)
        #expect(waitForExit(process, timeout: 30))
        #expect(process.terminationStatus == 130)
        #expect(Date().timeIntervalSince(interrupted) < 15, "the 60 s create was cut short")

        let said = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(said.contains("cleaning up (deadline 2m30s)"), "\(said)")
        #expect(said.contains("NOT DONE: deleting pod capplan-system/capplan-") && said.contains("forbidden"), "\(said)")
        #expect(said.contains("1 change was not undone (above); capplan cleanup \(directory) finishes the job"), "\(said)")
        let calls = double.calls.map { $0.dropFirst(2).prefix(2).joined(separator: " ") }
        let refused = try #require(calls.firstIndex(of: "delete pod"))
        #expect(calls[refused...].contains("delete namespace"), "the undos after the refused one still ran")
        #expect(try pendingUndos(directory).map { $0["what"] as? String } == ["helper pod on vm"])

        try double.answer(try Self.slowCreateRules().filter { $0.json["argv"] as? [String] != ["delete", "pod", "-n", "capplan-system", "capplan-*", "**"] }
                          + [Rule(["delete", "pod", "-n", "capplan-system", "capplan-*", "**"], file: "delete-pod.txt")])
        let cleanup = try runBinary(["cleanup", directory], environment: Self.environment)
        #expect(cleanup.status == 0, "\(cleanup.stderr)")
        #expect(cleanup.stdout.contains("(helper pod on vm): deleted pod capplan-system/capplan-"), "\(cleanup.stdout)")
        #expect(try pendingUndos(directory).isEmpty)
    }

    func pendingUndos(_ directory: String) throws -> [[String: Any]] {
        let journal = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/journal.json"))) as? [String: Any])
        return ((journal["entries"] as? [[String: Any]]) ?? []).filter { $0["undone"] as? Bool == false }
    }
}

/// The run directory a plan copy's run makes, once it exists.
func waitForRunDirectory(_ runs: String, timeout: TimeInterval = 30) throws -> String? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let first = try? FileManager.default.contentsOfDirectory(atPath: runs).first { return runs + "/" + first }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return nil
}

/// Waits until steps.log has a line with `marker`.
func waitForSteps(_ directory: String, _ marker: String, timeout: TimeInterval = 90) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let log = try? String(contentsOfFile: directory + "/steps.log", encoding: .utf8), log.contains(marker) { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return false
}
