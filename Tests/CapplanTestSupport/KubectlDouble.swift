import Foundation

/// The kubectl test double (Tests/Fixtures/kubectl/kubectl) with one scenario: the rules it
/// answers by, kept in a file that stands where kubectl's kubeconfig does (`--kubeconfig FILE`),
/// so each test has its own cluster without touching the environment. Every call is logged.
public final class KubectlDouble {
    /// The double's folder: put first on PATH, `kubectl` there is the double.
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kubectl").path
    public static let executable = folder + "/kubectl"

    /// The scenario file; pass it as the kubeconfig.
    public let kubeconfig: String

    public init(_ rules: [Rule]) throws {
        kubeconfig = Crafter.directory + "/kubectl-double-\(UUID().uuidString).json"
        try? FileManager.default.createDirectory(atPath: Crafter.directory, withIntermediateDirectories: true)
        try answer(rules)
    }

    /// Replaces the rules (a later call sees the new ones).
    public func answer(_ rules: [Rule]) throws {
        let data = try JSONSerialization.data(withJSONObject: ["rules": rules.map(\.json)], options: [.prettyPrinted])
        try data.write(to: URL(fileURLWithPath: kubeconfig))
    }

    /// `kubectl --kubeconfig SCENARIO`: the argv prefix capplan's Kubectl takes.
    public var argv: [String] { [Self.executable, "--kubeconfig", kubeconfig] }

    /// Every call so far, each the whole argv after `kubectl`.
    public var calls: [[String]] {
        let text = (try? String(contentsOfFile: kubeconfig + ".log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }
    }

    /// A recorded answer of the lab (Tests/Fixtures/kubectl/lab), as text.
    public static func recorded(_ name: String) throws -> String {
        try String(contentsOfFile: folder + "/lab/" + name, encoding: .utf8)
    }

    /// One answer: for calls matching `argv` ("*" any one argument, "**" any rest).
    public struct Rule {
        public var json: [String: Any]

        public init(_ argv: [String], stdout: String = "", file: String? = nil, stderr: String = "", status: Int = 0, sleep: Double = 0) {
            json = ["argv": argv, "stdout": stdout, "stderr": stderr, "status": status, "sleep": sleep]
            if let file { json["stdoutFile"] = "lab/" + file }
        }

        /// An error exactly as kubectl reports it: its recorded stderr and exit status 1.
        public static func failing(_ argv: [String], stderrFile: String) throws -> Rule {
            Rule(argv, stderr: try KubectlDouble.recorded(stderrFile), status: 1)
        }
    }
}
