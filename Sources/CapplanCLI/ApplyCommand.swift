import ArgumentParser
import CapplanExecute
import CapplanLoad
import Foundation

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Run a plan: capture, reproduce, redact, analyse, report, clean up; exit by its verdict.",
        discussion: """
        Runs the steps capplan plan shows. The capture runs until the plan's duration, its \
        maxPackets or maxBytes, or its stop condition plus grace; reproduce commands start at \
        their offsets. Packets are redacted before they reach disk, analysed in the same pass, and \
        the run directory gets capture.pcap, summary.md, summary.json, run.json and steps.log. \
        Everything the run started is stopped at the end, on failure and on interrupt; \
        journal.json lets capplan cleanup finish the job after a run was killed outright.

        Ctrl-C (or SIGTERM) once: stop capturing and finish the report. Twice: clean up at once.
        For now apply runs local plans (target: local); Kubernetes targets come next.

        Examples:
          sudo capplan apply examples/local/idle-reset.yaml
          capplan apply examples/local/refused.yaml --quiet; echo $?
          scripts/lab/local-lab up      (the namespaces the examples/local plans use)

        Exit status: 0 the expectations held (or there were none), 1 the plan is invalid, 2 bad \
        usage, 3 an expectation did not hold, 4 the run failed, 130 interrupted.
        """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan"))
    var plan: String

    @Flag(help: "Print only errors; the run directory still gets every file.")
    var quiet = false

    @Flag(help: "Print run.json on stdout instead of the summary.")
    var json = false

    func run() throws {
        let console = Console.current
        let (validPlan, loaded) = try loadValidPlan(plan, for: "apply", console: console)
        var options = LocalApply.Options()
        options.quiet = quiet
        options.json = json
        options.terminal = isatty(2) == 1
        let apply = LocalApply(plan: validPlan, planPath: plan, planSource: loaded.source, options: options,
                               out: { console.out($0) }, err: { console.err($0) })
        let exit = apply.run()
        if exit != .passed { throw CommandExit(status: exit.rawValue) }
    }
}

struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Undo what a killed run left behind, from its run directory's journal.",
        discussion: """
        A run that was killed outright (SIGKILL, power loss) could not undo its steps. Its \
        journal.json lists every change it made, written before the change: cleanup undoes the \
        ones not marked done, in reverse, and marks them. Running it twice is harmless.

        Examples:
          capplan cleanup runs/lb-rst/2026-11-26T15-04-05Z
        """
    )

    @Argument(help: ArgumentHelp("The run directory.", valueName: "run-dir"))
    var directory: String

    func run() throws {
        let console = Console.current
        let entries: [Journal.Entry]
        do {
            entries = try Journal.load(directory: directory)
        } catch {
            console.err("capplan: \(directory) has no readable journal.json: \(error.localizedDescription)\n")
            throw CommandExit.usage
        }
        var undone = entries
        var actions = 0
        for index in entries.indices.reversed() where !entries[index].undone {
            switch entries[index].undo {
            case .stopProcess(let pid, let startTicks, let command):
                let stopped = Processes.stop(pid: pid, startTicks: startTicks)
                console.out("\(entries[index].step): \(stopped ? "stopped" : "already gone:") \(command.joined(separator: " ")) (pid \(pid))\n")
            }
            undone[index].undone = true
            actions += 1
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(undone).write(to: URL(fileURLWithPath: directory + "/journal.json"), options: .atomic)
        console.out(actions == 0 ? "\(directory): nothing left to undo\n" : "\(directory): \(actions) step(s) undone\n")
    }
}
