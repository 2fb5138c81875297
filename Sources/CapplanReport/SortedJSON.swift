import CapplanAnalyse
import CapplanPackets
import Foundation

/// JSON exactly as Foundation's `JSONEncoder` writes it with `[.prettyPrinted, .sortedKeys,
/// .withoutEscapingSlashes]` and non-finite numbers as "inf", "-inf" and "nan", byte for byte, in a
/// fraction of the time. Foundation builds a tree of boxed values and sorts every object's keys by
/// comparing strings: on a 1.2M-packet capture's summary (40,000 connections) that took 47 ms, a
/// fifth of the whole report. Here every value is a node in one array and every scalar's text is
/// written once into one buffer; an object's key order is worked out once per kind of object.
/// `SortedJSONTests` holds it to Foundation's output.
public enum SortedJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let arena = Arena()
        try arena.encode(value, into: arena.root())
        return try arena.rendered()
    }

    /// As `encode`, with the value of each key of the root object named in `aside` encoded and
    /// written on a thread of its own while this one does the rest: a summary's list of
    /// connections and its path are each about half of it. The value is Sendable, so its parts
    /// may go to other threads.
    public static func encode<T: Encodable & Sendable>(_ value: T, aside: Set<String>) throws -> String {
        String(decoding: try encodedBytes(value, aside: aside), as: UTF8.self)
    }

    /// As `encode(_:aside:)`, as UTF-8 bytes ended by a newline, for a file or a terminal: made
    /// into a String, a summary's text was checked for valid UTF-8 and copied twice more on its
    /// way out (1.2% of a report's work).
    public static func encodedBytes<T: Encodable & Sendable>(_ value: T, aside: Set<String>, newline: Bool = false) throws -> [UInt8] {
        let arena = Arena(aside: aside)
        try arena.encode(value, into: arena.root())
        var out = try arena.written(depth: 0)
        if newline { out.append(UInt8(ascii: "\n")) }
        return out.withBytes { Array($0) }
    }
}

/// The encoded values: nodes linked to their parent's list of children, scalars as text.
final class Arena {
    struct Node {
        /// `aside`: written by another thread (`Arena.aside`); `textStart` is its place in `asideParts`.
        enum Kind: UInt8 { case empty, scalar, object, array, aside }
        var kind = Kind.empty
        /// Its key in the parent object ("" in an array).
        var key = ""
        var parent: Int32 = -1
        /// A scalar's text in `text`.
        var textStart: Int32 = 0
        var textEnd: Int32 = 0
        /// Children, in the order they were encoded.
        var first: Int32 = -1
        var last: Int32 = -1
        var next: Int32 = -1
        var count: Int32 = 0
        /// An object's coding-key type: objects of one kind share their key order.
        var keyType: ObjectIdentifier?
    }

    // One encoding, on one thread: no dynamic exclusivity checks.
    @exclusivity(unchecked) private(set) var nodes: [Node] = []
    @exclusivity(unchecked) private(set) var text = ByteWriter()
    /// Per coding-key type, the key orders seen (`KeyOrder`).
    private var orders: [ObjectIdentifier: [KeyOrder]] = [:]
    /// Keys of the root object whose values other threads encode and write (`SortedJSON.encode(_:aside:)`).
    private let aside: Set<String>
    /// Those values' text, each as its thread hands it over: written at depth 1, as the root's.
    private var asideParts: [Mailbox<Result<[UInt8], any Error>>] = []

    init(aside: Set<String> = []) {
        self.aside = aside
        // Room from the start for a summary's nodes and text, which grew by doubling (each time
        // copied anew, 2% of a report's work). Pages are touched only as they fill.
        nodes.reserveCapacity(1 << 15)
        text = ByteWriter(capacity: 1 << 20)
    }

    func root() -> Int32 {
        nodes.append(Node())
        return 0
    }

    func child(of parent: Int32, key: String) -> Int32 {
        let index = Int32(nodes.count)
        nodes.append(Node(key: key, parent: parent))
        nodes.withUnsafeMutableBufferPointer { nodes in
            let last = nodes[Int(parent)].last
            if last >= 0 { nodes[Int(last)].next = index } else { nodes[Int(parent)].first = index }
            nodes[Int(parent)].last = index
            nodes[Int(parent)].count += 1
        }
        return index
    }

    /// Makes a node an object or an array; asking again for the same kind keeps what it holds.
    func open(_ node: Int32, as kind: Node.Kind, keyType: ObjectIdentifier? = nil) {
        nodes.withUnsafeMutableBufferPointer { nodes in
            guard nodes[Int(node)].kind != kind else { return }
            nodes[Int(node)].kind = kind
            nodes[Int(node)].first = -1
            nodes[Int(node)].last = -1
            nodes[Int(node)].count = 0
            nodes[Int(node)].keyType = keyType
        }
    }

    // MARK: scalars

    func scalar(_ node: Int32, _ write: (inout ByteWriter) -> Void) {
        let start = Int32(text.count)
        write(&text)
        let end = Int32(text.count)
        nodes.withUnsafeMutableBufferPointer { nodes in
            nodes[Int(node)].kind = .scalar
            nodes[Int(node)].textStart = start
            nodes[Int(node)].textEnd = end
        }
    }

    func literal(_ node: Int32, _ value: StaticString) {
        scalar(node) { $0.append(UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount)) }
    }

    func integer<I: BinaryInteger>(_ node: Int32, _ value: I) {
        scalar(node) { text in
            // Digits written backwards into a small buffer: no String per number.
            if value == 0 { text.append(UInt8(ascii: "0")); return }
            var magnitude = value.magnitude
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { digits in
                var count = 0
                while magnitude > 0 {
                    digits[39 - count] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                    magnitude /= 10
                    count += 1
                }
                if value < 0 { text.append(UInt8(ascii: "-")) }
                text.append(UnsafeBufferPointer(rebasing: digits[(40 - count)...]))
            }
        }
    }

    /// As Foundation: the shortest text that reads back the same (`description`) less a trailing ".0";
    /// a number JSON cannot hold as a string.
    func float<F: BinaryFloatingPoint & LosslessStringConvertible>(_ node: Int32, _ value: F) {
        guard value.isFinite else {
            string(node, value.isNaN ? "nan" : value < 0 ? "-inf" : "inf")
            return
        }
        var description = value.description
        if description.hasSuffix(".0") { description.removeLast(2) }
        scalar(node) { text in description.withUTF8 { text.append($0) } }
    }

    func string(_ node: Int32, _ value: String) {
        scalar(node) { Self.quote(value, into: &$0) }
    }

    /// A JSON string as Foundation writes it: quote, backslash and control characters escaped
    /// (\b \f \n \r \t by name, the rest as \u00XX), slashes and everything else as they are.
    static func quote(_ value: String, into text: inout ByteWriter) {
        text.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var plainFrom = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                text.append(UnsafeBufferPointer(rebasing: bytes[plainFrom..<index]))
                plainFrom = index + 1
                text.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): text.append(byte)
                case 0x08: text.append(UInt8(ascii: "b"))
                case 0x0C: text.append(UInt8(ascii: "f"))
                case 0x0A: text.append(UInt8(ascii: "n"))
                case 0x0D: text.append(UInt8(ascii: "r"))
                case 0x09: text.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    for escaped in [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]] { text.append(escaped) }
                }
            }
            text.append(UnsafeBufferPointer(rebasing: bytes[plainFrom...]))
        }
        text.append(UInt8(ascii: "\""))
    }

    // MARK: any value

    /// The scalar types go straight to text, as the containers' own methods would; anything else
    /// encodes itself into the node.
    func encode<T: Encodable>(_ value: T, into node: Int32) throws {
        if !aside.isEmpty, nodes[Int(node)].parent == 0, aside.contains(nodes[Int(node)].key) { return encodeAside(value, into: node) }
        // A metatype comparison, not a dynamic cast: a cast searched the conformance tables each time.
        if T.self == String.self {
            string(node, unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            integer(node, unsafeBitCast(value, to: Int.self))
        } else if T.self == Double.self {
            float(node, unsafeBitCast(value, to: Double.self))
        } else if T.self == Endpoint.self {
            endpoint(node, unsafeBitCast(value, to: Endpoint.self))
        } else if T.self == IPAddress.self {
            string(node, unsafeBitCast(value, to: IPAddress.self).description)
        } else {
            try value.encode(to: NodeEncoder(arena: self, node: node))
        }
    }

    /// An endpoint as its Codable conformance writes it, `{"address": text, "port": number}`, without
    /// the containers: each connection and reset holds two, and through an encoder each cost
    /// thousands of instructions (a boxed container, its generic metadata, a single-value container
    /// for the address).
    private func endpoint(_ node: Int32, _ endpoint: Endpoint) {
        open(node, as: .object, keyType: ObjectIdentifier(Endpoint.self))
        string(child(of: node, key: "address"), endpoint.address.description)
        integer(child(of: node, key: "port"), endpoint.port)
    }

    /// The keys from the root to a node, for `codingPath`.
    func path(to node: Int32) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var current = node
        while current > 0 {
            let entry = nodes[Int(current)]
            let parent = nodes[Int(entry.parent)]
            if parent.kind == .array {
                var index = 0, sibling = parent.first
                while sibling != current, sibling >= 0 { index += 1; sibling = nodes[Int(sibling)].next }
                keys.append(PathKey(intValue: index))
            } else {
                keys.append(PathKey(stringValue: entry.key))
            }
            current = entry.parent
        }
        return keys.reversed()
    }

    // MARK: rendering

    /// The whole document, once every value is encoded.
    func rendered() throws -> String {
        try written(depth: 0).withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The document from the root, written as if it were a value at `depth`.
    func written(depth: Int) throws -> ByteWriter {
        var out = ByteWriter(capacity: text.count * 2)
        let failure = nodes.withUnsafeBufferPointer { nodes in
            text.withBytes { text in
                var renderer = Renderer(nodes: nodes, text: text, orders: orders, asideParts: asideParts)
                renderer.render(0, depth: depth, into: &out)
                orders = renderer.orders
                return renderer.failure
            }
        }
        if let failure { throw failure }
        return out
    }

    /// A value of the root object encoded and written by a thread of its own, in an arena of its
    /// own; `rendered` takes its text when it reaches the node. Only parts of a Sendable value
    /// come here (`SortedJSON.encode(_:aside:)`).
    private func encodeAside<T: Encodable>(_ value: T, into node: Int32) {
        let part = Mailbox<Result<[UInt8], any Error>>()
        let lent = Lent(value: value)
        Thread {
            part.put(Result {
                let arena = Arena()
                try arena.encode(lent.value, into: arena.root())
                return try arena.written(depth: 1).withBytes { Array($0) }
            })
        }.start()
        nodes[Int(node)].kind = .aside
        nodes[Int(node)].textStart = Int32(asideParts.count)
        asideParts.append(part)
    }

    /// A part of a Sendable value, lent to the thread that encodes it.
    private struct Lent<Value>: @unchecked Sendable {
        let value: Value
    }
}

/// An order of keys that objects of one coding-key type arrive with: the keys as encoded, the
/// positions of those kept in sorted order, and each kept key as the document writes it
/// (quoted, then " : ").
struct KeyOrder {
    var keys: [String]
    var sorted: [Int]
    var written: [[UInt8]]
}

/// Writes the arena's nodes out, objects' keys sorted; reads the nodes in place.
private struct Renderer {
    let nodes: UnsafeBufferPointer<Arena.Node>
    let text: UnsafeBufferPointer<UInt8>
    var orders: [ObjectIdentifier: [KeyOrder]]
    /// The orders of the type of the object written last: objects of one kind come in runs (a list
    /// of records), and a lookup by type hashed for every object.
    private var lastType: ObjectIdentifier?
    private var lastOrders: [KeyOrder] = []
    /// The children of the objects being written, innermost last, in one buffer for the whole
    /// document: each object allocated two arrays of its own.
    private var scratch: [Int32] = []
    let asideParts: [Mailbox<Result<[UInt8], any Error>>]
    /// The first error an aside part's thread met.
    var failure: (any Error)?

    init(nodes: UnsafeBufferPointer<Arena.Node>, text: UnsafeBufferPointer<UInt8>, orders: [ObjectIdentifier: [KeyOrder]],
         asideParts: [Mailbox<Result<[UInt8], any Error>>]) {
        (self.nodes, self.text, self.orders, self.asideParts) = (nodes, text, orders, asideParts)
    }

    private static let newline = UInt8(ascii: "\n"), space = UInt8(ascii: " ")

    mutating func render(_ node: Int32, depth: Int, into out: inout ByteWriter) {
        switch nodes[Int(node)].kind {
        case .scalar:
            out.append(UnsafeBufferPointer(rebasing: text[Int(nodes[Int(node)].textStart)..<Int(nodes[Int(node)].textEnd)]))
        case .aside:
            switch asideParts[Int(nodes[Int(node)].textStart)].take() {
            case .success(let bytes): bytes.withUnsafeBufferPointer { out.append($0) }
            case .failure(let error): failure = failure ?? error
            }
        case .empty, .object:
            out.append(UInt8(ascii: "{"))
            let (start, kept, written) = orderChildren(node)
            for position in kept {
                separate(first: position == kept.lowerBound, depth: depth + 1, into: &out)
                let child = scratch[position]
                if let written {
                    written[position - kept.lowerBound].withUnsafeBufferPointer { out.append($0) }
                } else {
                    Self.write(key: nodes[Int(child)].key, into: &out)
                }
                render(child, depth: depth + 1, into: &out)
            }
            scratch.removeLast(scratch.count - start)
            close(UInt8(ascii: "}"), empty: kept.isEmpty, depth: depth, into: &out)
        case .array:
            out.append(UInt8(ascii: "["))
            var child = nodes[Int(node)].first
            while child >= 0 {
                separate(first: child == nodes[Int(node)].first, depth: depth + 1, into: &out)
                render(child, depth: depth + 1, into: &out)
                child = nodes[Int(child)].next
            }
            close(UInt8(ascii: "]"), empty: nodes[Int(node)].count == 0, depth: depth, into: &out)
        }
    }

    /// Before an entry: a comma after the one before, a new line, the indent.
    private func separate(first: Bool, depth: Int, into out: inout ByteWriter) {
        if !first { out.append(UInt8(ascii: ",")) }
        out.append(Self.newline)
        indent(depth, into: &out)
    }

    /// Foundation writes an empty container as its brackets around an empty line.
    private func close(_ bracket: UInt8, empty: Bool, depth: Int, into out: inout ByteWriter) {
        out.append(Self.newline)
        if empty { out.append(Self.newline) }
        indent(depth, into: &out)
        out.append(bracket)
    }

    private func indent(_ depth: Int, into out: inout ByteWriter) {
        for _ in 0..<2 * depth { out.append(Self.space) }
    }

    /// Puts an object's children on `scratch` and says where they stand in Foundation's order (the
    /// keys' Unicode order): `kept`, a range of `scratch`; everything the object put there starts
    /// at `start`. Objects of one coding-key type nearly always arrive with the same keys in the
    /// same order, so that order's sorting is remembered with its keys written out: checking an
    /// object against it costs a string equality per key. `written`: those keys, in `kept`'s
    /// order; nil when this object's order is not remembered.
    private mutating func orderChildren(_ node: Int32) -> (start: Int, kept: Range<Int>, written: [[UInt8]]?) {
        let start = scratch.count
        var child = nodes[Int(node)].first
        while child >= 0 {
            scratch.append(child)
            child = nodes[Int(child)].next
        }
        let count = scratch.count - start
        let type = nodes[Int(node)].keyType
        if type != lastType {
            lastType = type
            lastOrders = type.flatMap { orders[$0] } ?? []
        }
        let nodes = self.nodes
        if let order = lastOrders.first(where: { order in
            order.keys.count == count && order.keys.indices.allSatisfy { order.keys[$0] == nodes[Int(scratch[start + $0])].key }
        }) {
            for position in order.sorted { scratch.append(scratch[start + position]) }
            return (start, start + count..<scratch.count, order.written)
        }
        let keys = (0..<count).map { nodes[Int(scratch[start + $0])].key }
        // A key encoded twice keeps its last value, as in Foundation's dictionary of the object.
        let ordered = keys.indices.sorted { keys[$0] < keys[$1] || keys[$0] == keys[$1] && $0 < $1 }
        let sorted = ordered.indices.filter { $0 + 1 == ordered.count || keys[ordered[$0]] != keys[ordered[$0 + 1]] }.map { ordered[$0] }
        for position in sorted { scratch.append(scratch[start + position]) }
        guard let type, lastOrders.count < 8 else { return (start, start + count..<scratch.count, nil) }
        let order = KeyOrder(keys: keys, sorted: sorted, written: sorted.map { Self.written(key: keys[$0]) })
        lastOrders.append(order)
        orders[type] = lastOrders
        return (start, start + count..<scratch.count, order.written)
    }

    /// A key as an object's entry begins: quoted, then " : ".
    private static func write(key: String, into out: inout ByteWriter) {
        Arena.quote(key, into: &out)
        out.append(space)
        out.append(UInt8(ascii: ":"))
        out.append(space)
    }

    private static func written(key: String) -> [UInt8] {
        var out = ByteWriter(capacity: key.utf8.count + 8)
        write(key: key, into: &out)
        return out.withBytes { Array($0) }
    }
}

/// Bytes appended into memory that grows by doubling. `[UInt8].append` cost tens of instructions
/// a call (a check that the buffer is not shared, a generic copy), and summary.json is written in
/// hundreds of thousands of short runs: an indent, a key, a number.
struct ByteWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (base + count).initialize(from: from, count: bytes.count)
        count += bytes.count
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        var larger = capacity * 2
        while larger < needed { larger *= 2 }
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.initialize(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = larger
    }

    /// What has been written, read in place.
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try body(UnsafeBufferPointer(start: base, count: count))
    }
}

struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// The `Encoder` a value encodes itself into: one node of the arena.
struct NodeEncoder: Encoder {
    let arena: Arena
    let node: Int32
    var codingPath: [any CodingKey] { arena.path(to: node) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        arena.open(node, as: .object, keyType: ObjectIdentifier(type))
        return KeyedEncodingContainer(KeyedNode<Key>(arena: arena, node: node))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        arena.open(node, as: .array)
        return UnkeyedNode(arena: arena, node: node)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNode(arena: arena, node: node) }
}

struct KeyedNode<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let arena: Arena
    let node: Int32
    var codingPath: [any CodingKey] { arena.path(to: node) }

    private func child(_ key: Key) -> Int32 { arena.child(of: node, key: key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws { arena.literal(child(key), "null") }
    mutating func encode(_ value: Bool, forKey key: Key) throws { arena.literal(child(key), value ? "true" : "false") }
    mutating func encode(_ value: String, forKey key: Key) throws { arena.string(child(key), value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { arena.float(child(key), value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { arena.float(child(key), value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { arena.integer(child(key), value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try arena.encode(value, into: child(key)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(arena: arena, node: child(key)).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(arena: arena, node: child(key)).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(arena: arena, node: arena.child(of: node, key: "super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { NodeEncoder(arena: arena, node: child(key)) }
}

/// The scalar encodes an unkeyed and a single-value container share (their requirements are the
/// same): each writes its value into the node `target()` gives, a new element or the node itself.
protocol ValueTarget {
    var arena: Arena { get }
    mutating func target() -> Int32
}

extension ValueTarget {
    mutating func encodeNil() throws { arena.literal(target(), "null") }
    mutating func encode(_ value: Bool) throws { arena.literal(target(), value ? "true" : "false") }
    mutating func encode(_ value: String) throws { arena.string(target(), value) }
    mutating func encode(_ value: Double) throws { arena.float(target(), value) }
    mutating func encode(_ value: Float) throws { arena.float(target(), value) }
    mutating func encode(_ value: Int) throws { arena.integer(target(), value) }
    mutating func encode(_ value: Int8) throws { arena.integer(target(), value) }
    mutating func encode(_ value: Int16) throws { arena.integer(target(), value) }
    mutating func encode(_ value: Int32) throws { arena.integer(target(), value) }
    mutating func encode(_ value: Int64) throws { arena.integer(target(), value) }
    mutating func encode(_ value: UInt) throws { arena.integer(target(), value) }
    mutating func encode(_ value: UInt8) throws { arena.integer(target(), value) }
    mutating func encode(_ value: UInt16) throws { arena.integer(target(), value) }
    mutating func encode(_ value: UInt32) throws { arena.integer(target(), value) }
    mutating func encode(_ value: UInt64) throws { arena.integer(target(), value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try arena.encode(value, into: target()) }
}

struct UnkeyedNode: UnkeyedEncodingContainer, ValueTarget {
    let arena: Arena
    let node: Int32
    var codingPath: [any CodingKey] { arena.path(to: node) }
    var count: Int { Int(arena.nodes[Int(node)].count) }

    /// Each value is a new element.
    func target() -> Int32 { arena.child(of: node, key: "") }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(arena: arena, node: target()).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { NodeEncoder(arena: arena, node: target()).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { NodeEncoder(arena: arena, node: target()) }
}

struct SingleNode: SingleValueEncodingContainer, ValueTarget {
    let arena: Arena
    let node: Int32
    var codingPath: [any CodingKey] { arena.path(to: node) }

    func target() -> Int32 { node }
}
