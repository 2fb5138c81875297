/// A byte count: `512MiB`, `1GB`, `64KiB`, `1500` (bytes). Decimal units are powers of 1000,
/// binary ones (`KiB`, `MiB`, ..., or Kubernetes' `Ki`, `Mi`, ...) powers of 1024.
public struct ByteSize: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) { self.bytes = bytes }

    public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }

    public var description: String {
        for (unit, size) in [("GiB", Int64(1) << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)B"
    }

    private static let units: [String: Double] = [
        "": 1, "B": 1,
        "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
        "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776,
        "Ki": 1024, "Mi": 1_048_576, "Gi": 1_073_741_824, "Ti": 1_099_511_627_776,
    ]

    public static func parse(_ text: String) -> Result<ByteSize, ValueError> {
        let chars = Array(text)
        var index = 0
        while index < chars.count, chars[index].isASCII, chars[index].isNumber || chars[index] == "." { index += 1 }
        guard index > 0, let number = Double(String(chars[0..<index])) else {
            return .failure(ValueError("\"\(text)\" is not a size; write a number and a unit, e.g. 512MiB or 1GB", offset: 0))
        }
        let unit = String(chars[index...]).trimmingSpaces
        guard let multiplier = units[unit] else {
            return .failure(ValueError("\"\(text)\" has unknown unit \"\(unit)\"; use B, KB, MB, GB, KiB, MiB or GiB, e.g. 512MiB",
                                       offset: index))
        }
        let bytes = number * multiplier
        guard bytes < 9.2e18 else { return .failure(ValueError("\"\(text)\" is too large")) }
        guard bytes == bytes.rounded() else {
            return .failure(ValueError("\"\(text)\" is not a whole number of bytes"))
        }
        return .success(ByteSize(bytes: Int64(bytes)))
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

