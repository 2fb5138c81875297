import CapplanPackets
import CapplanRedact

/// The packets `capture.keep` holds back: their bytes in one buffer used circularly, their facts
/// in a second, both allocated once (pages are touched only as the ring fills), so the ring
/// never takes more than its bound, whatever the packets' sizes. A full ring makes room by
/// letting its oldest packets go.
final class PacketRing {
    struct Entry {
        var number: Int
        var timestamp: Timestamp
        var originalLength: Int
        var interface: Int
        var direction: PacketDirection?
        var offset: Int
        var length: Int
    }

    /// What one packet's facts cost, besides its bytes.
    static let entryCost = MemoryLayout<Entry>.stride
    let byteCapacity: Int
    let entryCapacity: Int
    private var bytes: UnsafeMutableRawPointer?
    private var entries: UnsafeMutablePointer<Entry>?
    private var first = 0
    private(set) var count = 0
    /// Where the next packet's bytes go.
    private var tail = 0
    /// Bytes of the packets held, and their facts: what the bound limits.
    private(set) var used = 0

    /// A quarter of `capacity` for the facts, the rest for the bytes (the plan asks for two of its largest packets).
    init(capacity: Int) {
        entryCapacity = max(2, capacity / 4 / Self.entryCost)
        byteCapacity = max(0, capacity - entryCapacity * Self.entryCost)
    }

    deinit {
        bytes?.deallocate()
        entries?.deallocate()
    }

    var oldest: Entry? { count > 0 ? entries?[first] : nil }

    /// Holds a copy of `packet`; returns the packets that had to go to make room, oldest first.
    func push(_ packet: RedactedPacket, number: Int, interface: Int, direction: PacketDirection?, evicted: (Entry) -> Void) {
        let length = packet.bytes.count
        guard length <= byteCapacity else { return evicted(Entry(number: number, timestamp: packet.timestamp, originalLength: packet.originalLength,
                                                                      interface: interface, direction: direction, offset: 0, length: length)) }
        if bytes == nil {
            bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCapacity, alignment: 16)
            entries = UnsafeMutablePointer<Entry>.allocate(capacity: entryCapacity)
        }
        var offset = place(length)
        while offset == nil || count == entryCapacity, let gone = popOldest() {
            evicted(gone)
            offset = place(length)
        }
        guard let offset, let bytes, let entries else { return }
        if let base = packet.bytes.baseAddress { (bytes + offset).copyMemory(from: base, byteCount: length) }
        (entries + (first + count) % entryCapacity).initialize(to: Entry(number: number, timestamp: packet.timestamp, originalLength: packet.originalLength,
                                                                          interface: interface, direction: direction, offset: offset, length: length))
        count += 1
        tail = offset + length
        used += length + Self.entryCost
    }

    /// Lets the oldest packet go.
    @discardableResult
    func popOldest() -> Entry? {
        guard count > 0, let entries else { return nil }
        let entry = entries[first]
        first = (first + 1) % entryCapacity
        count -= 1
        used -= entry.length + Self.entryCost
        if count == 0 { first = 0; tail = 0 }
        return entry
    }

    /// Hands each held packet over, oldest first, and empties the ring.
    func drain(_ body: (Entry, RedactedPacket) -> Void) {
        while let entry = oldest, let bytes {
            body(entry, RedactedPacket(timestamp: entry.timestamp, bytes: UnsafeRawBufferPointer(start: bytes + entry.offset, count: entry.length),
                                       originalLength: entry.originalLength))
            popOldest()
        }
    }

    /// Where `length` bytes fit after the newest packet (wrapping to the start when the end is
    /// too short), or nil when the oldest packets are in the way.
    private func place(_ length: Int) -> Int? {
        guard let oldest else { return length <= byteCapacity ? 0 : nil }
        if tail > oldest.offset {
            if byteCapacity - tail >= length { return tail }
            return oldest.offset >= length ? 0 : nil
        }
        return oldest.offset - tail >= length ? tail : nil
    }
}
