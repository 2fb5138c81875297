@testable import CapplanAnalyse
import Foundation
import Testing

/// The large tables' memory is asked to be backed by huge pages: the kernel marks the mapping
/// (`hg` in /proc/self/smaps), whatever mode its transparent huge pages are in.
struct HugePagesTests {
    /// The VmFlags of the mapping that holds `address`, from /proc/self/smaps.
    static func flags(at address: Int) throws -> [Substring] {
        // Read to its end: a /proc file's size is 0.
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps"))
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let range = line.split(separator: " ").first, range.contains("-"), !line.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { Int($0, radix: 16) }
                if bounds.count == 2 { inside = bounds[0] <= address && address < bounds[1] }
            } else if inside, line.hasPrefix("VmFlags:") {
                return line.dropFirst("VmFlags:".count).split(separator: " ")
            }
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/kernel/mm/transparent_hugepage/enabled"),
                   "this kernel has no transparent huge pages: there is no advice to see"))
    func aLargeTableIsAdvised() throws {
        var large: [UInt64] = []
        large.reserveCapacityInHugePages(1 << 20)
        large.append(1)
        let largeAddress = large.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
        // Past the first page: the advice covers the whole pages within the storage.
        #expect(try Self.flags(at: largeAddress + 4 << 20).contains("hg"), "8 MiB reserved")
        #expect(large.capacity >= 1 << 20)
    }

    /// What is advised: the whole pages within a table's storage, and nothing for one under 2 MiB.
    /// (Not read back from smaps: a small table may lie on pages that a freed large one left
    /// advised, in a process that ran other tests.)
    @Test func theAdviceCoversWholePagesOfALargeTableOnly() throws {
        let start = try #require(UnsafeMutableRawPointer(bitPattern: 0x7f00_0000_0010))
        #expect(HugePages.range(start, bytes: 8 << 20) == 0x7f00_0000_1000..<0x7f00_0080_0000, "8 MiB from 16 bytes into a page")
        #expect(HugePages.range(start, bytes: 8 << 10) == nil, "8 KiB: not worth a huge page")
        #expect(HugePages.range(start, bytes: (2 << 20) - 1) == nil)
    }
}
