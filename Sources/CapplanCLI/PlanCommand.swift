import ArgumentParser
import CapplanLoad
import CapplanPlan
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the steps a plan implies, with what each changes and its undo. Changes nothing.",
        discussion: """
        Like terraform plan: the ordered steps apply would run (resolve pods and node, \
        isolate, deploy the helper pod, resolve interfaces, capture, reproduce, stop, \
        collect, redact, analyse, report). Steps marked + change something outside the \
        run directory; each has an undo that runs at the end, on failure and on Ctrl-C. \
        Facts that need the cluster (pod IPs, nodes, veth names) show as "resolved at \
        apply time".

        Examples:
          capplan plan plans/lb-rst.yaml
          capplan plan --format json plans/lb-rst.yaml | jq '.steps[].operation'
        """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan"))
    var plan: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let console = Console.current
        let (validPlan, _) = try loadValidPlan(plan, for: "plan", console: console)
        let steps: [Step]
        do {
            steps = try Planner.steps(for: validPlan)
        } catch {
            console.err("capplan: \(error)\n")
            throw CommandExit.invalidPlan
        }
        switch format {
        case .text:
            console.out(StepPrinter.render(steps, plan: validPlan, path: plan))
        case .json:
            struct Document: Encodable {
                var version = 1
                var plan: String
                var steps: [Step]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(Document(plan: plan, steps: steps))
            console.out(String(decoding: data, as: UTF8.self) + "\n")
        }
    }
}
