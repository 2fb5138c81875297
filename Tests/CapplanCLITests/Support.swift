import CapplanCLI
import CapplanTestSupport
import Foundation
import Testing

/// Paths in the package checkout, found from this file's location.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the command line in-process with a capturing console.
func runCLI(_ arguments: String...) -> CLIResult {
    runCLI(arguments)
}

func runCLI(_ arguments: [String]) -> CLIResult {
    let console = Console(capturing: true)
    let status = Console.$current.withValue(console) { Capplan.run(arguments) }
    return CLIResult(status: status, stdout: console.standardOutput, stderr: console.standardError)
}

/// Runs the built `capplan` executable, as a user would, from the package root.
func runBinary(_ arguments: [String], environment: [String: String]? = nil) throws -> CLIResult {
    try runProcess(try builtExecutable(), arguments, environment: environment)
}

/// Runs a program with an argv array from the package root and collects its output.
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> CLIResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = environment
    process.currentDirectoryURL = Repository.root
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                     stderr: String(decoding: stderr, as: UTF8.self))
}

/// The `capplan` binary SwiftPM built next to this test bundle.
func builtExecutable() throws -> URL {
    let candidates = [Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments[0])]
        .compactMap { $0?.deletingLastPathComponent().appendingPathComponent("capplan") }
    return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                        "no capplan binary beside the tests: \(candidates)")
}

/// Compares `actual` with a golden file; `CAPPLAN_RECORD=1 swift test` rewrites it.
func expectGolden(_ actual: String, _ relativePath: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = Repository.path(relativePath)
    if ProcessInfo.processInfo.environment["CAPPLAN_RECORD"] == "1" {
        try actual.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    let expected = try String(contentsOfFile: path, encoding: .utf8)
    #expect(actual == expected, "\(relativePath) differs; if the change is intended, rerun with CAPPLAN_RECORD=1",
            sourceLocation: sourceLocation)
}

/// A copy of a shipped plan (path relative to the repository) whose runs go to a fresh temporary
/// directory, with `change` applied to its text.
func planCopy(_ relative: String, change: (String) -> String = { $0 }) throws -> (path: String, runs: String) {
    let name = ((relative as NSString).lastPathComponent as NSString).deletingPathExtension
    let runs = Crafter.directory + "/runs-\(UUID().uuidString)"
    let text = change(try String(contentsOfFile: Repository.path(relative), encoding: .utf8)) + "output:\n  dir: \(runs)/{name}\n"
    let path = Crafter.directory + "/\(name)-\(UUID().uuidString).yaml"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return (path, runs)
}

/// `capplan plan --format json` of a plan, then `capplan apply` of it: the steps apply performed
/// (run.json's `steps`) are exactly the steps plan printed, each one done. Run-time values aside:
/// the run id that apply made up stands where plan shows RUNID.
func expectApplyPerformsThePlan(_ plan: String, apply: [String] = ["--quiet"], sourceLocation: SourceLocation = #_sourceLocation) throws -> (CLIResult, String) {
    let planned = try runBinary(["plan", "--format", "json", plan])
    #expect(planned.status == 0, "\(planned.stderr)", sourceLocation: sourceLocation)
    let runs = try #require(try planRunsDirectory(plan))
    let result = try runBinary(["apply", plan] + apply)
    let directory = runs + "/" + (try #require(try FileManager.default.contentsOfDirectory(atPath: runs).first))
    var runText = try String(contentsOfFile: directory + "/run.json", encoding: .utf8)
    let run = try #require(try JSONSerialization.jsonObject(with: Data(runText.utf8)) as? [String: Any])
    if let runID = (run["kubernetes"] as? [String: Any])?["runID"] as? String { runText = runText.replacingOccurrences(of: runID, with: "RUNID") }
    let executed = try #require((try JSONSerialization.jsonObject(with: Data(runText.utf8)) as? [String: Any])?["steps"] as? [[String: Any]])
    let steps = try #require((try JSONSerialization.jsonObject(with: Data(planned.stdout.utf8)) as? [String: Any])?["steps"] as? [[String: Any]])
    #expect(executed.count == steps.count, sourceLocation: sourceLocation)
    for (done, step) in zip(executed, steps) {
        #expect((done["planned"] as? NSDictionary) == (step as NSDictionary), "step \(step["number"] ?? "?") as applied differs from the plan",
                sourceLocation: sourceLocation)
        #expect(done["outcome"] as? String == "done", "step \(step["number"] ?? "?"): \(done["outcome"] ?? "")", sourceLocation: sourceLocation)
    }
    return (result, directory)
}

/// The runs folder a plan copy (planCopy) writes to.
func planRunsDirectory(_ plan: String) throws -> String? {
    let text = try String(contentsOfFile: plan, encoding: .utf8)
    return text.components(separatedBy: "  dir: ").last?.components(separatedBy: "/{name}").first
}
