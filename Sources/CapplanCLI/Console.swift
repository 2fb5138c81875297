#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CapplanPackets

/// Where commands write. The real one writes to the process's stdout and stderr;
/// tests bind a capturing one with `Console.$current.withValue(...)`.
public final class Console: @unchecked Sendable {
    @TaskLocal public static var current = Console()

    private let lock = NSLockLike()
    private var capturedOut = ""
    private var capturedErr = ""
    private let capturing: Bool

    public init(capturing: Bool = false) {
        self.capturing = capturing
    }

    public func out(_ text: String) { write(text, toError: false) }
    /// UTF-8 bytes to standard output as they are (a String would be checked and copied again).
    public func out(bytes: [UInt8]) {
        if capturing { write(String(decoding: bytes, as: UTF8.self), toError: false) } else { Self.writeAll(bytes, to: 1) }
    }
    public func err(_ text: String) { write(text, toError: true) }

    public var standardOutput: String { lock.locked { capturedOut } }
    public var standardError: String { lock.locked { capturedErr } }

    private func write(_ text: String, toError: Bool) {
        if capturing {
            lock.locked { toError ? capturedErr.append(text) : capturedOut.append(text) }
        } else {
            Self.writeAll(Array(text.utf8), to: toError ? 2 : 1)
        }
    }
}

extension Console {
    /// Unbuffered writes to a file descriptor, retried on partial writes and EINTR; a failed one is
    /// dropped (there is nowhere left to report it).
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        bytes.withUnsafeBytes { if let base = $0.baseAddress { FileDescriptor.writeAll(descriptor, base, $0.count) } }
    }
}

/// A pthread mutex, so the console is safe to use from several tasks.
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
