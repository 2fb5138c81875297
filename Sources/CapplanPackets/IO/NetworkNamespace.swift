#if canImport(Glibc)
import Glibc
#endif

/// Runs work inside a named network namespace (`ip netns add NAME`), on a thread of its
/// own, so the rest of the process stays where it is. A socket keeps the namespace it was
/// made in: a libpcap handle opened here captures there, whatever thread reads it later.
public enum NetworkNamespace {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32

    /// Glibc's setns(2), looked up at run time: Swift's Glibc module does not export it.
    private static let setNamespace: SetNamespace? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return nil }
        return unsafeBitCast(symbol, to: SetNamespace.self)
    }()

    fileprivate final class Job<Value> {
        let name: String
        let body: () throws -> Value
        var result: Result<Value, any Error>?
        init(name: String, body: @escaping () throws -> Value) {
            self.name = name
            self.body = body
        }
    }

    public static func perform<Value>(in name: String, _ body: @escaping () throws -> Value) throws -> Value {
        let job = Job(name: name, body: body)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(job as AnyObject).toOpaque()
        let created = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let job = Unmanaged<AnyObject>.fromOpaque(raw).takeRetainedValue()
            (job as? Runnable)?.runInNamespace()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<AnyObject>.fromOpaque(context).release()
            throw Failure(description: "cannot start a thread: \(String(cString: strerror(created)))")
        }
        pthread_join(thread, nil)
        guard let result = job.result else { throw Failure(description: "the namespace thread did not finish") }
        return try result.get()
    }

    fileprivate static func enter(_ name: String) throws(Failure) {
        guard let setNamespace else { throw Failure(description: "setns is not available on this system") }
        let descriptor = open("/var/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw Failure(description: "network namespace \(name): \(String(cString: strerror(errno))) (ip netns list shows the names)")
        }
        defer { Glibc.close(descriptor) }
        guard setNamespace(descriptor, 0x4000_0000) == 0 else {  // CLONE_NEWNET
            throw Failure(description: "cannot enter network namespace \(name): \(String(cString: strerror(errno)))")
        }
    }
}

private protocol Runnable: AnyObject {
    func runInNamespace()
}

extension NetworkNamespace.Job: Runnable {
    func runInNamespace() {
        do {
            try NetworkNamespace.enter(name)
            result = .success(try body())
        } catch {
            result = .failure(error)
        }
    }
}
