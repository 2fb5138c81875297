/// Packets for another thread: per packet an item, and its bytes end to end in one buffer. The
/// storage is allocated once and kept when the batch is emptied for reuse, so each packet's bytes
/// and item are written into place. A class over raw memory, not arrays: an array held by an
/// object checks that it is the only reference to its storage on every append, and with two
/// appends a packet that was a sixth of handing a packet over (callgrind). One thread fills a
/// batch and then hands it over whole (`HandOff`), so no two threads touch it at once.
final class PacketBatch<Item>: @unchecked Sendable {
    private var items: UnsafeMutablePointer<Item>
    private var itemCapacity: Int
    private(set) var count = 0
    private var bytes: UnsafeMutableRawPointer
    private var byteCapacity: Int
    private var used = 0

    init(items: Int, bytes: Int) {
        itemCapacity = max(1, items)
        self.items = .allocate(capacity: itemCapacity)
        byteCapacity = max(1, bytes)
        self.bytes = .allocate(byteCount: byteCapacity, alignment: 16)
    }

    deinit {
        items.deinitialize(count: count)
        items.deallocate()
        bytes.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// Copies `raw` in; where its bytes are, for the item that goes with them.
    @inline(__always)
    func append(bytes raw: UnsafeRawBufferPointer) -> Range<Int> {
        let start = used, end = used + raw.count
        if end > byteCapacity { growBytes(to: end) }
        if let source = raw.baseAddress { (bytes + start).copyMemory(from: source, byteCount: raw.count) }
        used = end
        return start..<end
    }

    @inline(__always)
    func append(_ item: Item) {
        if count == itemCapacity { growItems() }
        (items + count).initialize(to: item)
        count += 1
    }

    /// The item at `index`, and its bytes, which stay where they are.
    @inline(__always)
    func item(at index: Int) -> Item { items[index] }

    /// Puts `item` and its bytes in the place of the item at `index`, whose bytes were as many.
    @inline(__always)
    func replace(at index: Int, with item: Item, bytes raw: UnsafeRawBufferPointer, at range: Range<Int>) {
        items[index] = item
        if let source = raw.baseAddress { (bytes + range.lowerBound).copyMemory(from: source, byteCount: range.count) }
    }

    /// The items in the order they were appended; valid until the batch changes.
    var appended: UnsafeBufferPointer<Item> { UnsafeBufferPointer(start: items, count: count) }

    /// The bytes at a range `append(bytes:)` returned.
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes + range.lowerBound, count: range.count) }

    /// Empties it, keeping the storage.
    func removeAll() {
        items.deinitialize(count: count)
        count = 0
        used = 0
    }

    private func growItems() {
        let larger = UnsafeMutablePointer<Item>.allocate(capacity: itemCapacity * 2)
        larger.moveInitialize(from: items, count: count)
        items.deallocate()
        items = larger
        itemCapacity *= 2
    }

    private func growBytes(to needed: Int) {
        var capacity = byteCapacity * 2
        while capacity < needed { capacity *= 2 }
        let larger = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        larger.copyMemory(from: bytes, byteCount: used)
        bytes.deallocate()
        bytes = larger
        byteCapacity = capacity
    }
}
