/// One problem found in a plan, with where it is and what to do about it.
public struct Diagnostic: Sendable, Codable, Equatable {
    public enum Severity: String, Sendable, Codable {
        case error, warning
    }

    public var severity: Severity
    /// The plan field the problem is about, e.g. `capture.duration` or `pods[1].selector`.
    public var field: String?
    public var message: String
    public var line: Int
    public var column: Int

    public init(_ severity: Severity, at mark: SourceMark, field: String?, _ message: String) {
        self.severity = severity
        self.field = field
        self.message = message
        self.line = mark.line
        self.column = mark.column
    }

    public var mark: SourceMark { SourceMark(line: line, column: column) }
}

/// Collects every problem of one file in one pass, in source order.
public struct DiagnosticLog: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    public mutating func error(_ message: String, at mark: SourceMark, field: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: mark, field: field, message))
    }

    public mutating func warning(_ message: String, at mark: SourceMark, field: String? = nil) {
        diagnostics.append(Diagnostic(.warning, at: mark, field: field, message))
    }

    /// Errors first by position, so the output reads top to bottom like the file.
    public var sorted: [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (a.element.mark, a.offset) < (b.element.mark, b.offset)
        }.map(\.element)
    }
}
