/// Why a scalar is not a valid value, and (when known) the character inside it that is wrong.
public struct ValueError: Error, Sendable, Equatable {
    public var message: String
    /// 0-based offset in characters from the start of the scalar's text.
    public var offset: Int?

    public init(_ message: String, offset: Int? = nil) {
        self.message = message
        self.offset = offset
    }
}
