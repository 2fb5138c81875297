import Foundation

/// A fixture with the spot an error must point at marked inside it by `1️⃣`
/// (the swift-format convention). The marker is removed before the text is parsed.
struct MarkedText {
    let text: String
    let line: Int
    let column: Int

    static let marker = "1️⃣"

    init(_ marked: String) {
        guard let range = marked.range(of: Self.marker) else {
            preconditionFailure("fixture has no 1️⃣ marker:\n\(marked)")
        }
        let before = marked[..<range.lowerBound]
        let lines = before.split(separator: "\n", omittingEmptySubsequences: false)
        line = lines.count
        // libyaml counts columns in characters (Unicode scalars), 1-based.
        column = (lines.last?.unicodeScalars.count ?? 0) + 1
        text = marked.replacingOccurrences(of: Self.marker, with: "")
    }
}

