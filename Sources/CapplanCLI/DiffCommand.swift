import ArgumentParser
import CapplanReport

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Say what changed between two runs of a plan: findings new, gone and changed, the verdict, connection states.",
        discussion: """
        A and B are run directories (capplan apply's output: summary.json, and run.json for \
        the plan and the verdict) or summary.json files (capplan report --out). A is the run \
        before, B the run after, say a fix.

        Findings are matched by their words with what varies between runs set aside: counts, \
        times, packet numbers and the client's ephemeral port. The same finding with other \
        numbers is "changed (counts or timing)"; one of the same kind between the same \
        addresses but in other words (another sender, say) is "changed (what was found)", and \
        counts as new.

        Examples:
          capplan diff runs/lb-rst/2026-11-26T15-04-05Z runs/lb-rst/2026-11-27T09-12-44Z
          capplan diff before/summary.json after/summary.json --format json | jq .appeared

        Exit status: 0 B has no finding that A lacks, 3 B has one (new or changed in what it \
        says), 1 a run cannot be read, 2 bad usage.
        """
    )

    @Argument(help: ArgumentHelp("The run before: a run directory or a summary.json.", valueName: "A"))
    var before: String

    @Argument(help: ArgumentHelp("The run after.", valueName: "B"))
    var after: String

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let console = Console.current
        let diff: RunDiff
        do {
            diff = RunDiff(before: try RunInput(path: before), after: try RunInput(path: after))
        } catch {
            console.err("capplan: \(error)\n")
            throw CommandExit.invalidPlan
        }
        console.out(format == .json ? try diff.json() : diff.text())
        if diff.hasNewFindings { throw CommandExit(status: 3) }
    }
}
