#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The result of loading one plan file: the plan if it is valid, and every diagnostic.
public struct LoadedPlan: Sendable {
    public var path: String
    public var source: String
    public var plan: Plan?
    public var diagnostics: [Diagnostic]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    public var printer: DiagnosticPrinter { DiagnosticPrinter(path: path, source: source) }
}

/// A plan file that could not be read at all (as opposed to one that is invalid).
public struct PlanReadError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot read \(path): \(reason)" }
}

/// Load: bytes -> YAML tree with marks -> schema check -> semantic check -> `Plan`.
public enum PlanLoader {
    /// Plans are hand-written; anything larger is surely the wrong file.
    public static let maximumSize = 1 << 20

    public static func load(path: String) throws(PlanReadError) -> LoadedPlan {
        let bytes = try readFile(path)
        return load(bytes: bytes, path: path)
    }

    /// A small text file (a plan, a labels file) as a string; not UTF-8 is a read error.
    public static func readText(path: String) throws(PlanReadError) -> String {
        let bytes = try readFile(path)
        guard bytes.count <= maximumSize else { throw PlanReadError(path: path, reason: "larger than \(maximumSize) bytes") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw PlanReadError(path: path, reason: "not UTF-8 text") }
        return text
    }

    public static func load(bytes: [UInt8], path: String) -> LoadedPlan {
        guard bytes.count <= maximumSize else {
            return failed(path: path, source: "", at: SourceMark(line: 1, column: 1),
                          "the file is \(bytes.count) bytes; a plan is at most \(maximumSize) bytes. Is this the right file?")
        }
        guard let source = String(validating: bytes, as: UTF8.self) else {
            let (mark, text) = firstInvalidUTF8(bytes)
            return failed(path: path, source: text, at: mark, "the file is not UTF-8 text; save it as UTF-8")
        }
        return load(source: source, path: path)
    }

    public static func load(source: String, path: String) -> LoadedPlan {
        let tree: YAMLNode?
        do {
            tree = try YAMLParser.parse(source)
        } catch {
            return failed(path: path, source: source, at: error.mark, "not valid YAML: \(error.message)")
        }
        guard let tree else {
            return failed(path: path, source: source, at: SourceMark(line: 1, column: 1),
                          "the file is empty; a plan starts with apiVersion: \(PlanSchema.apiVersion)")
        }
        var checker = SchemaChecker(log: DiagnosticLog())
        let checked = checker.check(tree, as: .object(PlanSchema.root), field: "")
        var builder = PlanBuilder(log: checker.log)
        let plan = checked.flatMap { builder.build($0) }
        return LoadedPlan(path: path, source: source, plan: plan, diagnostics: builder.log.sorted)
    }

    /// A rules file for `capplan redact --rules`: `redact:` with the same keys as in a plan.
    /// Its drop filter is checked for Ethernet here, and again for the capture's own link type when it runs.
    public static func loadRules(path: String) throws(PlanReadError) -> (redaction: Redaction?, loaded: LoadedPlan) {
        let source = try readText(path: path)
        let tree: YAMLNode?
        do {
            tree = try YAMLParser.parse(source)
        } catch {
            return (nil, failed(path: path, source: source, at: error.mark, "not valid YAML: \(error.message)"))
        }
        guard let tree else {
            return (nil, failed(path: path, source: source, at: SourceMark(line: 1, column: 1), "the file is empty; a rules file starts with redact:"))
        }
        var checker = SchemaChecker(log: DiagnosticLog())
        let checked = checker.check(tree, as: .object(PlanSchema.rulesFile), field: "")
        var builder = PlanBuilder(log: checker.log)
        let redaction = builder.buildRedaction(checked?["redact"], interfaces: .init(selection: .any, linkTypes: [.ethernet]))
        let loaded = LoadedPlan(path: path, source: source, plan: nil, diagnostics: builder.log.sorted)
        return (loaded.hasErrors ? nil : redaction, loaded)
    }

    private static func failed(path: String, source: String, at mark: SourceMark, _ message: String) -> LoadedPlan {
        LoadedPlan(path: path, source: source, plan: nil, diagnostics: [Diagnostic(.error, at: mark, field: nil, message)])
    }

    /// Where the first byte that is not UTF-8 sits, and the valid text before it (for the caret line).
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> (SourceMark, String) {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var text = ""
        while case .scalarValue(let scalar) = decoder.decode(&iterator) { text.unicodeScalars.append(scalar) }
        let lines = SourceLines.split(text)
        return (SourceMark(line: lines.count, column: (lines.last?.unicodeScalars.count ?? 0) + 1), text)
    }

    private static func readFile(_ path: String) throws(PlanReadError) -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw PlanReadError(path: path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count > 0 { bytes.append(contentsOf: buffer[0..<count]) }
            if count < buffer.count {
                if ferror(file) != 0 { throw PlanReadError(path: path, reason: String(cString: strerror(errno))) }
                break
            }
            if bytes.count > maximumSize { break }
        }
        return bytes
    }
}
