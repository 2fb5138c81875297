import Foundation

/// A second thread that takes batches of work in the order they are handed over: the one way
/// capplan uses a second core (the analysis of half the flows, the writing of a redacted file).
/// At most `inFlight` batches wait, so memory stays bounded and a slow consumer slows the
/// producer. Emptied batches come back through `reuse` so their buffers are allocated once.
public final class HandOff<Batch: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Batch] = []
    private var emptied: [Batch] = []
    private var closed = false
    private var running = false
    /// The producer waits for room (`submit`) / the consumer for a batch (`run`): each is woken
    /// only when it waits.
    private var producerWaits = false
    private var consumerWaits = false
    private let inFlight: Int
    private let name: String
    /// Runs on the second thread, one batch at a time; it leaves the batch empty for reuse.
    private let consume: (inout Batch) -> Void

    public init(name: String, inFlight: Int = 4, consume: @escaping (inout Batch) -> Void) {
        self.name = name
        self.inFlight = inFlight
        self.consume = consume
    }

    /// Starts the thread; batches handed over before this wait for it.
    public func start() {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Waits while `inFlight` batches are already waiting; once it has waited, until half of them
    /// are taken, so that a producer ahead of its consumer is woken once for several batches, not
    /// once for each (a wake-up costs microseconds of both threads' time on a virtual machine).
    public func submit(_ batch: Batch) {
        condition.lock()
        if queue.count >= inFlight {
            producerWaits = true
            while producerWaits { condition.wait() }
        }
        queue.append(batch)
        if consumerWaits { condition.broadcast() }
        condition.unlock()
    }

    /// An emptied batch to fill again, if one came back.
    public func reuse() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        return emptied.popLast()
    }

    /// Waits until every batch handed over has been consumed; the thread ends.
    public func finish() {
        condition.lock()
        closed = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed {
                consumerWaits = true
                condition.wait()
            }
            consumerWaits = false
            guard !queue.isEmpty else {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            var batch = queue.removeFirst()
            if producerWaits, queue.count <= inFlight / 2 {
                producerWaits = false
                condition.broadcast()
            }
            condition.unlock()
            consume(&batch)
            condition.lock()
            emptied.append(batch)
            condition.unlock()
        }
    }
}

/// One value handed from one thread to another: `take` waits until it is `put`.
public final class Mailbox<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value?

    public init() {}

    public func put(_ value: Value) {
        condition.lock()
        self.value = value
        condition.broadcast()
        condition.unlock()
    }

    public func take() -> Value {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value {
                self.value = nil
                return value
            }
            condition.wait()
        }
    }
}

/// How many threads capplan's two-stage work is worth on this machine: two where it has two cores.
public enum Threads {
    /// Read once: Foundation reads the cgroup's CPU quota files each time it is asked.
    public static let useful = min(2, ProcessInfo.processInfo.activeProcessorCount)

    /// Batches in flight to each of two consumers one reading thread feeds at once (a path
    /// report's tracer and analysis worker). The reader blocks when either queue is full, which
    /// leaves the other without work: with 4, the three threads of a path report each slept
    /// about 200 ms of a 400 ms run, with 16 about 130 (`perf sched`, `scripts/bench-threads`),
    /// and the path took about a tenth less time. A batch of 2048 packets is about 200 KB.
    public static let inFlightBesideAnotherConsumer = 16
}

/// 128 bytes nothing reads or writes, put between what two threads touch for every packet, so
/// each thread's stays on cache lines of its own (two lines: a core may fetch them in pairs).
/// Without it, one thread's every write took the line from under the other (false sharing).
public struct CacheLinePadding {
    private let bytes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}
}
