/// A libpcap call that failed, with the function's name and libpcap's own message.
public struct PcapError: Error, Sendable, CustomStringConvertible {
    public var function: String
    public var message: String
    public var path: String?

    public init(_ function: String, _ message: String, path: String? = nil) {
        self.function = function
        self.message = message
        self.path = path
    }

    /// The path first, once: libpcap's messages for a file it cannot open already start with it.
    public var description: String {
        let prefix = path.map { "\($0): " } ?? ""
        return (message.hasPrefix(prefix) ? "" : prefix) + message + " (\(function))"
    }
}
