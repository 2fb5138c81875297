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

    public var description: String {
        (path.map { "\($0): " } ?? "") + message + " (\(function))"
    }
}
