#if canImport(Glibc)
import Glibc
#endif

/// The analysis's flows, by slot: an array's value semantics (copy on write) over one block of
/// plain memory that grows by `realloc`. glibc grows a large block in place or by moving its pages
/// (mremap), never by copying its bytes. An Array's doubling copied every flow into fresh memory
/// that the kernel had to fault in: a capture of a million open connections faulted in about twice
/// the memory it held, held both copies at the peak, and spent most of its time in the kernel.
/// A `Flow` is plain memory (`BitwiseCopyable`, checked by the compiler), so moving its bytes moves it.
struct FlowStore: @unchecked Sendable {
    // Sendable: a store handed to another thread (`ConnectionAnalyzer.heldFlows`) is only read there,
    // and a write to a shared store copies it first.
    private final class Storage {
        var base: UnsafeMutablePointer<Flow>?
        var count = 0
        var capacity = 0

        init() {}

        init(copying other: Storage) {
            if let source = other.base, other.count > 0 {
                let copy = Self.allocate(other.count)
                copy.initialize(from: source, count: other.count)
                (base, capacity) = (copy, other.count)
            }
            count = other.count
        }

        /// Room for `capacity` flows: the bytes up to `count` kept, the rest untouched (so not yet memory).
        func reserve(_ wanted: Int) {
            guard wanted > capacity else { return }
            guard let grown = realloc(base, wanted * MemoryLayout<Flow>.stride) else {
                fatalError("out of memory for \(wanted) flows")
            }
            base = grown.bindMemory(to: Flow.self, capacity: wanted)
            capacity = wanted
        }

        static func allocate(_ count: Int) -> UnsafeMutablePointer<Flow> {
            guard let memory = malloc(count * MemoryLayout<Flow>.stride) else { fatalError("out of memory for \(count) flows") }
            return memory.bindMemory(to: Flow.self, capacity: count)
        }

        deinit { free(base) }  // plain memory: nothing to deinitialize
    }

    private var storage = Storage()

    /// The first block's flows: 36 MiB, past the largest threshold (32 MiB) at which glibc serves
    /// a block from the heap, where growing it copies; a block mapped on its own grows by mremap.
    /// Room never written is never memory.
    static let firstCapacity = (36 << 20) / MemoryLayout<Flow>.stride

    var count: Int { storage.count }
    var isEmpty: Bool { storage.count == 0 }

    mutating func append(_ flow: Flow) {
        makeUnique()
        if storage.count == storage.capacity { storage.reserve(storage.capacity == 0 ? Self.firstCapacity : storage.capacity * 2) }
        guard let base = storage.base else { return }
        (base + storage.count).initialize(to: flow)
        storage.count += 1
    }

    /// In place, as an Array's: `flows[slot].last` reads one field, not a copy of the flow.
    subscript(slot: Int) -> Flow {
        unsafeAddress { UnsafePointer(address(of: slot)) }
        mutating unsafeMutableAddress {
            makeUnique()
            return address(of: slot)
        }
    }

    private func address(of slot: Int) -> UnsafeMutablePointer<Flow> {
        guard let base = storage.base, slot >= 0, slot < storage.count else { fatalError("flow slot \(slot) of \(storage.count)") }
        return base + slot
    }

    func withUnsafeBufferPointer<Result>(_ body: (UnsafeBufferPointer<Flow>) throws -> Result) rethrows -> Result {
        try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    mutating func withUnsafeMutableBufferPointer<Result>(_ body: (UnsafeMutableBufferPointer<Flow>) throws -> Result) rethrows -> Result {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    /// Empty, letting go of the flows (a copy still holding them keeps them).
    mutating func removeAll() {
        storage = Storage()
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
    }
}

extension Flow: BitwiseCopyable {}
