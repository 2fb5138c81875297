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

    /// Copies `count` bytes of `input` from `offset` to where `output` stands, in the kernel
    /// (sendfile), by reads and writes where it cannot. `input`'s own offset is left alone.
    /// Returns 0, or the errno of what failed (EIO for a file that ended early).
    public static func copy(_ input: Int32, from offset: Int64, count: Int64, to output: Int32) -> Int32 {
        var position = off_t(offset)
        let end = position + off_t(count)
        while position < end {
            let sent = sendfile(output, input, &position, Int(min(end - position, 1 << 30)))
            if sent < 0, errno == EINTR { continue }
            if sent <= 0 { break }
        }
        guard position < end else { return 0 }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while position < end {
            let got = pread(input, buffer, Int(min(end - position, off_t(chunk))), position)
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { return got < 0 ? errno : EIO }
            let error = writeAll(output, buffer, got)
            guard error == 0 else { return error }
            position += off_t(got)
        }
        return 0
    }
}
