/// A Kubernetes label selector in its string form (`app=x,tier!=db`, `env in (a,b)`, `!canary`),
/// parsed with the grammar and limits of k8s.io/apimachinery/pkg/labels, so anything
/// accepted here is accepted by `kubectl get pods -l`.
public struct LabelSelector: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Operator: String, Sendable, Codable {
        case equals = "=", notEquals = "!=", `in` = "in", notIn = "notin", exists = "exists", doesNotExist = "!"
        case greaterThan = "gt", lessThan = "lt"
    }

    public struct Requirement: Sendable, Hashable, Codable {
        public var key: String
        public var op: Operator
        public var values: [String]
    }

    public var requirements: [Requirement]
    public var description: String { text }
    private var text: String

    public static func parse(_ text: String) -> Result<LabelSelector, ValueError> {
        var parser = Parser(chars: Array(text))
        do {
            let requirements = try parser.parseSelector()
            return .success(LabelSelector(requirements: requirements, text: text))
        } catch {
            return .failure(error)
        }
    }

    /// Does the selector select a pod with these labels?
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            let value = labels[requirement.key]
            switch requirement.op {
            case .equals: return value == requirement.values.first
            case .notEquals: return value != requirement.values.first
            case .in: return value.map(requirement.values.contains) ?? false
            case .notIn: return !(value.map(requirement.values.contains) ?? false)
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .greaterThan, .lessThan:
                guard let number = value.flatMap({ Int64($0) }), let bound = requirement.values.first.flatMap({ Int64($0) }) else { return false }
                return requirement.op == .greaterThan ? number > bound : number < bound
            }
        }
    }

    private struct Parser {
        let chars: [Character]
        var index = 0

        static let special: Set<Character> = [" ", "\t", "\r", "\n", "(", ")", ",", "!", "=", "<", ">"]

        mutating func parseSelector() throws(ValueError) -> [Requirement] {
            var requirements: [Requirement] = []
            skipSpaces()
            guard index < chars.count else {
                throw ValueError("empty selector; write one like app=myapp or app in (a,b)")
            }
            while true {
                requirements.append(try parseRequirement())
                skipSpaces()
                if index == chars.count { return requirements }
                guard chars[index] == "," else {
                    throw ValueError("expected ',' between requirements, found \(KubernetesName.describe(chars[index]))", offset: index)
                }
                index += 1
                skipSpaces()
                guard index < chars.count else {
                    throw ValueError("the selector ends with ','; remove it or add a requirement", offset: index - 1)
                }
            }
        }

        mutating func parseRequirement() throws(ValueError) -> Requirement {
            if peek == "!" {
                index += 1
                skipSpaces()
                let key = try parseKey()
                return Requirement(key: key, op: .doesNotExist, values: [])
            }
            let key = try parseKey()
            skipSpaces()
            guard index < chars.count, chars[index] != "," else {
                return Requirement(key: key, op: .exists, values: [])
            }
            let opStart = index
            if chars[index] == "=" {
                index += 1
                if peek == "=" { index += 1 }
                return Requirement(key: key, op: .equals, values: [try parseSingleValue()])
            }
            if chars[index] == "!", index + 1 < chars.count, chars[index + 1] == "=" {
                index += 2
                return Requirement(key: key, op: .notEquals, values: [try parseSingleValue()])
            }
            if chars[index] == ">" || chars[index] == "<" {
                let op: Operator = chars[index] == ">" ? .greaterThan : .lessThan
                index += 1
                let valueStart = index + leadingSpaces
                let value = try parseSingleValue()
                guard Int64(value) != nil else {
                    throw ValueError("'\(op == .greaterThan ? ">" : "<")' needs a whole number, not \"\(value)\"", offset: valueStart)
                }
                return Requirement(key: key, op: op, values: [value])
            }
            let word = readWord()
            switch word {
            case "in", "notin":
                return Requirement(key: key, op: word == "in" ? .in : .notIn, values: try parseSet())
            default:
                throw ValueError("expected an operator after \"\(key)\" (=, ==, !=, in, notin), found \"\(word.isEmpty ? String(chars[opStart]) : word)\"",
                                 offset: opStart)
            }
        }

        mutating func parseKey() throws(ValueError) -> String {
            let start = index
            let key = readWord()
            guard !key.isEmpty else {
                let found = index < chars.count ? KubernetesName.describe(chars[index]) : "the end"
                throw ValueError("expected a label key, found \(found)", offset: index)
            }
            if let problem = LabelSyntax.checkKey(key) {
                throw ValueError(problem.message, offset: start + (problem.offset ?? 0))
            }
            return key
        }

        mutating func parseSingleValue() throws(ValueError) -> String {
            skipSpaces()
            let start = index
            let value = readWord()
            if let problem = LabelSyntax.checkValue(value) {
                throw ValueError(problem.message, offset: start + (problem.offset ?? 0))
            }
            return value
        }

        mutating func parseSet() throws(ValueError) -> [String] {
            skipSpaces()
            guard peek == "(" else {
                throw ValueError("expected '(' to open the set of values, e.g. env in (a,b)", offset: index)
            }
            index += 1
            var values: [String] = []
            while true {
                values.append(try parseSingleValue())
                skipSpaces()
                guard index < chars.count else {
                    throw ValueError("the set of values is not closed; add ')'", offset: index)
                }
                if chars[index] == ")" {
                    index += 1
                    return values
                }
                guard chars[index] == "," else {
                    throw ValueError("expected ',' or ')' in the set of values, found \(KubernetesName.describe(chars[index]))", offset: index)
                }
                index += 1
            }
        }

        var peek: Character? { index < chars.count ? chars[index] : nil }

        var leadingSpaces: Int {
            var count = 0
            while index + count < chars.count, chars[index + count] == " " || chars[index + count] == "\t" { count += 1 }
            return count
        }

        mutating func readWord() -> String {
            let start = index
            while index < chars.count, !Self.special.contains(chars[index]) { index += 1 }
            return String(chars[start..<index])
        }

        mutating func skipSpaces() {
            while index < chars.count, chars[index] == " " || chars[index] == "\t" { index += 1 }
        }
    }
}

/// Label keys and values (k8s.io/apimachinery/pkg/util/validation: IsQualifiedName, IsValidLabelValue).
enum LabelSyntax {
    static func checkKey(_ key: String) -> ValueError? {
        var name = Substring(key)
        var nameOffset = 0
        if let slash = key.firstIndex(of: "/") {
            let prefix = String(key[..<slash])
            if let problem = KubernetesName.checkSubdomain(prefix, what: "label key prefix") {
                return problem
            }
            name = key[key.index(after: slash)...]
            nameOffset = prefix.count + 1
        }
        if let problem = checkNamePart(String(name), what: "label key") {
            return ValueError(problem.message, offset: nameOffset + (problem.offset ?? 0))
        }
        return nil
    }

    static func checkValue(_ value: String) -> ValueError? {
        value.isEmpty ? nil : checkNamePart(value, what: "label value")
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
    private static func checkNamePart(_ text: String, what: String) -> ValueError? {
        guard !text.isEmpty else { return ValueError("\(what) is empty") }
        guard text.count <= 63 else { return ValueError("\(what) \"\(text)\" is longer than 63 characters", offset: 63) }
        let chars = Array(text)
        for (offset, char) in chars.enumerated() {
            let alphanumeric = char.isASCII && (char.isLetter || char.isNumber)
            if !(alphanumeric || char == "-" || char == "_" || char == ".") {
                return ValueError("\(what) \"\(text)\" has \(KubernetesName.describe(char)); use letters, digits, '-', '_' and '.'", offset: offset)
            }
            if !alphanumeric, offset == 0 || offset == chars.count - 1 {
                return ValueError("\(what) \"\(text)\" must start and end with a letter or digit", offset: offset)
            }
        }
        return nil
    }
}
