/// Kubernetes object names, checked the way the API server checks them
/// (k8s.io/apimachinery/pkg/util/validation).
public enum KubernetesName {
    /// RFC 1123 label: namespaces, and the name part of label keys.
    /// At most 63 characters of [a-z0-9-], starting and ending with [a-z0-9].
    public static func checkLabel(_ name: String, what: String) -> ValueError? {
        guard !name.isEmpty else { return ValueError("\(what) is empty") }
        guard name.count <= 63 else {
            return ValueError("\(what) \"\(name)\" is \(name.count) characters long; the limit is 63", offset: 63)
        }
        return checkCharacters(name, what: what, allowDots: false)
    }

    /// RFC 1123 subdomain: pod and node names. At most 253 characters, dot-separated labels.
    public static func checkSubdomain(_ name: String, what: String) -> ValueError? {
        guard !name.isEmpty else { return ValueError("\(what) is empty") }
        guard name.count <= 253 else {
            return ValueError("\(what) is \(name.count) characters long; the limit is 253", offset: 253)
        }
        return checkCharacters(name, what: what, allowDots: true)
    }

    private static func checkCharacters(_ name: String, what: String, allowDots: Bool) -> ValueError? {
        let rule = allowDots
            ? "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
            : "lower-case letters, digits and '-', starting and ending with a letter or digit"
        let chars = Array(name)
        for (offset, char) in chars.enumerated() {
            let alphanumeric = char.isASCII && (char.isLowercase || char.isNumber)
            let allowed = alphanumeric || char == "-" || (allowDots && char == ".")
            if !allowed {
                let valid = suggestion(for: name, allowDots: allowDots)
                let hint = char.isUppercase ? " (Kubernetes names are lower case: \"\(valid)\")" : char == "_" || char == " " ? " (for example \"\(valid)\")" : ""
                return ValueError("\(what) \"\(name)\" has \(describe(char)), but may only have \(rule)\(hint)", offset: offset)
            }
            let atEdge = offset == 0 || offset == chars.count - 1
            let nextToDot = allowDots && ((offset > 0 && chars[offset - 1] == ".") || (offset + 1 < chars.count && chars[offset + 1] == "."))
            if !alphanumeric, atEdge || nextToDot {
                return ValueError("\(what) \"\(name)\" must start and end with a letter or digit (each dot-separated part too)",
                                  offset: offset)
            }
        }
        return nil
    }

    /// A valid name close to `name`: lower case, other characters as '-', trimmed to start and end with a letter or digit.
    static func suggestion(for name: String, allowDots: Bool) -> String {
        let mapped = name.lowercased().map { char -> Character in
            char.isASCII && (char.isLetter || char.isNumber) || (allowDots && char == ".") ? char : "-"
        }
        let edge: (Character) -> Bool = { $0 == "-" || $0 == "." }
        let trimmed = String(mapped.drop(while: edge).reversed().drop(while: edge).reversed())
        return trimmed.isEmpty ? "my-name" : trimmed
    }

    static func describe(_ char: Character) -> String {
        if char == " " { return "a space" }
        if char == "\t" { return "a tab" }
        return "'\(char)'"
    }
}
