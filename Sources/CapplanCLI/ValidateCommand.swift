import ArgumentParser
import CapplanLoad

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check capture plans without touching anything.",
        discussion: """
        Reports every problem in each file in one pass, as file:line:col: error: message, \
        with the line and a caret under the spot. Checks keys (with did-you-mean), types, \
        durations and sizes, Kubernetes names and label selectors, CIDRs, regular \
        expressions, and compiles every BPF filter with libpcap for the link type it will \
        run on, so a typo never reaches a cluster.

        Examples:
          capplan validate plans/*.yaml
          capplan validate --format json plans/lb-rst.yaml    for editors and CI

        Exit status: 0 every plan is valid (warnings allowed), 1 some plan is invalid, \
        2 bad usage or a file that cannot be read.
        """
    )

    @Argument(help: ArgumentHelp("Plan files to check.", valueName: "plan"))
    var plans: [String]

    @Option(help: "Output format: text (diagnostics on stderr) or json (one document on stdout).")
    var format: OutputFormat = .text

    func validate() throws {
        if plans.isEmpty { throw ValidationError("Name at least one plan file, e.g. capplan validate plans/lb-rst.yaml") }
    }

    func run() throws {
        let console = Console.current
        var invalid = false, unreadable = false
        var reports: [FileReport] = []
        for path in plans {
            let loaded: LoadedPlan
            do {
                loaded = try PlanLoader.load(path: path)
            } catch {
                unreadable = true
                if format == .text { console.err("capplan: \(error)\n") }
                reports.append(FileReport(path: path, valid: false, error: error.reason, diagnostics: []))
                continue
            }
            invalid = invalid || loaded.hasErrors
            reports.append(FileReport(path: path, valid: !loaded.hasErrors, error: nil, diagnostics: loaded.diagnostics))
            guard format == .text else { continue }
            console.err(loaded.printer.render(loaded.diagnostics))
            let warnings = loaded.diagnostics.filter { $0.severity == .warning }.count
            let errors = loaded.diagnostics.count - warnings
            if loaded.hasErrors {
                console.err("\(path): invalid (\(count(errors, "error"))\(warnings > 0 ? ", \(count(warnings, "warning"))" : ""))\n")
            } else {
                console.out("\(path): valid\(warnings > 0 ? " (\(count(warnings, "warning")))" : "")\n")
            }
        }
        if format == .json { console.out(FileReport.json(reports)) }
        if unreadable { throw CommandExit.usage }
        if invalid { throw CommandExit.invalidPlan }
    }

    private func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }
}

/// The JSON form of `validate`: stable keys, for editors and CI.
struct FileReport {
    var path: String
    var valid: Bool
    var error: String?
    var diagnostics: [Diagnostic]

    static func json(_ reports: [FileReport]) -> String {
        let files = reports.map { report -> JSONText in
            var pairs: [(String, JSONText)] = [("path", .string(report.path)), ("valid", .bool(report.valid))]
            if let error = report.error { pairs.append(("error", .string(error))) }
            pairs.append(("diagnostics", .array(report.diagnostics.map { diagnostic in
                .object([
                    ("severity", .string(diagnostic.severity.rawValue)),
                    ("line", .number(Int64(diagnostic.line))),
                    ("column", .number(Int64(diagnostic.column))),
                    ("field", diagnostic.field.map(JSONText.string) ?? .null),
                    ("message", .string(diagnostic.message)),
                ])
            })))
            return .object(pairs)
        }
        return JSONText.object([("version", .number(1)), ("files", .array(files))]).rendered() + "\n"
    }
}
