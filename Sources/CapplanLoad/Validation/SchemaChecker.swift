internal import CapplanPackets

/// Walks a YAML tree against `PlanSchema`, reporting every structural problem
/// (unknown and duplicate keys, wrong types, missing fields, malformed values)
/// and returning the typed value tree for whatever was valid.
struct SchemaChecker {
    var log: DiagnosticLog

    mutating func check(_ node: YAMLNode, as type: SchemaType, field: String) -> CheckedValue? {
        switch type {
        case .object(let object):
            return checkObject(node, object, field: field)
        case .list(let element, let minItems):
            guard case .sequence(let items) = node.content else {
                return mismatch(node, expected: type, field: field)
            }
            if items.count < minItems {
                log.error("needs at least \(minItems) item\(minItems == 1 ? "" : "s"); remove the key if there are none",
                          at: node.start, field: field)
                return nil
            }
            // Invalid items are reported and left out; the valid ones still get their semantic checks.
            let values = items.enumerated().compactMap { index, item in
                check(item, as: element, field: "\(field)[\(index)]")
            }
            return CheckedValue(content: .list(values), mark: node.start, textMark: node.start, field: field)
        case .either(let choices):
            for choice in choices where Self.shapeFits(node, choice) {
                return check(node, as: choice, field: field)
            }
            return mismatch(node, expected: type, field: field)
        default:
            return checkScalar(node, as: type, field: field)
        }
    }

    private mutating func checkObject(_ node: YAMLNode, _ object: SchemaObject, field: String) -> CheckedValue? {
        let pairs: [YAMLNode.Pair]
        switch node.content {
        case .mapping(let mapping): pairs = mapping
        case .scalar where node.isNull && object.acceptsNull:
            pairs = []  // `local:` with nothing after it means the same as `local: {}`.
        default:
            return mismatch(node, expected: .object(object), field: field)
        }
        var values: [String: CheckedValue] = [:]
        var seen: [String: SourceMark] = [:]
        // Keys a typo was reported for: "did you mean 'duration'?" already says it is missing.
        var suggested: Set<String> = []
        for pair in pairs {
            let key = pair.key.scalar ?? ""
            let path = field.isEmpty ? key : "\(field).\(key)"
            if let first = seen[key] {
                log.error("duplicate key '\(key)' (first given at line \(first.line)); keep one", at: pair.key.start, field: path)
                continue
            }
            seen[key] = pair.key.start
            guard let schemaField = object.field(key) else {
                log.error(unknownKeyMessage(key, in: object), at: pair.key.start, field: field.isEmpty ? nil : field)
                if let suggestion = Suggestion.closest(to: key, in: object.fields.map(\.name)) { suggested.insert(suggestion) }
                continue
            }
            values[key] = check(pair.value, as: schemaField.type, field: path).map { value in
                var value = value
                value.keyMark = pair.key.start
                return value
            }
        }
        for schemaField in object.fields where schemaField.required && seen[schemaField.name] == nil && !suggested.contains(schemaField.name) {
            let path = field.isEmpty ? schemaField.name : "\(field).\(schemaField.name)"
            log.error("missing required field '\(schemaField.name)' (\(schemaField.type.phrase)): \(schemaField.summary)",
                      at: node.start, field: path)
        }
        if !object.exactlyOne.isEmpty {
            let present = object.exactlyOne.filter { seen[$0] != nil }
            let choices = object.exactlyOne.map { "'\($0)'" }.joined(separator: " or ")
            if present.isEmpty, suggested.isDisjoint(with: object.exactlyOne) {
                log.error("needs \(choices)", at: node.start, field: field.isEmpty ? nil : field)
            } else if present.count > 1, let second = seen[present[1]] {
                log.error("'\(present[0])' and '\(present[1])' cannot both be given; keep one", at: second, field: field)
            }
        }
        // Defaults are filled only where the schema can say them as a value of the field's type.
        for schemaField in object.fields where seen[schemaField.name] == nil {
            if let text = schemaField.defaultValue, let value = Self.defaultValue(text, schemaField.type, at: node.start,
                                                                                   field: field.isEmpty ? schemaField.name : "\(field).\(schemaField.name)") {
                values[schemaField.name] = value
            }
        }
        // Invalid fields were reported and left out; the rest still get their semantic checks.
        return CheckedValue(content: .object(values), mark: node.start, textMark: node.start, field: field)
    }

    private mutating func checkScalar(_ node: YAMLNode, as type: SchemaType, field: String) -> CheckedValue? {
        guard case .scalar(let text, _) = node.content, !node.isNull else {
            return mismatch(node, expected: type, field: field)
        }
        var value = CheckedValue(content: .string(text), mark: node.start, textMark: node.textStart, field: field)
        value.offsetsAreExact = Self.offsetsAreExact(node)
        switch Self.parseScalar(text, plain: node.isPlainScalar, as: type) {
        case .success(let content):
            var checked = value
            checked.content = content
            return checked
        case .failure(let problem):
            log.error(problem.message, at: value.mark(atOffset: problem.offset), field: field)
            return nil
        }
    }

    /// The typed content of a scalar, or why it is not one.
    static func parseScalar(_ text: String, plain: Bool, as type: SchemaType) -> Result<CheckedValue.Content, ValueError> {
        switch type {
        case .integer(let range):
            guard let number = Int64(text), plain else {
                let hint = text.contains(where: \.isLetter) && ByteSize.parse(text).failure == nil
                    ? " (sizes go in maxBytes)" : ""
                return .failure(ValueError("expected \(type.phrase), got \(plain ? "\"\(text)\"" : "a quoted string")\(hint)"))
            }
            guard range.contains(number) else {
                return .failure(ValueError("\(number) is out of range; use \(range.lowerBound) to \(range.upperBound)"))
            }
            return .success(.integer(number))
        case .boolean:
            guard plain, text == "true" || text == "false" else {
                return .failure(ValueError("expected true or false, got \"\(text)\""))
            }
            return .success(.boolean(text == "true"))
        case .duration(let range):
            switch PlanDuration.parse(text) {
            case .failure(let problem): return .failure(problem)
            case .success(let duration):
                guard range.contains(duration) else {
                    return .failure(ValueError("\(text) is out of range; use \(range.lowerBound) to \(range.upperBound)"))
                }
                return .success(.duration(duration))
            }
        case .size:
            return ByteSize.parse(text).flatMap { size in
                size.bytes > 0 ? .success(.size(size)) : .failure(ValueError("a size of 0 would stop at once; remove the limit instead"))
            }
        case .word(let words):
            guard words.contains(text) else {
                let hint = Suggestion.closest(to: text, in: words).map { "; did you mean '\($0)'?" } ?? ""
                return .failure(ValueError("\"\(text)\" is not \(type.phrase)\(hint)"))
            }
            return .success(.string(text))
        case .string(let format):
            if let problem = checkFormat(text, format) { return .failure(problem) }
            return .success(.string(text))
        default:
            return .failure(ValueError("expected \(type.phrase)"))
        }
    }

    static func checkFormat(_ text: String, _ format: StringFormat) -> ValueError? {
        switch format {
        case .text, .path, .bpf: return nil
        case .dnsLabel: return KubernetesName.checkLabel(text, what: "name")
        case .dnsSubdomain: return KubernetesName.checkSubdomain(text, what: "name")
        case .podReference: return PodReference.parse(text).failure
        case .labelSelector: return LabelSelector.parse(text).failure
        case .cidr: return CIDR.parseValue(text).failure
        case .peer: return Peer.parse(text).failure
        case .interfaceName: return SimpleFormats.checkInterfaceName(text)
        case .environmentName: return SimpleFormats.checkEnvironmentName(text)
        case .image: return SimpleFormats.checkImage(text)
        case .outputTemplate: return SimpleFormats.checkOutputTemplate(text)
        case .regex:
            do {
                _ = try BytePattern(text)
                return nil
            } catch {
                return ValueError("does not compile: \(error.message)", offset: error.offset)
            }
        }
    }

    private static func defaultValue(_ text: String, _ type: SchemaType, at mark: SourceMark, field: String) -> CheckedValue? {
        let scalarType: SchemaType
        switch type {
        case .either(let choices):
            guard let word = choices.first(where: { if case .word(let words) = $0 { words.contains(text) } else { false } }) else { return nil }
            scalarType = word
        case .object, .list: return nil
        default: scalarType = type
        }
        guard case .success(let content) = parseScalar(text, plain: true, as: scalarType) else { return nil }
        return CheckedValue(content: content, mark: mark, textMark: mark, field: field, isDefault: true)
    }

    /// Offsets into the value are offsets into the source only when no escape changed the text.
    private static func offsetsAreExact(_ node: YAMLNode) -> Bool {
        guard case .scalar(let text, let style) = node.content else { return false }
        switch style {
        case .plain: return true
        case .singleQuoted: return !text.contains("'")
        case .doubleQuoted, .literal, .folded: return false
        }
    }

    private static func shapeFits(_ node: YAMLNode, _ type: SchemaType) -> Bool {
        switch (node.content, type) {
        case (.mapping, .object), (.sequence, .list): return true
        case (.scalar, .object), (.scalar, .list), (.mapping, _), (.sequence, _): return false
        case (.scalar, _): return true
        }
    }

    private mutating func mismatch(_ node: YAMLNode, expected: SchemaType, field: String) -> CheckedValue? {
        var example: String?
        if case .object(let object) = expected { example = object.example }
        log.error("expected \(expected.phrase), got \(node.kindName)" + (example.map { "; write \($0)" } ?? ""),
                  at: node.start, field: field.isEmpty ? nil : field)
        return nil
    }

    /// "unknown key 'duraton' in capture; did you mean 'duration'?", or where the key belongs
    /// when it is a valid key of another section.
    private func unknownKeyMessage(_ key: String, in object: SchemaObject) -> String {
        let place = object.title == "plan" ? "at the top level" : "in \(object.title)"
        if let suggestion = Suggestion.closest(to: key, in: object.fields.map(\.name)) {
            return "unknown key '\(key)' \(place); did you mean '\(suggestion)'?"
        }
        if let home = PlanSchema.allObjects.first(where: { $0.title != object.title && $0.field(key) != nil }) {
            return "unknown key '\(key)' \(place); '\(key)' belongs in \(home.title)"
        }
        let known = object.fields.map(\.name).joined(separator: ", ")
        return "unknown key '\(key)' \(place); known keys: \(known.isEmpty ? "none" : known)"
    }
}

extension Result where Failure == ValueError {
    var failure: ValueError? { if case .failure(let error) = self { error } else { nil } }
}
