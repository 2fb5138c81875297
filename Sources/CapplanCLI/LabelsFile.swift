import CapplanAnalyse
import CapplanLoad
import CapplanPackets

/// The identity map file `capplan report --labels` takes:
///
///     labels:
///       - address: 203.0.113.12        # an address or a CIDR
///         name: lb-frontend
///         kind: loadbalancer           # pod | node | service | loadbalancer | external | other
///
/// Problems are reported like a plan's: file:line:col with a caret.
enum LabelsFile {
    /// Every problem of a labels file, ready to print.
    struct Problems: Error {
        var printer: DiagnosticPrinter
        var diagnostics: [Diagnostic]
    }

    static func load(path: String) throws(PlanReadError) -> Result<IdentityMap, Problems> {
        parse(source: try PlanLoader.readText(path: path), path: path)
    }

    static func parse(source: String, path: String) -> Result<IdentityMap, Problems> {
        var log = DiagnosticLog()
        var map = IdentityMap()
        func fail() -> Result<IdentityMap, Problems> {
            .failure(Problems(printer: DiagnosticPrinter(path: path, source: source), diagnostics: log.sorted))
        }
        let tree: YAMLNode?
        do {
            tree = try YAMLParser.parse(source)
        } catch {
            log.error("not valid YAML: \(error.message)", at: error.mark)
            return fail()
        }
        guard let tree, case .mapping(let top) = tree.content, let list = top.first(where: { $0.key.scalar == "labels" }) else {
            log.error("expected a mapping with a labels: list", at: tree?.start ?? SourceMark(line: 1, column: 1))
            return fail()
        }
        for pair in top where pair.key.scalar != "labels" {
            log.error("unknown key '\(pair.key.scalar ?? "")'; a labels file has only labels:", at: pair.key.start)
        }
        guard case .sequence(let items) = list.value.content else {
            log.error("expected a list of {address, name, kind}", at: list.value.start, field: "labels")
            return fail()
        }
        for (index, item) in items.enumerated() {
            if let (block, identity) = label(item, field: "labels[\(index)]", log: &log) { map.add(block, identity) }
        }
        return log.hasErrors ? fail() : .success(map)
    }

    /// One {address, name, kind} item; nil (with the problem logged) when it is not one.
    private static func label(_ item: YAMLNode, field: String, log: inout DiagnosticLog) -> (CIDR, Identity)? {
        let kinds = Identity.Kind.allCases.map(\.rawValue)
        guard case .mapping(let pairs) = item.content else {
            log.error("expected a mapping {address, name, kind}", at: item.start, field: field)
            return nil
        }
        var values: [String: YAMLNode] = [:]
        for pair in pairs {
            let key = pair.key.scalar ?? ""
            guard ["address", "name", "kind"].contains(key) else {
                let hint = Suggestion.closest(to: key, in: ["address", "name", "kind"]).map { "; did you mean '\($0)'?" } ?? ""
                log.error("unknown key '\(key)'\(hint)", at: pair.key.start, field: field)
                continue
            }
            values[key] = pair.value
        }
        guard let addressNode = values["address"], let addressText = addressNode.scalar else {
            log.error("missing address (an IP address or CIDR)", at: item.start, field: field)
            return nil
        }
        let block: CIDR
        switch CIDR.parse(addressText) {
        case .success(let parsed): block = parsed
        case .failure(let problem):
            var mark = addressNode.textStart
            mark.column += problem.offset
            log.error(problem.message, at: mark, field: "\(field).address")
            return nil
        }
        let kindText = values["kind"]?.scalar ?? "other"
        guard let kind = Identity.Kind(rawValue: kindText) else {
            let hint = Suggestion.closest(to: kindText, in: kinds).map { "; did you mean '\($0)'?" } ?? ""
            log.error("\"\(kindText)\" is not one of \(kinds.joined(separator: ", "))\(hint)",
                      at: values["kind"]?.start ?? item.start, field: "\(field).kind")
            return nil
        }
        return (block, Identity(name: values["name"]?.scalar ?? "", kind: kind))
    }
}
