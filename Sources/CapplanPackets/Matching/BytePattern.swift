internal import CPCRE2

/// A regular expression over raw bytes (PCRE2, 8-bit, no UTF mode), used to scrub
/// secrets out of payloads. Compiled once; matching is byte-oriented because
/// payloads are not text.
public final class BytePattern: @unchecked Sendable {
    /// Why a pattern did not compile, and where in the pattern (0-based byte offset).
    public struct CompileError: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public let offset: Int
        public var description: String { "\(message) (at offset \(offset))" }
    }

    public let source: String
    // Owned here, freed in deinit; never handed out.
    private let code: OpaquePointer

    public init(_ source: String) throws(CompileError) {
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let compiled: OpaquePointer? = source.withCString { pointer in
            pointer.withMemoryRebound(to: UInt8.self, capacity: source.utf8.count + 1) { bytes in
                pcre2_compile_8(bytes, source.utf8.count, 0, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else {
            throw CompileError(message: Self.message(for: errorCode), offset: errorOffset)
        }
        self.source = source
        self.code = compiled
    }

    deinit { pcre2_code_free_8(code) }

    /// Byte ranges of every non-overlapping match in `bytes`.
    public func matches(in bytes: UnsafeRawBufferPointer) -> [Range<Int>] {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return [] }
        guard let data = pcre2_match_data_create_from_pattern_8(code, nil) else { return [] }
        defer { pcre2_match_data_free_8(data) }
        var found: [Range<Int>] = []
        var start = 0
        let subject = base.assumingMemoryBound(to: UInt8.self)
        while start <= bytes.count {
            let result = pcre2_match_8(code, subject, bytes.count, start, 0, data, nil)
            guard result > 0, let ovector = pcre2_get_ovector_pointer_8(data) else { break }
            let lower = ovector[0], upper = ovector[1]
            if upper > lower { found.append(lower..<upper) }
            start = upper > lower ? upper : upper + 1
        }
        return found
    }

    private static func message(for errorCode: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(errorCode, &buffer, buffer.count)
        guard length > 0 else { return "invalid regular expression (PCRE2 error \(errorCode))" }
        return String(decoding: buffer[0..<Int(length)], as: UTF8.self)
    }
}
