/// A plan value that passed the schema: typed, with the mark of where it was written.
/// Defaults from the schema are filled in as values with `isDefault` set.
public struct CheckedValue: Sendable {
    public enum Content: Sendable {
        case string(String)
        case integer(Int64)
        case boolean(Bool)
        case duration(PlanDuration)
        case size(ByteSize)
        case object([String: CheckedValue])
        case list([CheckedValue])
    }

    public var content: Content
    public var mark: SourceMark
    /// Where its key was written, for problems with the field being there at all.
    public var keyMark: SourceMark?
    /// Where the text of a string starts (past a quote), for pointing inside it.
    public var textMark: SourceMark
    /// The field path, e.g. `pods[1].selector`.
    public var field: String
    public var isDefault = false
    /// False when quoting escapes make offsets in the value differ from columns in the file.
    public var offsetsAreExact = false

    public subscript(key: String) -> CheckedValue? {
        if case .object(let fields) = content { return fields[key] }
        return nil
    }

    public var string: String? {
        guard case .string(let value) = content else { return nil }
        return value
    }
    public var integer: Int64? {
        guard case .integer(let value) = content else { return nil }
        return value
    }
    public var boolean: Bool? {
        guard case .boolean(let value) = content else { return nil }
        return value
    }
    public var duration: PlanDuration? {
        guard case .duration(let value) = content else { return nil }
        return value
    }
    public var size: ByteSize? {
        guard case .size(let value) = content else { return nil }
        return value
    }
    public var list: [CheckedValue] {
        guard case .list(let value) = content else { return [] }
        return value
    }

    public var isObject: Bool {
        guard case .object = content else { return false }
        return true
    }
    public var strings: [String] { list.compactMap(\.string) }

    /// A mark inside a string's text, `offset` characters in, when the text is on one line.
    public func mark(atOffset offset: Int?) -> SourceMark {
        guard let offset, offsetsAreExact, let text = string, !text.contains("\n") else { return mark }
        return SourceMark(line: textMark.line, column: textMark.column + offset)
    }
}
