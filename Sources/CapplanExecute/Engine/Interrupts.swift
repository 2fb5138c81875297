import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a count the run polls: the first asks the capture to stop
/// and the report to be finished; a second skips straight to cleanup. (The default action,
/// dying with the cluster or machine half-changed, is exactly what capplan must not do.)
public final class Interrupts: Sendable {
    private let count = Atomic<Int>(0)
    private let lastSignal = Atomic<Int32>(0)
    private nonisolated(unsafe) var sources: [DispatchSourceSignal] = []

    public init() {}

    /// Installs the handlers; until `uninstall`, the signals no longer kill the process.
    public func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                lastSignal.store(number, ordering: .relaxed)
                count.add(1, ordering: .relaxed)
            }
            source.resume()
            sources.append(source)
        }
    }

    public func uninstall() {
        for source in sources { source.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    public var received: Int { count.load(ordering: .relaxed) }
    public var signalName: String { lastSignal.load(ordering: .relaxed) == SIGTERM ? "SIGTERM" : "SIGINT" }
}
