import ArgumentParser
import CapplanExecute
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
        For a Kubernetes plan capplan reads the cluster first, with get, list, auth can-i and \
        a cat in each pod only: the nodes, the pods' IPs and nodes, eth0's peer index, the \
        nodes it would cordon and the helper pod manifest it would create. With --offline, or \
        when the cluster does not answer, facts that need it show as "resolved at apply time".

        Examples:
          capplan plan plans/lb-rst.yaml
          capplan plan --offline plans/lb-rst.yaml
          capplan plan --format json plans/lb-rst.yaml | jq '.steps[].operation'
        """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan"))
    var plan: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(help: "Do not read the cluster; show what apply would resolve as such.")
    var offline = false

    func run() throws {
        let console = Console.current
        let (validPlan, _) = try loadValidPlan(plan, for: "plan", console: console)
        let live = offline ? nil : readTarget(validPlan, console: console)
        let steps: [Step]
        do {
            steps = try Planner.steps(for: validPlan, snapshot: live?.snapshot)
        } catch {
            console.err("capplan: \(error)\n")
            throw CommandExit.invalidPlan
        }
        switch format {
        case .text:
            console.out(StepPrinter.render(steps, plan: validPlan, path: plan))
            if let facts = live?.facts, !facts.isEmpty {
                console.out("\nThe cluster now (read-only):\n" + facts.map { "  \($0)\n" }.joined())
            }
            for step in steps {
                guard live != nil, case .deployHelper(let helper) = step.operation else { continue }
                console.out("\nHelper pod apply would create (\(Planner.planRunID) is the run's id):\n" + helper.manifest)
            }
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(PlanDocument(plan: plan, steps: steps, cluster: live?.facts))
            console.out(String(decoding: data, as: UTF8.self) + "\n")
        }
    }

    /// The target as apply reads it (read-only); nil, said so, when it cannot be read.
    private func readTarget(_ plan: Plan, console: Console) -> (snapshot: TargetSnapshot, facts: [String])? {
        do {
            switch plan.target.kind {
            case .kubernetes(let access):
                let kubectl = Kubectl(access)
                try kubectl.requireAnswer(access)
                let cluster = try ClusterSnapshot.read(plan: plan, kubectl: kubectl, access: access)
                return (cluster.snapshot, cluster.nodeFacts + cluster.notes)
            case .local(let netns):
                return (try LocalSnapshot(netns: netns).read(plan), [])
            }
        } catch {
            console.err("capplan: \(error); showing the steps without the target (--offline says so on purpose)\n")
            return nil
        }
    }
}
