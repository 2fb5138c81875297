/// A source split into lines the way libyaml counts them, so a diagnostic's line number
/// names the line the printer shows: CR LF, CR, LF, NEL (U+0085), LS (U+2028) and PS (U+2029)
/// each end a line.
public enum SourceLines {
    public static func split(_ text: String) -> [Substring] {
        var lines: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            // "\r\n" is one Character in Swift, so this covers CR LF too.
            if character == "\n" || character == "\r" || character == "\r\n" || character == "\u{85}"
                || character == "\u{2028}" || character == "\u{2029}" {
                lines.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        lines.append(text[start...])
        return lines
    }
}
