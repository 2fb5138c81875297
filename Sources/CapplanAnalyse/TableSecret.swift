/// A keyed hash for the analysis's open-addressing tables (flows, and the path's connection views
/// and key packets), whose keys come from the capture: whoever wrote it chose them.
///
/// A hash that combines the key's words linearly and mixes afterwards (`a * K1 ^ b * K2 ^ ...`)
/// lets anyone solve for keys that share a value, with or without a seed xored in: such keys all
/// take one home, and each lookup walks every key before it (quadratic time on a capture of a
/// few hundred thousand crafted flows). Here each pair of words is xored with secret words and
/// multiplied out to 128 bits, the halves folded (wyhash's "mum"): which keys collide depends
/// on the secret, drawn at random per table. It costs about what the linear hash did: a
/// multiply per pair of words.
struct TableSecret: Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64, UInt64)

    init() {
        var generator = SystemRandomNumberGenerator()
        words = (generator.next(), generator.next(), generator.next(), generator.next(), generator.next())
    }

    @inline(__always)
    private static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    /// Five words of a key, hashed; the low bits are as good as the high ones.
    @inline(__always)
    func hash(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64) -> UInt64 {
        let pairs = Self.fold(a ^ words.0, b ^ words.1) ^ Self.fold(c ^ words.2, d ^ words.3)
        return Self.fold(pairs ^ words.4, e ^ 0x9E37_79B9_7F4A_7C15)
    }
}
