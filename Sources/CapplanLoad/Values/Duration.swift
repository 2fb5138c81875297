/// A span of time written the way Kubernetes and Go write it: `90s`, `5m`, `1h30m`, `250ms`.
public struct PlanDuration: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func seconds(_ seconds: Int64) -> PlanDuration { PlanDuration(milliseconds: seconds * 1000) }

    public var seconds: Double { Double(milliseconds) / 1000 }
    public var nanoseconds: Int64 { Int64(milliseconds) * 1_000_000 }

    public static func < (a: PlanDuration, b: PlanDuration) -> Bool { a.milliseconds < b.milliseconds }

    /// Canonical text: the largest units first, `1h30m`, `1m0.5s` is written `1m500ms`.
    public var description: String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var text = ""
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000), ("ms", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }

    private static let units: [(suffix: String, milliseconds: Double)] = [
        ("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
    ]

    /// Units people write out, and the one capplan takes for each.
    static let longUnits = ["hour": "h", "hours": "h", "hr": "h", "hrs": "h", "minute": "m", "minutes": "m", "min": "m", "mins": "m",
                            "second": "s", "seconds": "s", "sec": "s", "secs": "s", "millisecond": "ms", "milliseconds": "ms", "msec": "ms"]

    /// Parses one or more `<number><unit>` parts; units are h, m, s, ms.
    public static func parse(_ text: String) -> Result<PlanDuration, ValueError> {
        let chars = Array(text)
        guard !chars.isEmpty else {
            return .failure(ValueError("empty duration; write a number and a unit, e.g. 60s, 5m or 1h30m"))
        }
        if chars.allSatisfy(\.isNumber) {
            return .failure(ValueError("\"\(text)\" has no unit; write \(text)s for seconds (units: h, m, s, ms)",
                                       offset: chars.count))
        }
        var total = 0.0
        var index = 0
        while index < chars.count {
            let numberStart = index
            while index < chars.count, chars[index].isASCII, chars[index].isNumber || chars[index] == "." { index += 1 }
            let numberEnd = index
            guard index > numberStart, let number = Double(String(chars[numberStart..<index])) else {
                return .failure(ValueError("\"\(text)\" is not a duration; write a number and a unit, e.g. 60s, 5m or 1h30m",
                                           offset: numberStart))
            }
            // "10 minutes": the word after the space is the unit meant.
            let spaced = index < chars.count && chars[index] == " "
            while index < chars.count, chars[index] == " " { index += 1 }
            let unitStart = index
            while index < chars.count, chars[index].isLetter { index += 1 }
            let unit = String(chars[unitStart..<index])
            let known = units.first(where: { $0.suffix == unit })?.milliseconds
            guard !spaced, let size = known else {
                if let meant = known != nil ? unit : Self.longUnits[unit.lowercased()] {
                    let why = known != nil ? "no space goes between the number and its unit" : "capplan does not know the unit \"\(unit)\""
                    return .failure(ValueError("\"\(text)\" is not a duration: \(why); write \(String(chars[numberStart..<numberEnd]))\(meant) (units: h, m, s, ms, e.g. 1h30m)", offset: unitStart))
                }
                let what = unit.isEmpty ? "a number without a unit" : "unknown unit \"\(unit)\""
                return .failure(ValueError("\"\(text)\" is not a duration: \(what); units are h, m, s and ms, e.g. 1h30m",
                                           offset: unitStart))
            }
            total += number * size
        }
        guard total <= 366 * 24 * 3_600_000 else {
            return .failure(ValueError("\"\(text)\" is longer than a year"))
        }
        return .success(PlanDuration(milliseconds: Int64(total.rounded())))
    }
}
