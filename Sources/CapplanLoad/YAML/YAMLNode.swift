/// A position in a source file, 1-based as people and editors count.
/// `column` counts characters (Unicode scalars, as libyaml does), not bytes.
public struct SourceMark: Sendable, Hashable, Codable, Comparable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: SourceMark, b: SourceMark) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }
}

/// A YAML document as a tree whose every node remembers where it stood in the file.
public struct YAMLNode: Sendable {
    public enum ScalarStyle: Sendable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    public struct Pair: Sendable {
        public var key: YAMLNode
        public var value: YAMLNode
    }

    public enum Content: Sendable {
        case scalar(String, ScalarStyle)
        case mapping([Pair])
        case sequence([YAMLNode])
    }

    public var content: Content
    public var start: SourceMark
    /// Set when the node carried an explicit tag such as `!!str`.
    public var tag: String?

    public var scalar: String? {
        if case .scalar(let value, _) = content { return value }
        return nil
    }

    public var isPlainScalar: Bool {
        if case .scalar(_, .plain) = content { return true }
        return false
    }

    /// YAML's null: an empty plain scalar, `~` or `null`.
    public var isNull: Bool {
        guard case .scalar(let value, .plain) = content, tag == nil else { return false }
        return value.isEmpty || value == "~" || value == "null" || value == "Null" || value == "NULL"
    }

    /// What a person would call this node's type, for messages.
    public var kindName: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let value, let style):
            if isNull { return "nothing (null)" }
            if style == .plain {
                if value == "true" || value == "false" { return "a boolean" }
                if Int(value) != nil { return "a number" }
            }
            return "a string"
        }
    }

    /// The mark of the first character of the scalar's text itself, past an opening quote.
    public var textStart: SourceMark {
        guard case .scalar(_, let style) = content else { return start }
        switch style {
        case .singleQuoted, .doubleQuoted: return SourceMark(line: start.line, column: start.column + 1)
        default: return start
        }
    }
}
