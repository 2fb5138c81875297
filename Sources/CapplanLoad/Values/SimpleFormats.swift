/// Small string formats that need no library: interface names, environment variable
/// names, container images and the output directory template.
public enum SimpleFormats {
    /// Linux interface names: 1 to 15 bytes, no '/', ':' or white space (IFNAMSIZ - 1).
    public static func checkInterfaceName(_ name: String) -> ValueError? {
        guard !name.isEmpty else { return ValueError("an interface name is empty") }
        guard name.utf8.count <= 15 else {
            return ValueError("interface name \"\(name)\" is longer than 15 bytes, the Linux limit", offset: 15)
        }
        if let bad = name.firstIndex(where: { $0 == "/" || $0 == ":" || $0.isWhitespace || !$0.isASCII }) {
            return ValueError("interface name \"\(name)\" has \(KubernetesName.describe(name[bad])), which Linux does not allow",
                              offset: name.distance(from: name.startIndex, to: bad))
        }
        return nil
    }

    /// POSIX-style environment variable names.
    public static func checkEnvironmentName(_ name: String) -> ValueError? {
        let chars = Array(name)
        guard let first = chars.first else { return ValueError("the variable name is empty") }
        guard first == "_" || (first.isASCII && first.isLetter) else {
            return ValueError("\"\(name)\" is not an environment variable name; it must start with a letter or '_'", offset: 0)
        }
        if let bad = chars.firstIndex(where: { !($0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber))) }) {
            return ValueError("\"\(name)\" is not an environment variable name; use letters, digits and '_'", offset: bad)
        }
        return nil
    }

    /// A container image reference: `name[:tag][@sha256:digest]`, no white space or shell metacharacters.
    public static func checkImage(_ image: String) -> ValueError? {
        guard !image.isEmpty else { return ValueError("the image is empty") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@")
        if let bad = image.firstIndex(where: { !allowed.contains($0) }) {
            return ValueError("image \"\(image)\" has \(KubernetesName.describe(image[bad])), which no image reference has",
                              offset: image.distance(from: image.startIndex, to: bad))
        }
        return nil
    }

    /// Placeholders the output directory may use.
    public static let outputPlaceholders = ["name", "time", "node", "target"]

    public static func checkOutputTemplate(_ template: String) -> ValueError? {
        guard !template.isEmpty else { return ValueError("the output directory is empty") }
        let chars = Array(template)
        var index = 0
        while index < chars.count {
            if chars[index] == "{" {
                guard let close = chars[index...].firstIndex(of: "}") else {
                    return ValueError("'{' is not closed; placeholders look like {name}", offset: index)
                }
                let word = String(chars[(index + 1)..<close])
                if !outputPlaceholders.contains(word) {
                    let hint = Suggestion.closest(to: word, in: outputPlaceholders).map { "; did you mean {\($0)}?" } ?? ""
                    return ValueError("unknown placeholder {\(word)}; use {name}, {time}, {node} or {target}\(hint)", offset: index)
                }
                index = close + 1
            } else if chars[index] == "}" {
                return ValueError("'}' without '{'", offset: index)
            } else {
                index += 1
            }
        }
        if template.split(separator: "/").contains("..") {
            return ValueError("the output directory may not climb out with '..'", offset: 0)
        }
        return nil
    }
}
