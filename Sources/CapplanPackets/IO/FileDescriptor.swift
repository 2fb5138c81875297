#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain file-descriptor I/O shared by the writers and the console.
public enum FileDescriptor {
    /// Writes all `count` bytes, again after a partial write or EINTR. Returns 0, or the errno of
    /// the write that failed (ENOSPC for one that wrote nothing).
    @discardableResult
    public static func writeAll(_ descriptor: Int32, _ from: UnsafeRawPointer, _ count: Int) -> Int32 {
        var done = 0
        while done < count {
            let wrote = write(descriptor, from + done, count - done)
            if wrote < 0, errno == EINTR { continue }
            guard wrote > 0 else { return wrote < 0 ? errno : ENOSPC }
            done += wrote
        }
        return 0
    }
}
