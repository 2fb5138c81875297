#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address held inline (no allocation), so the packet path can key
/// flows by it. IPv4 lives in the low 32 bits of `low`.
public struct IPAddress: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, BitwiseCopyable {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    @inlinable public init(ipv4: UInt32) {
        high = 0
        low = UInt64(ipv4)
        isIPv6 = false
    }

    @inlinable public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        isIPv6 = true
    }

    public init?(_ text: String) {
        if text.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &address) { Array($0) }
            self.init(ipv6High: Self.bigEndian(bytes[0..<8]), low: Self.bigEndian(bytes[8..<16]))
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            self.init(ipv4: UInt32(bigEndian: address.s_addr))
        }
    }

    public var bitCount: Int { isIPv6 ? 128 : 32 }

    /// One word into the hasher, not three: the analysis looks both ends of every connection up
    /// (top talkers), and SipHash's cost is per word. Equal addresses give equal words; the
    /// multiply (odd, so one to one) keeps an IPv6 address's halves from cancelling out.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(high ^ low &* 0x9E37_79B9_7F4A_7C15 ^ (isIPv6 ? 1 : 0))
    }

    /// In JSON an address is its text, `198.51.100.10` or `2001:db8::1`; the integer form that
    /// summary.json schema version 1 wrote (`{high, low, isIPv6}`) is still read.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private enum LegacyKeys: String, CodingKey { case high, low, isIPv6 }

    public init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            guard let address = IPAddress(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not an IP address"))
            }
            self = address
            return
        }
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        high = try legacy.decode(UInt64.self, forKey: .high)
        low = try legacy.decode(UInt64.self, forKey: .low)
        isIPv6 = try legacy.decode(Bool.self, forKey: .isIPv6)
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        if !isIPv6 { return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * UInt64($0))) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    public var description: String {
        guard isIPv6 else { return dottedQuad }
        // RFC 5952's zero compression, as inet_ntop writes it.
        var buffer = [CChar](repeating: 0, count: 64)
        let ok = bytes.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer { out in
                inet_ntop(AF_INET6, raw.baseAddress, out.baseAddress, socklen_t(out.count)) != nil
            }
        }
        guard ok else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An IPv4 address's text written digit by digit: glibc's inet_ntop formats it with sprintf, and
    /// a summary writes thousands of addresses (a tenth of rendering summary.json went there).
    private var dottedQuad: String {
        String(unsafeUninitializedCapacity: 15) { text in
            var count = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int(truncatingIfNeeded: low >> UInt64(shift)) & 0xFF
                if octet >= 100 { text[count] = UInt8(ascii: "0") + UInt8(octet / 100); count += 1 }
                if octet >= 10 { text[count] = UInt8(ascii: "0") + UInt8(octet / 10 % 10); count += 1 }
                text[count] = UInt8(ascii: "0") + UInt8(octet % 10)
                count += 1
                if shift > 0 { text[count] = UInt8(ascii: "."); count += 1 }
            }
            return count
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        (a.isIPv6 ? 1 : 0, a.high, a.low) < (b.isIPv6 ? 1 : 0, b.high, b.low)
    }

    /// The address with every bit past `prefixLength` cleared.
    public func masked(to prefixLength: Int) -> IPAddress {
        var copy = self
        if isIPv6 {
            copy.high &= Self.mask(prefixLength)
            copy.low &= Self.mask(prefixLength - 64)
        } else {
            copy.low &= Self.mask(prefixLength + 32) & 0xFFFF_FFFF
        }
        return copy
    }

    /// A 64-bit mask with the top `bits` bits set (clamped to 0...64).
    private static func mask(_ bits: Int) -> UInt64 {
        bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> UInt64(bits))
    }

    private static func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// An address block such as `10.96.0.0/12` or `2001:db8::/32`. A bare address is a /32 or /128.
public struct CIDR: Sendable, Hashable, Codable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public var description: String { "\(address)/\(prefixLength)" }

    public func contains(_ other: IPAddress) -> Bool {
        other.isIPv6 == address.isIPv6 && other.masked(to: prefixLength) == address
    }

    /// Parses `ADDRESS[/PREFIX]`; the message says what is wrong and where (character offset).
    public static func parse(_ text: String) -> Result<CIDR, CIDRError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        guard let address = IPAddress(addressText) else {
            return .failure(CIDRError(message: "\"\(addressText)\" is not an IPv4 or IPv6 address", offset: 0))
        }
        var prefix = address.bitCount
        if parts.count == 2 {
            guard parts[1].allSatisfy(\.isNumber), let length = Int(parts[1]), (0...address.bitCount).contains(length) else {
                return .failure(CIDRError(message: "\"\(parts[1])\" is not a prefix length; use 0 to \(address.bitCount)",
                                          offset: addressText.count + 1))
            }
            prefix = length
        }
        let network = address.masked(to: prefix)
        if network != address {
            return .failure(CIDRError(message: "\(text) has host bits set; did you mean \(network)/\(prefix)?", offset: 0))
        }
        return .success(CIDR(address: address, prefixLength: prefix))
    }
}

public struct CIDRError: Error, Sendable, Equatable {
    public var message: String
    public var offset: Int
}
