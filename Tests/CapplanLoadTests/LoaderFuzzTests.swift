import CapplanLoad
import CapplanTestSupport
import Foundation
import Testing

/// Arbitrary bytes never crash or hang the loader, and every diagnostic points inside the file.
/// The shipped plans are mutated with a seeded generator, so a failure names its seed and replays.
/// `scripts/fuzz-loader` runs the same test far longer (CAPPLAN_FUZZ_ITERATIONS).
struct LoaderFuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["CAPPLAN_FUZZ_ITERATIONS"] ?? "") ?? 4000
    static let seed = UInt64(ProcessInfo.processInfo.environment["CAPPLAN_FUZZ_SEED"] ?? "") ?? 0x5EED_CAB1

    @Test func mutatedPlansNeverCrashTheLoader() throws {
        let corpus = try Repository.shippedPlans().map { try [UInt8](Data(contentsOf: $0)) }
        try #require(!corpus.isEmpty)
        var random = SplitMix64(seed: Self.seed)
        var outcomes = (valid: 0, invalid: 0)
        for iteration in 0..<Self.iterations {
            var bytes = corpus[Int(random.next() % UInt64(corpus.count))]
            for _ in 0...(random.next() % 4) { Mutator.mutate(&bytes, using: &random) }
            let loaded = PlanLoader.load(bytes: bytes, path: "fuzz.yaml")
            let lineCount = SourceLines.split(loaded.source).count
            for diagnostic in loaded.diagnostics {
                #expect(diagnostic.line >= 1 && diagnostic.line <= lineCount + 1 && diagnostic.column >= 1,
                        "iteration \(iteration) (seed \(Self.seed)): \(diagnostic.line):\(diagnostic.column) outside the file")
            }
            #expect((loaded.plan != nil) == !loaded.hasErrors, "iteration \(iteration)")
            _ = loaded.printer.render(loaded.diagnostics)
            if loaded.plan != nil { outcomes.valid += 1 } else { outcomes.invalid += 1 }
        }
        // Both outcomes occur: the mutations neither always break nor never break the plans.
        #expect(outcomes.valid > 0 && outcomes.invalid > 0, "\(outcomes)")
    }

    @Test func pathologicalInputsGetAMessage() {
        let inputs: [(String, [UInt8])] = [
            ("deep nesting", Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)),
            ("deep mappings", Array((0..<200).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n").utf8)),
            ("alias bomb", Array("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n".utf8)),
            ("NUL bytes", [0x61, 0x3A, 0x00, 0x0A]),
            ("invalid UTF-8", Array("apiVersion: capplan/v1\nkind: ".utf8) + [0xC3, 0x28]),
            ("only a BOM", [0xEF, 0xBB, 0xBF]),
            ("huge", [UInt8](repeating: 0x61, count: PlanLoader.maximumSize + 1)),
            ("comment only", Array("# nothing\n".utf8)),
            ("scalar", Array("just text".utf8)),
        ]
        for (name, bytes) in inputs {
            let loaded = PlanLoader.load(bytes: bytes, path: "x.yaml")
            #expect(loaded.hasErrors, "\(name)")
            #expect(loaded.diagnostics.allSatisfy { !$0.message.isEmpty }, "\(name)")
        }
    }

    @Test func invalidUTF8IsPointedAt() {
        let loaded = PlanLoader.load(bytes: Array("a: 1\nkind: ab".utf8) + [0xFF], path: "x.yaml")
        #expect(loaded.diagnostics.first?.line == 2)
        #expect(loaded.diagnostics.first?.column == 9)
        #expect(loaded.diagnostics.first?.message.contains("UTF-8") == true)
    }
}

enum Mutator {
    /// Bytes that mean something to YAML, to libyaml's scanner or to UTF-8.
    static let interesting: [UInt8] = Array(":-{}[]\"'\t\n&*!%@#|>?,\\ 0".utf8) + [0x00, 0xFF, 0xC3, 0xE2, 0x80]

    static func mutate(_ bytes: inout [UInt8], using random: inout SplitMix64) {
        guard !bytes.isEmpty else {
            bytes = [interesting[Int(random.next() % UInt64(interesting.count))]]
            return
        }
        let at = Int(random.next() % UInt64(bytes.count))
        switch random.next() % 7 {
        case 0: bytes[at] ^= UInt8(truncatingIfNeeded: 1 << (random.next() % 8))
        case 1: bytes.insert(interesting[Int(random.next() % UInt64(interesting.count))], at: at)
        case 2: bytes.removeSubrange(at..<min(bytes.count, at + 1 + Int(random.next() % 16)))
        case 3: bytes[at] = interesting[Int(random.next() % UInt64(interesting.count))]
        case 4: bytes.removeSubrange(at..<bytes.count)
        case 5:
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            let a = Int(random.next() % UInt64(lines.count)), b = Int(random.next() % UInt64(lines.count))
            lines.swapAt(a, b)
            bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
        default:
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            let a = Int(random.next() % UInt64(lines.count))
            lines.insert(lines[a], at: a)
            bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
        }
    }
}
