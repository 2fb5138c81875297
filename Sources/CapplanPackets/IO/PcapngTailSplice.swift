import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Puts the rewritten end of a pcapng back in place so that a run stopped at any point (killed,
/// the machine down) loses no packet and leaves a file every reader opens. The new end is whole
/// and on disk beside the file, as `NAME.tail-at-OFFSET`, before the file is cut at OFFSET (a block
/// boundary); it is appended there, and removed only once the file holds it. Until then the file
/// is the capture as it was, or its blocks before OFFSET, and `finish` (run by `capplan cleanup`
/// and `capplan report`) completes the splice from the name alone, as often as it is stopped.
/// A splice under way holds the capture locked (`lock`): a `finish` in another process waits for
/// it rather than taking its new end away.
public enum PcapngTailSplice {
    /// Locks the capture (flock, exclusive) until `unlock`, waiting for another holder; -1 when it
    /// cannot be opened (then there is nothing to splice).
    static func lock(_ path: String) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return -1 }
        while flock(descriptor, LOCK_EX) != 0, errno == EINTR {}
        return descriptor
    }

    static func unlock(_ descriptor: Int32) {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Where the new end is written; it becomes `tailPath` once it is whole.
    static func partialPath(_ path: String) -> String { path + ".tail-partial" }

    static func tailPath(_ path: String, at offset: Int64) -> String { "\(path).tail-at-\(offset)" }

    /// Splices the whole new end at `partial` into `path` at `offset`, where it replaces the file's
    /// last `old` bytes. A disk without room for the longer end leaves the file as it was.
    static func commit(path: String, partial: String, at offset: Int64, replacing old: Int64) throws(PcapError) {
        var status = stat(), disk = statvfs()
        guard stat(partial, &status) == 0, statvfs(partial, &disk) == 0 else {
            unlink(partial)
            throw PcapError("stat", String(cString: strerror(errno)), path: partial)
        }
        // The cut frees `old` bytes; the end grows by the comments. A megabyte spare for blocks.
        let free = Int64(disk.f_bavail) * Int64(disk.f_frsize)
        guard free >= Int64(status.st_size) - old + (1 << 20) else {
            unlink(partial)
            throw PcapError("pcapng", "cannot add comments to \(path): \(free / 1024) KiB free on its disk", path: path)
        }
        let tail = tailPath(path, at: offset)
        guard rename(partial, tail) == 0 else {
            unlink(partial)
            throw PcapError("rename", String(cString: strerror(errno)), path: partial)
        }
        try splice(tail, into: path, at: offset)
    }

    /// Completes a splice that a stopped run left beside `path`, and removes a new end it had not
    /// finished writing (the file was not cut for it). Returns whether there was a splice to complete.
    public static func finish(path: String) throws(PcapError) -> Bool {
        let held = lock(path)
        defer { unlock(held) }
        unlink(partialPath(path))
        let url = URL(fileURLWithPath: path)
        let prefix = url.lastPathComponent + ".tail-at-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)) ?? []
        var finished = false
        for name in names.sorted() where name.hasPrefix(prefix) {
            guard let offset = Int64(name.dropFirst(prefix.count)), offset > 0 else { continue }
            try splice(tailPath(path, at: offset), into: path, at: offset)
            finished = true
        }
        return finished
    }

    /// Cuts `path` at `offset`, appends `tail` there and removes it once the file is on disk.
    private static func splice(_ tail: String, into path: String, at offset: Int64) throws(PcapError) {
        let file = open(path, O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { throw PcapError("open", String(cString: strerror(errno)), path: path) }
        defer { close(file) }
        let source = open(tail, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw PcapError("open", String(cString: strerror(errno)), path: tail) }
        defer { close(source) }
        var status = stat()
        var error: Int32 = 0
        if fstat(source, &status) != 0 || ftruncate(file, off_t(offset)) != 0 || lseek(file, off_t(offset), SEEK_SET) != off_t(offset) {
            error = errno
        } else {
            error = FileDescriptor.copy(source, from: 0, count: Int64(status.st_size), to: file)
            if error == 0, fdatasync(file) != 0 { error = errno }
        }
        guard error == 0 else {
            throw PcapError("pcapng", "the packets from byte \(offset) on are in \(tail): \(String(cString: strerror(error))); "
                + "when that is mended, `capplan cleanup` of the run directory or `capplan report` of the file puts them back", path: path)
        }
        unlink(tail)
    }
}
