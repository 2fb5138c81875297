public import CapplanLoad
import CapplanPlan
import Foundation

/// `capplan apply`: the run directory, journal and signal handling common to every target; the
/// target's executor performs the planner's steps (each change recorded with its undo before it
/// is made) and the one capture pass; then everything is undone, on success, failure and
/// interrupt alike, against one deadline.
public final class Apply {
    let plan: Plan
    let planPath: String
    let planSource: String
    let options: ApplyOptions
    let out: @Sendable (String) -> Void
    let err: @Sendable (String) -> Void

    public init(plan: Plan, planPath: String, planSource: String, options: ApplyOptions,
                out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void) {
        self.plan = plan
        self.planPath = planPath
        self.planSource = planSource
        self.options = options
        self.out = out
        self.err = err
    }

    public func run() -> ApplyExit {
        let (kind, node, kubectl): (TargetKind, String, [String]?) = switch plan.target.kind {
        case .local(let netns): (.local, netns ?? ProcessInfo.processInfo.hostName, nil)
        case .kubernetes(let access): (.kubernetes, plan.target.node ?? "cluster", Planner.kubectl(access))
        }
        let directory: String
        do {
            directory = try Self.makeRunDirectory(plan: plan, options: options, node: node, target: kind.rawValue)
        } catch {
            err("capplan: cannot create the run directory: \(error)\n")
            return .failed
        }
        let journal = Journal(directory: directory, kubectl: kubectl)
        defer { journal.close() }
        let interrupts = Interrupts()
        interrupts.install()
        defer { interrupts.uninstall() }
        let runID = (0..<8).map { _ in String("0123456789abcdef".randomElement() ?? "0") }.joined()
        let context = RunContext(apply: self, directory: directory, journal: journal, interrupts: interrupts, runID: runID)
        context.say("run directory \(directory)")
        journal.note("plan \(planPath) (\(plan.name)), target \(kind.rawValue), run \(runID)")
        var exit = execute(context)
        exit = cleanUp(context, exit: exit)
        journal.note("done: exit \(exit.rawValue)")
        return exit
    }

    private func execute(_ context: RunContext) -> ApplyExit {
        do {
            switch plan.target.kind {
            case .local(let netns): return try LocalExecutor(context: context, netns: netns).run()
            case .kubernetes(let access): return try KubernetesExecutor(context: context, access: access).run()
            }
        } catch {
            // Any step that stops because Ctrl-C or SIGTERM came counts as interrupted.
            if context.interrupts.received > 0 {
                context.say("\(context.interrupts.signalName) received before the capture started: undoing what was done")
                context.journal.note("interrupted before the capture (\(error))")
                return .interrupted
            }
            err("capplan: \(error)\n")
            context.journal.note("failed: \(error)")
            return .failed
        }
    }

    /// Undoes every change, last first, within the cleanup deadline; what is left is said, and
    /// stays in journal.json for `capplan cleanup`.
    private func cleanUp(_ context: RunContext, exit: ApplyExit) -> ApplyExit {
        guard !context.undo.isEmpty else { return exit }
        let deadline = PlanDuration(milliseconds: Int64(options.cleanupDeadline * 1000))
        context.say("cleaning up (deadline \(deadline))")
        let notDone = context.undo.unwind(deadline: Date().addingTimeInterval(options.cleanupDeadline), say: { context.say($0) })
        guard notDone > 0 else { return exit }
        err("capplan: \(notDone) change\(notDone == 1 ? " was" : "s were") not undone (above); capplan cleanup \(context.directory) finishes the job\n")
        return [.passed, .expectationsFailed, .inconclusive].contains(exit) ? .failed : exit
    }

    /// The run directory from the plan's template; never an existing one.
    static func makeRunDirectory(plan: Plan, options: ApplyOptions, node: String, target: String) throws -> String {
        let time = Date().formatted(.iso8601).replacingOccurrences(of: ":", with: "-")
        var path = plan.outputDirectory
            .replacingOccurrences(of: "{name}", with: plan.name)
            .replacingOccurrences(of: "{time}", with: time)
            .replacingOccurrences(of: "{node}", with: node)
            .replacingOccurrences(of: "{target}", with: target)
        if !path.hasPrefix("/") { path = options.workingDirectory + "/" + path }
        var candidate = path, suffix = 2
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = "\(path)-\(suffix)"
            suffix += 1
        }
        try FileManager.default.createDirectory(atPath: candidate, withIntermediateDirectories: true)
        return candidate
    }
}
