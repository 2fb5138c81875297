import ArgumentParser
import CapplanLoad

/// The `capplan` command line. Every subcommand lives in this library, one file each,
/// so tests run them in-process; the executable only calls `Capplan.run`.
public struct Capplan: ParsableCommand {
    public static let version = capplanVersion

    public static let configuration = CommandConfiguration(
        commandName: "capplan",
        abstract: "Run declarative packet-capture plans against Kubernetes, and find out who cut the connection.",
        discussion: """
        A capture plan is a YAML file you keep in git: the node and pods to watch, the \
        interfaces, a BPF filter, how long, what to redact, and what the run should find. \
        capplan validates it, shows the steps it implies, runs them, and says who cut which \
        connection, when and why.

        Start with:
          capplan validate plans/lb-rst.yaml    check a plan; errors point at file:line:col
          capplan plan plans/lb-rst.yaml        show every step and its undo; changes nothing
          capplan apply plans/lb-rst.yaml       run it: capture, redact, analyse, report, undo
          capplan cleanup --cluster             remove what a killed run left on a cluster
          capplan diff RUN_BEFORE RUN_AFTER     what a fix changed: findings new, gone, changed
          capplan schema > capplan-v1.json      JSON Schema for editors (yaml-language-server)

        Exit status: 0 success; 1 a plan, capture, rules or labels file is invalid, or a capture, \
        rules or labels file cannot be read; 2 bad usage, or a plan file that cannot be read; \
        apply also 3 an expectation did not hold, 4 the run failed, 5 inconclusive (the capture \
        missed what a result rests on), 130 interrupted; diff 3 the \
        second run has a finding the first lacks. Each command's --help says its own.
        """,
        version: version,
        subcommands: [ValidateCommand.self, PlanCommand.self, ApplyCommand.self, CleanupCommand.self, ReportCommand.self, DiffCommand.self, RedactCommand.self, SchemaCommand.self]
    )

    public init() {}

    /// Parses `arguments` (without the program name), runs the command, and returns
    /// the exit status. Usage errors exit 2, not ArgumentParser's 64, as documented.
    public static func run(_ arguments: [String]) -> Int32 {
        let console = Console.current
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch let exit as CommandExit {
            return exit.status
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                console.out(message + "\n")  // --help and --version
                return 0
            }
            console.err(message + "\n")
            // ArgumentParser says 64 for bad usage; capplan documents 2. Anything else failed: 1.
            return code == .validationFailure ? 2 : 1
        }
    }
}

/// A command that has already said why it failed and only needs to set the exit status.
struct CommandExit: Error {
    var status: Int32
    static let invalidPlan = CommandExit(status: 1)
    static let usage = CommandExit(status: 2)
}

/// Loads a plan for a command that needs a valid one: diagnostics go to stderr; an unreadable
/// file is a usage error (2), an invalid plan exits 1.
func loadValidPlan(_ path: String, for command: String, console: Console) throws -> (plan: Plan, loaded: LoadedPlan) {
    let loaded: LoadedPlan
    do {
        loaded = try PlanLoader.load(path: path)
    } catch {
        console.err("capplan: \(error)\n")
        throw CommandExit.usage
    }
    console.err(loaded.printer.render(loaded.diagnostics))
    guard let plan = loaded.plan else {
        console.err("\(path): invalid; fix the errors above, then run capplan \(command) again\n")
        throw CommandExit.invalidPlan
    }
    return (plan, loaded)
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
