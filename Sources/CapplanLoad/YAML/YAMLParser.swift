internal import CYAML

/// Why a file is not YAML, in libyaml's words, at libyaml's mark.
public struct YAMLSyntaxError: Error, Sendable {
    public var message: String
    public var mark: SourceMark
}

/// Turns YAML text into one `YAMLNode` tree using libyaml's event API, so every
/// node keeps its mark. Plans are small, hand-written files: anchors and aliases,
/// several documents and absurd nesting are refused with a clear message rather
/// than expanded (an alias bomb must not hang the loader).
public enum YAMLParser {
    public static let maximumDepth = 64

    /// Returns nil for an empty stream (no document at all).
    public static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        let events = EventReader(text)
        var builder = TreeBuilder()
        while true {
            let event = try events.next()
            if let done = try builder.consume(event) { return done.node }
        }
    }
}

/// Owns one `yaml_parser_t` and the bytes it reads; frees both in deinit.
private final class EventReader {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>

    init(_ text: String) {
        parser = .allocate(capacity: 1)
        let bytes = Array(text.utf8)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        yaml_parser_initialize(parser)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event, copied out of libyaml's structures so no C pointer escapes.
    func next() throws(YAMLSyntaxError) -> YAMLEvent {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw syntaxError() }
        defer { yaml_event_delete(&event) }
        let mark = SourceMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_STREAM_START_EVENT: return YAMLEvent(kind: .streamStart, mark: mark)
        case YAML_STREAM_END_EVENT: return YAMLEvent(kind: .streamEnd, mark: mark)
        case YAML_DOCUMENT_START_EVENT: return YAMLEvent(kind: .documentStart, mark: mark)
        case YAML_DOCUMENT_END_EVENT: return YAMLEvent(kind: .documentEnd, mark: mark)
        case YAML_ALIAS_EVENT: return YAMLEvent(kind: .alias, mark: mark)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value = scalar.value.map { pointer in
                String(decoding: UnsafeBufferPointer(start: pointer, count: scalar.length), as: UTF8.self)
            } ?? ""
            let style: YAMLNode.ScalarStyle
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            return YAMLEvent(kind: .scalar(value, style), mark: mark, anchor: scalar.anchor != nil,
                         tag: Self.string(scalar.tag))
        case YAML_SEQUENCE_START_EVENT:
            let start = event.data.sequence_start
            return YAMLEvent(kind: .sequenceStart, mark: mark, anchor: start.anchor != nil, tag: Self.string(start.tag))
        case YAML_SEQUENCE_END_EVENT: return YAMLEvent(kind: .sequenceEnd, mark: mark)
        case YAML_MAPPING_START_EVENT:
            let start = event.data.mapping_start
            return YAMLEvent(kind: .mappingStart, mark: mark, anchor: start.anchor != nil, tag: Self.string(start.tag))
        case YAML_MAPPING_END_EVENT: return YAMLEvent(kind: .mappingEnd, mark: mark)
        default: return YAMLEvent(kind: .streamEnd, mark: mark)
        }
    }

    private func syntaxError() -> YAMLSyntaxError {
        let state = parser.pointee
        var message = state.problem.map { String(cString: $0) } ?? "not valid YAML"
        if let context = state.context.map({ String(cString: $0) }) {
            message = "\(context), \(message)"
        }
        let mark = state.problem_mark
        return YAMLSyntaxError(message: message,
                               mark: SourceMark(line: Int(mark.line) + 1, column: Int(mark.column) + 1))
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}

struct YAMLEvent {
    enum Kind {
        case streamStart, streamEnd, documentStart, documentEnd, alias
        case scalar(String, YAMLNode.ScalarStyle)
        case sequenceStart, sequenceEnd, mappingStart, mappingEnd
    }
    var kind: Kind
    var mark: SourceMark
    var anchor = false
    var tag: String? = nil
}

/// Assembles events into a tree with an explicit stack (no recursion, so depth
/// is limited by `maximumDepth`, not by the thread's stack).
private struct TreeBuilder {
    struct Done { var node: YAMLNode? }

    private enum Open {
        case sequence(start: SourceMark, tag: String?, items: [YAMLNode])
        case mapping(start: SourceMark, tag: String?, pairs: [YAMLNode.Pair], pendingKey: YAMLNode?)
    }

    private var stack: [Open] = []
    private var root: YAMLNode?
    private var documents = 0

    mutating func consume(_ event: YAMLEvent) throws(YAMLSyntaxError) -> Done? {
        if event.anchor {
            throw YAMLSyntaxError(message: "anchors (&name) are not supported in capture plans; write the value out",
                                  mark: event.mark)
        }
        switch event.kind {
        case .streamStart, .documentEnd:
            return nil
        case .documentStart:
            documents += 1
            if documents > 1 {
                throw YAMLSyntaxError(message: "a plan file holds one YAML document; split the others into their own files",
                                      mark: event.mark)
            }
            return nil
        case .streamEnd:
            return Done(node: root)
        case .alias:
            throw YAMLSyntaxError(message: "aliases (*name) are not supported in capture plans; write the value out",
                                  mark: event.mark)
        case .scalar(let value, let style):
            try add(YAMLNode(content: .scalar(value, style), start: event.mark, tag: event.tag))
            return nil
        case .sequenceStart:
            try push(.sequence(start: event.mark, tag: event.tag, items: []), at: event.mark)
            return nil
        case .mappingStart:
            try push(.mapping(start: event.mark, tag: event.tag, pairs: [], pendingKey: nil), at: event.mark)
            return nil
        case .sequenceEnd, .mappingEnd:
            guard let open = stack.popLast() else { return nil }
            switch open {
            case .sequence(let start, let tag, let items):
                try add(YAMLNode(content: .sequence(items), start: start, tag: tag))
            case .mapping(let start, let tag, let pairs, _):
                try add(YAMLNode(content: .mapping(pairs), start: start, tag: tag))
            }
            return nil
        }
    }

    private mutating func push(_ open: Open, at mark: SourceMark) throws(YAMLSyntaxError) {
        guard stack.count < YAMLParser.maximumDepth else {
            throw YAMLSyntaxError(message: "nesting deeper than \(YAMLParser.maximumDepth) levels; a capture plan never needs that",
                                  mark: mark)
        }
        stack.append(open)
    }

    private mutating func add(_ node: YAMLNode) throws(YAMLSyntaxError) {
        guard let top = stack.popLast() else {
            root = node
            return
        }
        switch top {
        case .sequence(let start, let tag, var items):
            items.append(node)
            stack.append(.sequence(start: start, tag: tag, items: items))
        case .mapping(let start, let tag, var pairs, let pendingKey):
            if let key = pendingKey {
                pairs.append(YAMLNode.Pair(key: key, value: node))
                stack.append(.mapping(start: start, tag: tag, pairs: pairs, pendingKey: nil))
            } else {
                guard node.scalar != nil else {
                    throw YAMLSyntaxError(message: "a mapping key must be a plain name, not \(node.kindName)",
                                          mark: node.start)
                }
                stack.append(.mapping(start: start, tag: tag, pairs: pairs, pendingKey: node))
            }
        }
    }
}
