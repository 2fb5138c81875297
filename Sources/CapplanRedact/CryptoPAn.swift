internal import CCrypto
public import CapplanPackets

/// Why a key or cipher could not be used.
public struct RedactionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Owns one OpenSSL AES-128-ECB encryption context; freed in deinit.
final class AESBlockCipher {
    private let context: OpaquePointer

    init(key: ArraySlice<UInt8>) throws(RedactionError) {
        guard key.count == 16, let context = EVP_CIPHER_CTX_new() else { throw RedactionError("AES needs a 16-byte key") }
        self.context = context
        let ok = Array(key).withUnsafeBufferPointer { EVP_EncryptInit_ex(context, EVP_aes_128_ecb(), nil, $0.baseAddress, nil) }
        guard ok == 1 else { throw RedactionError("OpenSSL could not set up AES-128 (EVP_EncryptInit_ex)") }
        EVP_CIPHER_CTX_set_padding(context, 0)
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts one 16-byte block in place.
    func encrypt(_ block: inout (UInt64, UInt64)) {
        var length: Int32 = 0
        withUnsafeMutableBytes(of: &block) { buffer in
            let bytes = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
            _ = EVP_EncryptUpdate(context, bytes, &length, bytes, 16)
        }
    }
}

/// Crypto-PAn (Xu, Fan, Ammar, Moon: "Prefix-preserving IP address anonymization"):
/// two addresses that share an n-bit prefix still share exactly n bits after it.
/// Compatible with the reference implementation for IPv4; IPv6 uses the same
/// construction over 128 bits. Results are cached: a capture has few addresses.
public final class CryptoPAn: @unchecked Sendable {
    private let cipher: AESBlockCipher
    /// The encrypted second half of the key, in network byte order.
    private let pad: [UInt8]
    /// A direct-mapped cache: a capture has few addresses, and a miss only costs recomputing.
    /// Plain memory, allocated once: read for every address, arrays in a class cost a retain and
    /// a release per read. Used by one thread at a time, as the class's users do.
    private let cacheKeys = UnsafeMutablePointer<IPAddress>.allocate(capacity: CryptoPAn.cacheSize)
    private let cacheValues = UnsafeMutablePointer<IPAddress>.allocate(capacity: CryptoPAn.cacheSize)
    private let cacheFilled = UnsafeMutablePointer<Bool>.allocate(capacity: CryptoPAn.cacheSize)
    private static let cacheSize = 1 << 14

    /// `key` is 32 bytes: the AES key, then the pad's source.
    public init(key: [UInt8]) throws(RedactionError) {
        guard key.count == 32 else { throw RedactionError("a Crypto-PAn key is 32 bytes, not \(key.count)") }
        cipher = try AESBlockCipher(key: key[0..<16])
        var block = Self.block(from: Array(key[16..<32]))
        cipher.encrypt(&block)
        pad = Self.bytes(of: block)
        cacheKeys.initialize(repeating: IPAddress(ipv4: 0), count: Self.cacheSize)
        cacheValues.initialize(repeating: IPAddress(ipv4: 0), count: Self.cacheSize)
        cacheFilled.initialize(repeating: false, count: Self.cacheSize)
    }

    deinit {
        cacheKeys.deallocate()
        cacheValues.deallocate()
        cacheFilled.deallocate()
    }

    public func anonymize(_ address: IPAddress) -> IPAddress {
        var mixed = (address.low ^ address.high &* 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
        mixed ^= mixed >> 31
        let slot = Int(truncatingIfNeeded: mixed) & (Self.cacheSize - 1)
        if cacheFilled[slot], cacheKeys[slot] == address { return cacheValues[slot] }
        let result = address.isIPv6 ? anonymize6(address) : IPAddress(ipv4: anonymize4(UInt32(truncatingIfNeeded: address.low)))
        cacheKeys[slot] = address
        cacheValues[slot] = result
        cacheFilled[slot] = true
        return result
    }

    /// The reference algorithm: bit i of the one-time pad is the first bit of
    /// AES(the address's first i bits, then the pad's remaining bits).
    private func anonymize4(_ original: UInt32) -> UInt32 {
        let padWord = UInt32(pad[0]) << 24 | UInt32(pad[1]) << 16 | UInt32(pad[2]) << 8 | UInt32(pad[3])
        var input = pad
        var result: UInt32 = 0
        for position in 0..<32 {
            let kept = position == 0 ? 0 : (original >> (32 - UInt32(position))) << (32 - UInt32(position))
            let rest = position == 0 ? padWord : (padWord << UInt32(position)) >> UInt32(position)
            let word = kept | rest
            input[0] = UInt8(word >> 24)
            input[1] = UInt8((word >> 16) & 0xFF)
            input[2] = UInt8((word >> 8) & 0xFF)
            input[3] = UInt8(word & 0xFF)
            var block = Self.block(from: input)
            cipher.encrypt(&block)
            result |= UInt32(Self.bytes(of: block)[0] >> 7) << (31 - UInt32(position))
        }
        return result ^ original
    }

    /// The same construction over all 128 bits.
    private func anonymize6(_ address: IPAddress) -> IPAddress {
        let original = address.bytes
        var result = [UInt8](repeating: 0, count: 16)
        for position in 0..<128 {
            var input = pad
            for bit in 0..<position {  // the first `position` bits come from the address
                let byte = bit / 8, mask = UInt8(0x80) >> UInt8(bit % 8)
                input[byte] = (input[byte] & ~mask) | (original[byte] & mask)
            }
            var block = Self.block(from: input)
            cipher.encrypt(&block)
            if Self.bytes(of: block)[0] & 0x80 != 0 { result[position / 8] |= UInt8(0x80) >> UInt8(position % 8) }
        }
        let mixed = zip(original, result).map { $0 ^ $1 }
        let high = mixed[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = mixed[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return IPAddress(ipv6High: high, low: low)
    }

    private static func block(from bytes: [UInt8]) -> (UInt64, UInt64) {
        var block: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &block) { $0.copyBytes(from: bytes.prefix(16)) }
        return block
    }

    private static func bytes(of block: (UInt64, UInt64)) -> [UInt8] {
        withUnsafeBytes(of: block) { Array($0) }
    }
}
