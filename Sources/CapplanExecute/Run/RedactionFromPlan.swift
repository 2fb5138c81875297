public import CapplanLoad
public import CapplanRedact
import Foundation

extension RedactionRules {
    /// The plan's rules, with the key read from where the plan says (never from the plan itself).
    public init(_ redaction: Redaction, environment: [String: String]) throws(RedactionError) {
        if redaction.disabled {
            self = .none
            return
        }
        let payload: Payload
        switch redaction.payload {
        case .keep: payload = .keep
        case .drop: payload = .drop
        case .truncate(let bytes): payload = .truncate(bytes)
        }
        var key: [UInt8]?
        switch redaction.key {
        case .random: key = nil
        case .environment(let name):
            guard let value = environment[name] else {
                throw RedactionError("the key's environment variable \(name) is not set; export it (32 bytes as 64 hex digits)")
            }
            key = try Self.parseKey(Array(value.utf8), source: "environment variable \(name)")
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RedactionError("cannot read the key file \(path)")
            }
            key = try Self.parseKey(Array(data), source: "key file \(path)")
        }
        self.init(payload: payload, pseudonymizeAddresses: redaction.addresses == .pseudonymize, keepNetworks: redaction.keepNetworks,
                  macs: MACs(rawValue: redaction.macs.rawValue) ?? .keep, scrub: redaction.scrub, dropFilter: redaction.dropFilter, key: key)
    }

    /// 32 raw bytes, or 64 hex digits (surrounding white space ignored).
    static func parseKey(_ bytes: [UInt8], source: String) throws(RedactionError) -> [UInt8] {
        if bytes.count == 32 { return bytes }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count == 64 else {
            throw RedactionError("the \(source) holds \(bytes.count) bytes; a key is 32 bytes, or 64 hex digits")
        }
        var key: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else {
                throw RedactionError("the \(source) is not 64 hex digits")
            }
            key.append(byte)
            index = next
        }
        return key
    }
}

