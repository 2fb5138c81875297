import ArgumentParser
import CapplanExecute
import CapplanLoad
import CapplanPackets
import CapplanPlan
import Foundation

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Run a plan: capture, reproduce, redact, analyse, report, clean up; exit by its verdict.",
        discussion: """
        Runs the steps capplan plan shows, each change recorded with its undo before it is made.

        On Kubernetes (target: kubernetes), through kubectl with the plan's kubeconfig and \
        context (else kubectl's defaults): a read-only preflight (the cluster answers, kubectl \
        auth can-i for every permission the plan needs, nodes Ready, pods Running; a refusal \
        lists what is missing and the RBAC rules to grant it, see deploy/rbac.yaml); the pods \
        to IPs and nodes; isolate: cordon-others cordons exactly the other schedulable nodes; a \
        helper pod per capture node (hostNetwork, NET_ADMIN and NET_RAW, a deadline, capplan's \
        labels); each pod's host-side veth from eth0's iflink, or the node's route when the \
        image has no cat; tcpdump -U -w - in the helpers streamed over kubectl exec. Locally \
        (target: local), libpcap on this machine, in a network namespace if the plan says so.

        The capture runs until the plan's duration, maxPackets or maxBytes, or its stop \
        condition plus grace; reproduce commands start at their offsets (kubectl exec in a pod, \
        or on this machine). Packets are redacted before they reach disk and analysed in the \
        same pass. With capture.keep, a long run keeps only the windows around each event (the \
        rest waits in a bounded ring and is discarded) and ends after the last window. A \
        Kubernetes capture stream that breaks is started again (its helper pod created again \
        once if it is gone) and the gap recorded. The run directory gets capture.pcapng (one \
        interface per capture point, named node/interface, names for the run's pods, Services and nodes, the findings' words as \
        comments on the packets they cite; output.format: pcap for classic capture.pcap), \
        summary.md, summary.json, report.html (findings, a ladder of each connection they name, \
        the run's timeline; one self-contained file), run.json and steps.log. At the end, on failure and on interrupt, every change is undone in reverse: \
        processes stopped, helper pods deleted (and waited for), nodes uncordoned. \
        journal.json lets capplan cleanup finish the job after a run was killed outright.

        Ctrl-C (or SIGTERM) once: stop capturing and finish the report. Twice: clean up at once.

        Examples:
          capplan apply plans/lb-rst.yaml
          capplan plan --format json plans/lb-rst.yaml > planned.json
          capplan apply --planned planned.json plans/lb-rst.yaml   (stops if the cluster changed since)
          kubectl capplan apply plans/lb-rst.yaml          (installed as a kubectl plugin)
          make demo        (the Kubernetes lab and examples/lab/lb-rst.yaml, end to end)
          sudo capplan apply examples/local/idle-reset.yaml   (scripts/lab/local-lab up first)

        A result that rests on something not being seen (a notSeen that held, a seen that did \
        not) is only as good as the capture. When the capture says it missed packets (the \
        kernel dropped some, the snaplen cut DNS headers, one direction was not captured, a \
        stream has gaps), such a result is "unsure" and the verdict INCONCLUSIVE, unless \
        another expectation failed for certain; summary.md says why in one line.

        Exit status: 0 the expectations held (or there were none), 1 the plan is invalid, 2 bad \
        usage, 3 an expectation did not hold, 4 the run failed, 5 inconclusive: the capture \
        cannot vouch for a result, 130 interrupted.
        """
    )

    @Argument(help: ArgumentHelp("The plan file.", valueName: "plan"))
    var plan: String

    @Flag(help: "Print only errors; the run directory still gets every file.")
    var quiet = false

    @Flag(help: "Print run.json on stdout instead of the summary.")
    var json = false

    @Option(help: ArgumentHelp("Steps saved by capplan plan --format json: apply stops before changing anything if the target now gives other steps.",
                               valueName: "file"))
    var planned: String?

    @Option(help: ArgumentHelp("How long undoing everything at the end may take in all; what is left is said and stays in journal.json for capplan cleanup.",
                               valueName: "seconds"))
    var cleanupTimeout: Double = 150

    func run() throws {
        let console = Console.current
        let (validPlan, loaded) = try loadValidPlan(plan, for: "apply", console: console)
        var options = ApplyOptions()
        options.quiet = quiet
        options.json = json
        options.terminal = isatty(2) == 1
        options.cleanupDeadline = cleanupTimeout
        if let planned {
            do {
                options.plannedSteps = try JSONDecoder().decode(PlanDocument.self, from: Data(contentsOf: URL(fileURLWithPath: planned))).steps
            } catch {
                console.err("capplan: \(planned) is not the output of capplan plan --format json: \(error.localizedDescription)\n")
                throw CommandExit.usage
            }
        }
        let apply = Apply(plan: validPlan, planPath: plan, planSource: loaded.source, options: options,
                               out: { console.out($0) }, err: { console.err($0) })
        let exit = apply.run()
        if exit != .passed { throw CommandExit(status: exit.rawValue) }
    }
}

struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Undo what a killed run left behind: from its run directory's journal, or on a cluster by capplan's labels.",
        discussion: """
        A run that was killed outright (SIGKILL, power loss) could not undo its steps. Its \
        journal.json lists every change it made, written before the change: cleanup undoes the \
        ones not marked done, in reverse (stops processes, deletes helper pods and the namespace \
        it created, uncordons exactly the nodes it cordoned), and marks them. A run stopped while it \
        commented the packets at the end of capture.pcapng had set them aside beside it \
        (capture.pcapng.tail-at-OFFSET): cleanup puts them back. Running it twice is harmless.

        Without the run directory, --cluster finds the leftovers on the cluster itself: pods \
        labelled app.kubernetes.io/managed-by=capplan, and nodes carrying the annotation \
        capplan.dev/cordoned-by (only those of one run with --run).

        Examples:
          capplan cleanup runs/lb-rst/2026-11-26T15-04-05Z
          capplan cleanup --cluster
          capplan cleanup --cluster --run 3f9c0a1e --context staging
        """
    )

    @Argument(help: ArgumentHelp("The run directory.", valueName: "run-dir"))
    var directory: String?

    @Flag(help: "Find leftovers on the cluster by capplan's labels instead of a journal.")
    var cluster = false

    @Option(name: .customLong("run"), help: ArgumentHelp("With --cluster: only this run's leftovers (its run id, in run.json and the pods' capplan.dev/run label).", valueName: "id"))
    var runID: String?

    @Option(help: ArgumentHelp("With --cluster: the kubeconfig context.", valueName: "name"))
    var context: String?

    @Option(help: ArgumentHelp("With --cluster: the kubeconfig file.", valueName: "path"))
    var kubeconfig: String?

    func validate() throws {
        if cluster == (directory != nil) {
            throw ValidationError("give a run directory, or --cluster (not both)")
        }
    }

    func run() throws {
        let console = Console.current
        if cluster {
            let kubectl = Kubectl(argv: ["kubectl"] + (kubeconfig.map { ["--kubeconfig", $0] } ?? []) + (context.map { ["--context", $0] } ?? []))
            do {
                let actions = try ClusterCleanup.run(kubectl, runID: runID, say: { console.out($0 + "\n") })
                console.out(actions == 0 ? "nothing of capplan's is left on the cluster\n" : "\(actions) leftover(s) removed\n")
            } catch {
                console.err("capplan: \(error)\n")
                throw CommandExit(status: 4)
            }
            return
        }
        guard let directory else { throw CommandExit.usage }
        var journal: Journal.File
        do {
            journal = try Journal.load(directory: directory)
        } catch {
            console.err("capplan: \(directory) has no readable journal.json: \(error.localizedDescription)\n")
            throw CommandExit.usage
        }
        var actions = 0, failed = 0
        for index in journal.entries.indices.reversed() where !journal.entries[index].undone {
            let entry = journal.entries[index]
            let outcome = Undoer.perform(entry.undo, kubectl: journal.kubectl)
            console.out("step \(entry.step) (\(entry.what)): \(outcome)\n")
            journal.entries[index].undone = outcome.succeeded
            journal.entries[index].result = outcome.description
            if outcome.succeeded { actions += 1 } else { failed += 1 }
        }
        try Journal.save(journal, directory: directory)
        let capture = directory + "/" + CaptureFileFormat.pcapng.fileName
        do {
            if try PcapngTailSplice.finish(path: capture) {
                console.out("\(capture): the packets the run was commenting when it stopped are back in place\n")
                actions += 1
            }
        } catch {
            console.err("capplan: \(error)\n")
            failed += 1
        }
        if failed > 0 {
            console.err("capplan: \(failed) undo(s) failed (above); they stay in \(directory)/journal.json: fix the cause and run capplan cleanup again\n")
            throw CommandExit(status: 4)
        }
        console.out(actions == 0 ? "\(directory): nothing left to undo\n" : "\(directory): \(actions) step(s) undone\n")
    }
}
