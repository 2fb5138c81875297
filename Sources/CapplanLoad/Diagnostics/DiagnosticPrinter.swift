/// Renders diagnostics the way compilers do, so editors and people both can jump to them:
///
///     plans/x.yaml:12:5: error: capture.duration: "90q" is not a duration ...
///       duration: 90q
///                 ^
public struct DiagnosticPrinter: Sendable {
    public var path: String
    private let lines: [Substring]

    public init(path: String, source: String) {
        self.path = path
        self.lines = SourceLines.split(source)
    }

    public func render(_ diagnostic: Diagnostic) -> String {
        let field = diagnostic.field.map { "\($0): " } ?? ""
        var text = "\(path):\(diagnostic.line):\(diagnostic.column): \(diagnostic.severity.rawValue): \(field)\(diagnostic.message)\n"
        if diagnostic.line >= 1, diagnostic.line <= lines.count {
            let line = lines[diagnostic.line - 1]
            // Tabs are kept so the caret lines up under them in a terminal.
            let indent = line.unicodeScalars.prefix(max(diagnostic.column - 1, 0)).map { $0 == "\t" ? "\t" : " " }
            text += "  \(String(line))\n  \(indent.joined())^\n"
        }
        return text
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map(render).joined()
    }
}
