import Foundation

/// `body(0..<count)` on every core at once (kubectl calls that each wait on the API server),
/// the results in index order.
func parallelMap<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
    let results = ParallelResults<T>()
    DispatchQueue.concurrentPerform(iterations: count) { index in results.set(index, body(index)) }
    return (0..<count).compactMap { results.value($0) }
}

/// Results written from several threads.
private final class ParallelResults<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: T] = [:]

    func set(_ index: Int, _ value: T) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }

    func value(_ index: Int) -> T? {
        lock.lock()
        defer { lock.unlock() }
        return values[index]
    }
}
