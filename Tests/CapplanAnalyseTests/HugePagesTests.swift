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
    func aLargeTableIsAdvisedAndASmallOneIsNot() throws {
        var large: [UInt64] = []
        large.reserveCapacityInHugePages(1 << 20)
        large.append(1)
        let largeAddress = large.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
        // Past the first page: the advice covers the whole pages within the storage.
        #expect(try Self.flags(at: largeAddress + 4 << 20).contains("hg"), "8 MiB reserved")
        #expect(large.capacity >= 1 << 20)

        var small: [UInt64] = []
        small.reserveCapacityInHugePages(1 << 10)
        small.append(1)
        let smallAddress = small.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
        // Its first whole page, which advice would have covered.
        #expect(try !Self.flags(at: (smallAddress + 4095) & ~4095).contains("hg"), "8 KiB: not worth a huge page")
    }
}
