import Glibc

extension Array {
    /// Room for `count` elements, backed by 2 MiB pages where the kernel gives them on request
    /// (transparent huge pages in `madvise` mode, Debian's default). For the large tables a run
    /// fills front to back: each 4 KiB page was a page fault of its own, about 1.4 us here, and
    /// the path tracer's tables took about 11,000 of them on the bench path; a huge page costs
    /// about 0.2 us per 4 KiB. A huge page is taken only where the table is written, so at most
    /// 2 MiB more is resident than is used. Where the kernel gives no huge pages (`never`) the
    /// advice changes nothing.
    mutating func reserveCapacityInHugePages(_ count: Int) {
        reserveCapacity(count)
        let bytes = capacity * MemoryLayout<Element>.stride
        withUnsafeMutableBufferPointer { buffer in
            if let start = buffer.baseAddress { HugePages.advise(UnsafeMutableRawPointer(start), bytes: bytes) }
        }
    }
}

enum HugePages {
    /// 2 MiB, x86-64's and arm64's (with 4 KiB pages) huge page.
    static let size = 2 * 1024 * 1024
    private static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Asks for huge pages over `range(start, bytes:)`; memory that is already resident stays as
    /// it is. The advice stays with the pages after the table is freed.
    static func advise(_ start: UnsafeMutableRawPointer, bytes: Int) {
        guard let range = range(start, bytes: bytes), let aligned = UnsafeMutableRawPointer(bitPattern: range.lowerBound) else { return }
        _ = madvise(aligned, range.count, MADV_HUGEPAGE)
    }

    /// The whole pages within `bytes` from `start`; nil under a huge page's size, not worth one.
    static func range(_ start: UnsafeMutableRawPointer, bytes: Int) -> Range<Int>? {
        guard bytes >= size else { return nil }
        let first = (Int(bitPattern: start) + page - 1) & ~(page - 1)
        let end = (Int(bitPattern: start) + bytes) & ~(page - 1)
        return end > first ? first..<end : nil
    }
}
