/// The description of plan v1 that everything else is derived from: the loader's
/// structural checks and defaults, `capplan schema` (JSON Schema) and the field
/// reference in docs/plan-reference.md. Change a field here and all three follow.
public indirect enum SchemaType: Sendable {
    case string(StringFormat)
    case integer(ClosedRange<Int64>)
    case boolean
    case duration(ClosedRange<PlanDuration>)
    case size
    /// One of a fixed set of words.
    case word([String])
    case object(SchemaObject)
    case list(SchemaType, minItems: Int)
    /// Alternatives told apart by the node's shape (scalar, mapping or list).
    case either([SchemaType])
}

/// String values whose syntax the loader checks by itself (context-free).
public enum StringFormat: String, Sendable {
    case text
    case dnsLabel = "DNS-1123 label"
    case dnsSubdomain = "DNS-1123 subdomain"
    case podReference = "pod reference"
    case labelSelector = "label selector"
    /// Compiled by libpcap in the semantic pass, where the link type is known.
    case bpf = "BPF filter"
    case regex = "regular expression"
    case cidr = "CIDR"
    case interfaceName = "interface name"
    case environmentName = "environment variable name"
    case path
    case image = "container image"
    case peer
    case outputTemplate = "directory template"
}

public struct SchemaField: Sendable {
    public var name: String
    public var type: SchemaType
    public var required: Bool
    public var summary: String
    /// The value used when the field is absent, written as it would be in a plan;
    /// the loader fills it in, so it must be a valid value of `type`.
    public var defaultValue: String?
    /// What happens when the field is absent, in words, where no literal value says it
    /// ("the node of the pods"). For the docs only.
    public var defaultNote: String?

    public init(_ name: String, _ type: SchemaType, required: Bool = false, default defaultValue: String? = nil,
                defaultNote: String? = nil, _ summary: String) {
        self.name = name
        self.type = type
        self.required = required
        self.summary = summary
        self.defaultValue = defaultValue
        self.defaultNote = defaultNote
    }
}

public struct SchemaObject: Sendable {
    /// A name for the docs (`capture`, `pod`, ...).
    public var title: String
    public var summary: String
    public var fields: [SchemaField]
    /// Exactly one of these keys must be present (e.g. `name` or `selector`).
    public var exactlyOne: [String]
    /// How it is written, for messages about a value of the wrong shape.
    public var example: String?

    public init(_ title: String, _ summary: String, exactlyOne: [String] = [], example: String? = nil, _ fields: [SchemaField]) {
        self.title = title
        self.summary = summary
        self.fields = fields
        self.exactlyOne = exactlyOne
        self.example = example
    }

    public func field(_ name: String) -> SchemaField? { fields.first { $0.name == name } }

    /// `local:` with nothing after it means `local: {}`, for objects that need nothing.
    public var acceptsNull: Bool { !fields.contains(where: \.required) && exactlyOne.isEmpty }
}

extension SchemaType {
    /// How the type reads in a message or the docs: "a duration", "one of keep, drop".
    public var phrase: String {
        switch self {
        case .string(let format):
            guard format != .text, format != .path else { return "a string" }
            return ("aeiouAEIOU".contains(format.rawValue.first ?? "x") ? "an " : "a ") + format.rawValue
        case .integer(let range): return "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .boolean: return "true or false"
        case .duration: return "a duration (e.g. 60s, 5m, 1h30m)"
        case .size: return "a size (e.g. 512MiB, 1GB)"
        case .word(let words): return words.count == 1 ? "'\(words[0])'" : "one of " + words.joined(separator: ", ")
        case .object(let object): return "a mapping (\(object.title))"
        case .list(let element, _): return "a list of \(element.plural)"
        case .either(let choices): return choices.map(\.phrase).joined(separator: " or ")
        }
    }

    var plural: String {
        switch self {
        case .string(let format): return format == .text ? "strings" : "\(format.rawValue)s"
        case .object(let object): return "\(object.title) mappings"
        default: return phrase
        }
    }
}
