public import CapplanLoad
import Foundation

/// `capplan apply`: the run directory, journal and signal handling common to every target,
/// the target's steps (each change pushed on the undo stack before it is made), the one
/// capture pass, and then the undo of everything, on success, failure and interrupt alike.
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

    /// Raised by a step that saw Ctrl-C or SIGTERM before the capture started.
    struct Interrupted: Error {}

    public func run() -> ApplyExit {
        let (kind, node): (String, String) = switch plan.target.kind {
        case .local(let netns): ("local", netns ?? ProcessInfo.processInfo.hostName)
        case .kubernetes: ("kubernetes", plan.target.node ?? "cluster")
        }
        let directory: String
        do {
            directory = try CaptureSession.makeRunDirectory(plan: plan, options: options, node: node, target: kind)
        } catch {
            err("capplan: cannot create the run directory: \(error)\n")
            return .failed
        }
        let journal = Journal(directory: directory)
        defer { journal.close() }
        let interrupts = Interrupts()
        interrupts.install()
        defer { interrupts.uninstall() }
        let undo = UndoStack(journal: journal)
        let session = CaptureSession(plan: plan, planPath: planPath, planSource: planSource, options: options, directory: directory,
                                     journal: journal, undo: undo, interrupts: interrupts, out: out, err: err)
        session.say("run directory \(directory)")
        journal.note("plan \(planPath) (\(plan.name)), target \(kind)")

        var exit: ApplyExit
        do {
            switch plan.target.kind {
            case .local(let netns):
                exit = try LocalRun(session: session, netns: netns).run()
            case .kubernetes(let access):
                exit = try KubernetesRun(session: session, access: access).run()
            }
        } catch is Interrupted {
            session.say("\(interrupts.signalName) received before the capture started: undoing what was done")
            journal.note("interrupted before the capture")
            exit = .interrupted
        } catch {
            err("capplan: \(error)\n")
            journal.note("failed: \(error)")
            exit = .failed
        }
        if !undo.isEmpty { session.say("cleaning up") }
        undo.unwind(say: { line in session.say(line) })
        journal.note("done: exit \(exit.rawValue)")
        return exit
    }
}
