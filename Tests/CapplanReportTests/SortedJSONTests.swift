import CapplanAnalyse
import CapplanPackets
import CapplanReport
import CapplanTestSupport
import Foundation
import Testing

/// summary.json is written by `SortedJSON`, which must write exactly what Foundation's JSONEncoder
/// wrote before it (pretty, sorted keys, slashes as they are, "inf"/"-inf"/"nan"): Foundation is
/// the oracle, on crafted values that reach every corner of the format and on the summaries of
/// the Zeek corpus's real traces.
struct SortedJSONTests {
    static func foundation<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    struct Scalars: Encodable {
        var text = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }.joined() + "\"\\/\u{7F}é\u{2028}😀 plain"
        var empty = ""
        var doubles = [0.0, -0.0, 1, -1, 0.1, 1.0 / 3, 20.196147, 1e-7, .leastNonzeroMagnitude, 1e15, 1e16, 1e20, 123456789012345680,
                       .greatestFiniteMagnitude, .infinity, -.infinity, .nan]
        var floats: [Float] = [0.1, 1, 3.4e38, .infinity]
        var integers = [Int.min, -1, 0, 7, Int.max]
        var unsigned: [UInt64] = [0, .max]
        var small: [UInt8] = [0, 255]
        var int32 = Int32.min
        var flags = [true, false]
        var missing: Int? = nil
        var present: Int? = 3
        var nested: [[String: [Int]]] = [[:], ["b": [], "a": [1, 2]]]
        /// Keys where byte order, case-insensitive and numeric orders disagree.
        var keys: [String: Int] = ["inWindow": 1, "index": 2, "a10": 3, "a9": 4, "B": 5, "a": 6, "_x": 7, "Z": 8, "ä": 9, "a-b": 10, "a_b": 11]
        var byNumber: [Int: String] = [10: "ten", 9: "nine", -1: "minus one"]
        var nothing = Nothing()
        var custom = Custom()
        var emptyStructs: [Nothing] = [Nothing(), Nothing()]
    }

    /// Encodes nothing at all: Foundation writes an empty object.
    struct Nothing: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    /// The containers synthesized code never uses.
    struct Custom: Encodable {
        enum Keys: String, CodingKey { case zed, alpha, inner, list, parent }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode("last", forKey: .zed)
            try container.encodeNil(forKey: .alpha)
            var inner = container.nestedContainer(keyedBy: Keys.self, forKey: .inner)
            try inner.encode(1.5, forKey: .list)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            try list.encodeNil()
            var deeper = list.nestedUnkeyedContainer()
            try deeper.encode("x")
            try Single(value: 2.0).encode(to: container.superEncoder(forKey: .parent))
            try container.encode(true, forKey: .alpha)  // a key written twice: the second wins
        }
    }

    struct Single: Encodable {
        var value: Double
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(value)
        }
    }

    @Test func everyCornerOfTheFormatAsFoundationWritesIt() throws {
        #expect(try SortedJSON.encode(Scalars()) == Self.foundation(Scalars()))
        #expect(try SortedJSON.encode(Custom()) == Self.foundation(Custom()))
        #expect(try SortedJSON.encode([Int]()) == Self.foundation([Int]()))
        #expect(try SortedJSON.encode("top") == Self.foundation("top"))
        #expect(try SortedJSON.encode(Optional<Int>.none) == Self.foundation(Optional<Int>.none))
    }

    /// Endpoints and addresses are written without an encoder's containers (`Arena.endpoint`): as
    /// their Codable conformances write them, alone, nested, in lists and optional.
    struct Ends: Encodable {
        var v4 = Endpoint(address: IPAddress(ipv4: 0xC633_640A), port: 443)
        var v6 = Endpoint(address: IPAddress(ipv6High: 0x2001_0DB8_0000_0000, low: 1), port: 0)
        var list = [Endpoint(address: IPAddress(ipv4: 0xCB00_7101), port: 65535), Endpoint(address: IPAddress(ipv4: 0), port: 1)]
        var address = IPAddress(ipv6High: 0xFE80_0000_0000_0000, low: 0x0200_5EFF_FE00_5301)
        var absent: Endpoint? = nil
        var present: Endpoint? = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 53)
        var byName = ["b": IPAddress(ipv4: 1), "a": IPAddress(ipv4: 2)]
    }

    @Test func endpointsAndAddressesAsTheirConformancesWriteThem() throws {
        #expect(try SortedJSON.encode(Ends()) == Self.foundation(Ends()))
        #expect(try SortedJSON.encode(Ends().v6) == Self.foundation(Ends().v6))
    }

    /// Many objects of one kind with different optional keys present: the remembered key orders
    /// must not carry one object's order over to another's.
    @Test func objectsOfOneKindWithDifferentKeysSortEachTheirOwn() throws {
        struct Row: Encodable {
            var b: Int?
            var a: Int?
            var c: Int?
        }
        let rows = (0..<64).map { Row(b: $0 & 1 == 0 ? $0 : nil, a: $0 & 2 == 0 ? $0 : nil, c: $0 & 4 == 0 ? $0 : nil) }
        #expect(try SortedJSON.encode(rows) == Self.foundation(rows))
    }

    /// Values of the root object set aside to other threads come out in their place, indented as
    /// the root's values, exactly as one piece; an error thrown on such a thread reaches the caller.
    @Test func valuesSetAsideToOtherThreadsComeOutInPlace() throws {
        struct Nested: Encodable, Sendable {
            var list = Array(0..<300)
            var inner = ["k": [1.5, 2], "empty": []]
        }
        struct Document: Encodable, Sendable {
            var zeta = [["b": 1, "a": 2], [:]]
            var alpha = "plain"
            var middle: [String: [Int]] = ["y": [1, 2], "x": []]
            var nested = Nested()
            var scalars = Scalars()
        }
        let asides: [Set<String>] = [["zeta"], ["alpha", "nested", "middle"], ["zeta", "alpha", "middle", "nested", "scalars", "absent"]]
        for aside in asides {
            #expect(try SortedJSON.encode(Document(), aside: aside) == Self.foundation(Document()), "\(aside)")
        }
        struct Refuses: Encodable, Sendable {
            func encode(to encoder: any Encoder) throws {
                throw EncodingError.invalidValue(0, .init(codingPath: encoder.codingPath, debugDescription: "refused"))
            }
        }
        struct Holder: Encodable, Sendable {
            var bad = Refuses()
            var good = 1
        }
        #expect(throws: EncodingError.self) { try SortedJSON.encode(Holder(), aside: ["bad"]) }
    }

    @Test func theZeekCorpusSummariesAsFoundationWritesThem() throws {
        var compared = 0
        for capture in try Corpus.captures(in: "zeek") {
            guard let summary = try? CaptureReport.analyse(path: capture) else { continue }
            #expect(try SummaryJSON.render(summary) == Self.foundation(summary) + "\n", "\(capture)")
            compared += 1
        }
        #expect(compared >= 30, "only \(compared) traces of \(Corpus.folder("zeek")) were read")
    }
}
