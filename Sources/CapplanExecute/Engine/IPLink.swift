/// `ip -o link` read the same way on both targets: interface index → name (without `@peer`).
enum IPLink {
    static func parse(_ output: String) -> [Int: String] {
        var links: [Int: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count >= 2, let index = Int(parts[0].trimmingCharacters(in: .whitespaces)) else { continue }
            links[index] = parts[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init) ?? ""
        }
        return links
    }

    /// The interface `ip -o route get ADDRESS` names (`... dev NAME ...`), nil when none.
    static func device(inRoute output: String) -> String? {
        let words = output.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        guard let at = words.firstIndex(of: "dev"), at + 1 < words.count else { return nil }
        return words[at + 1]
    }
}
