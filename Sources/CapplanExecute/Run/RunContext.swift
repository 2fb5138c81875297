import CapplanLoad
import CapplanPlan
import Foundation

/// How `apply` talks and where it works.
public struct ApplyOptions: Sendable {
    public var quiet = false
    public var json = false
    /// A live status line (else a plain line every 5 s).
    public var terminal = false
    public var workingDirectory = FileManager.default.currentDirectoryPath
    public var environment = ProcessInfo.processInfo.environment
    /// Steps saved by `capplan plan --format json`: apply stops before changing anything if its own differ.
    public var plannedSteps: [Step]?
    /// How long undoing everything at the end may take in all.
    public var cleanupDeadline: TimeInterval = 150
    public init() {}
}

/// Exit codes of apply, as documented in --help.
public enum ApplyExit: Int32, Sendable {
    /// inconclusive: the capture missed packets an expectation's result rests on (see Verdict).
    case passed = 0, invalid = 1, usage = 2, expectationsFailed = 3, failed = 4, inconclusive = 5, interrupted = 130
}

/// What every step of one run shares: the plan, the run directory, the journal and undo stack,
/// the interrupt count, how it speaks, and the account of each planned step as it is performed.
final class RunContext {
    /// The plan and how apply was asked to run it.
    let apply: Apply
    let directory: String
    let journal: Journal
    let undo: UndoStack
    let interrupts: Interrupts
    let runID: String
    /// The steps the planner gave, and what became of each (run.json's `steps`).
    private(set) var steps: [Step] = []
    private var outcomes: [Int: RunRecord.ExecutedStep] = [:]
    /// When the capture started and its first packet came, for run.json's timeline.
    var captureStart: Date?
    var firstPacketAt: Date?

    init(apply: Apply, directory: String, journal: Journal, interrupts: Interrupts, runID: String) {
        self.apply = apply
        self.directory = directory
        self.journal = journal
        undo = UndoStack(journal: journal)
        self.interrupts = interrupts
        self.runID = runID
    }

    var plan: Plan { apply.plan }
    var options: ApplyOptions { apply.options }
    func out(_ text: String) { apply.out(text) }
    func err(_ text: String) { apply.err(text) }

    /// Raised between steps (and by any wait) once Ctrl-C or SIGTERM came.
    struct Interrupted: Error {}

    func checkInterrupt() throws {
        if interrupts.received > 0 { throw Interrupted() }
    }

    /// The planner's steps for this run; when the user saved `plan`'s steps, they must be the same
    /// as `comparable` gives them (planned with plan's run id placeholder; asked only then).
    func adopt(_ steps: [Step], comparable: () throws -> [Step]) throws {
        if let saved = options.plannedSteps, let difference = StepDifference.first(saved: saved, now: try comparable()) {
            throw PlanningError(message: "the target changed since the plan was saved: \(difference). Nothing was changed; run capplan plan again")
        }
        self.steps = steps
        journal.note("planned \(steps.count) steps")
    }

    /// Records what became of a step, with the facts only the run could know.
    func finished(_ step: Step, facts: [String] = [], outcome: String = "done") {
        outcomes[step.number] = .init(planned: step, outcome: outcome, facts: facts.isEmpty ? nil : facts)
        for fact in facts { journal.note("step \(step.number): \(fact)") }
    }

    var executedSteps: [RunRecord.ExecutedStep] {
        steps.map { outcomes[$0.number] ?? .init(planned: $0, outcome: "not reached", facts: nil) }
    }

    func say(_ line: String) {
        guard !options.quiet, !options.json else { return }
        err("capplan: \(line)\n")
    }
}
