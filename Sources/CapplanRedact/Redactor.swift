internal import CCrypto
public import CapplanPackets

/// A packet after redaction: bytes valid until the next call and no longer than the packet's own
/// (they may be those bytes, cut short), the new captured length, and the original length on the
/// wire (kept, so analysis still sees sizes).
public struct RedactedPacket {
    public var timestamp: Timestamp
    public var bytes: UnsafeRawBufferPointer
    public var originalLength: Int

    public init(timestamp: Timestamp, bytes: UnsafeRawBufferPointer, originalLength: Int) {
        self.timestamp = timestamp
        self.bytes = bytes
        self.originalLength = originalLength
    }
}

/// Redact: applies the rules to each packet in one pass, in place in a scratch buffer.
/// Addresses are rewritten everywhere they appear (IP headers, the packet quoted in ICMP
/// errors, ARP, DNS A/AAAA answers), with every checksum that covers them updated.
public final class Redactor {
    public let rules: RedactionRules
    @exclusivity(unchecked) public private(set) var stats = RedactionStats()
    /// The first 8 bytes of SHA-256 of the key, in hex: says which key was used, never the key.
    public let keyFingerprint: String
    public let keyIsRandom: Bool

    private let decoder: PacketDecoder
    private let linkType: LinkType
    private let pan: CryptoPAn?
    /// `rules.keepNetworks`, held apart: read for every address, through `rules` it cost a retain and a release each time.
    private let keepNetworks: [CIDR]
    private let macKey: CryptoPAn?
    private let patterns: [BytePattern]
    private let scratch: UnsafeMutableRawBufferPointer
    /// Whether any rule rewrites bytes (addresses, MACs, scrubbed payload): only then is a packet
    /// copied to `scratch` to be rewritten; otherwise redaction at most cuts it short.
    private let rewritesBytes: Bool
    private let dropProgram: BPFProgram?

    /// `linkType` is the DLT of the packets (a capture file's or a live handle's).
    public init(rules: RedactionRules, linkType dlt: Int32, snaplen: Int) throws(RedactionError) {
        self.rules = rules
        keepNetworks = rules.keepNetworks
        do {
            linkType = try LinkType(dlt: dlt)
            dropProgram = try rules.dropFilter.map { filter throws(PcapError) in try BPFProgram(filter, linkType: dlt, snaplen: Int32(max(snaplen, 65_535))) }
        } catch {
            throw RedactionError(error.function == "decode" ? error.message : "the drop filter \"\(rules.dropFilter ?? "")\" does not compile: \(error.message)")
        }
        decoder = PacketDecoder(link: linkType)
        let key = rules.key ?? Self.randomKey()
        keyIsRandom = rules.key == nil
        keyFingerprint = Self.fingerprint(key)
        // Addresses only when the rules say so: a key given for MACs alone must leave them as they are.
        pan = rules.pseudonymizeAddresses ? try CryptoPAn(key: key) : nil
        // MACs get their own key, derived from the same one, so a MAC never maps like an address.
        macKey = rules.macs == .pseudonymize ? try CryptoPAn(key: Self.sha256(key + Array("capplan mac".utf8))) : nil
        var compiled: [BytePattern] = []
        for source in rules.scrub {
            do {
                compiled.append(try BytePattern(source))
            } catch {
                throw RedactionError("scrub pattern \"\(source)\" does not compile: \(error.message)")
            }
        }
        patterns = compiled
        stats.scrubMatches = Array(repeating: 0, count: compiled.count)
        scratch = .allocate(byteCount: max(snaplen, 65_536) + 64, alignment: 8)
        rewritesBytes = pan != nil || rules.macs != .keep || !compiled.isEmpty
    }

    deinit { scratch.deallocate() }

    /// The redacted packet, or nil when the drop filter leaves it out.
    public func redact(_ packet: RawPacket) -> RedactedPacket? {
        guard let length = admitted(packet) else { return nil }
        guard rewritesBytes else { return cutShort(packet, length: length, decoder.decode(Self.first(length, of: packet))) }
        return rewritten(packet, length: length, decoder.decode(copied(packet, length: length)))
    }

    /// The redacted packet, with what its bytes decode to in `decoded`, for a caller that analyses
    /// what it writes (`apply`): most packets are decoded once, by the redaction, not again after
    /// it (`PacketDecoder.deriveDecoding`). `decoded` is passed in, not returned: every copy of it
    /// (over 300 bytes) cost more than the decode saved.
    public func redactDecoded(_ packet: RawPacket, into decoded: inout DecodedPacket) -> RedactedPacket? {
        guard let length = admitted(packet) else { return nil }
        let redacted: RedactedPacket
        if rewritesBytes {
            let before = decoder.decode(copied(packet, length: length))
            redacted = rewritten(packet, length: length, before)
            decoded = before
        } else {
            decoder.decode(Self.first(length, of: packet), into: &decoded)
            redacted = cutShort(packet, length: length, decoded)
        }
        if !decoder.deriveDecoding(&decoded, of: redacted.bytes, addressesRewritten: pan != nil) {
            decoder.decode(redacted.bytes, into: &decoded)
        }
        return redacted
    }

    /// How many of the packet's bytes redaction reads, or nil when the drop filter leaves it out.
    @inline(__always)
    private func admitted(_ packet: RawPacket) -> Int? {
        stats.packetsIn += 1
        if let dropProgram, dropProgram.matches(packet) {
            stats.droppedByFilter += 1
            return nil
        }
        stats.packetsOut += 1
        return min(packet.bytes.count, scratch.count)
    }

    /// No rule rewrites bytes: the packet's own bytes, cut short, are the redacted packet.
    @inline(__always)
    private func cutShort(_ packet: RawPacket, length: Int, _ decoded: DecodedPacket) -> RedactedPacket {
        RedactedPacket(timestamp: packet.timestamp, bytes: Self.first(keptLength(length, decoded), of: packet), originalLength: packet.originalLength)
    }

    @inline(__always)
    private static func first(_ count: Int, of packet: RawPacket) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: packet.bytes.baseAddress, count: count)
    }

    /// The packet's first `length` bytes, copied to `scratch` to be rewritten there.
    private func copied(_ packet: RawPacket, length: Int) -> UnsafeRawBufferPointer {
        if let source = packet.bytes.baseAddress, let destination = scratch.baseAddress {
            destination.copyMemory(from: source, byteCount: length)
        }
        return UnsafeRawBufferPointer(start: scratch.baseAddress, count: length)
    }

    /// The packet in `scratch` with the rules applied; `decoded` is what it decoded to before.
    @inline(__always)
    private func rewritten(_ packet: RawPacket, length: Int, _ decoded: DecodedPacket) -> RedactedPacket {
        var buffer = PacketBuffer(bytes: scratch, count: length)
        if rules.macs != .keep { rewriteLinkAddresses(&buffer) }
        if !patterns.isEmpty { scrub(&buffer, decoded) }
        if pan != nil {
            rewriteAddresses(&buffer, decoded)
            if decoded.network == .arp { rewriteARP(&buffer, at: decoded.networkOffset) }
        }
        stats.checksumsUpdated += buffer.checksumsUpdated
        let kept = keptLength(length, decoded)
        return RedactedPacket(timestamp: packet.timestamp, bytes: UnsafeRawBufferPointer(start: scratch.baseAddress, count: kept),
                              originalLength: packet.originalLength)
    }

    // MARK: addresses

    /// The address as the redacted packets carry it: its pseudonym, or itself when addresses are
    /// kept (or it is in a kept network).
    public func pseudonymized(_ address: IPAddress) -> IPAddress { pseudonym(address) ?? address }

    /// `text` with every IPv4 and IPv6 address in it pseudonymized as the packets' are (a node's
    /// rule counters and conntrack table), so the same address reads the same in both.
    public func redactText(_ text: String) -> String {
        guard pan != nil else { return text }
        var result = "", candidate = ""
        func flush() {
            if candidate.contains("."), candidate.split(separator: ".").count == 4 || candidate.contains(":"),
               let address = IPAddress(candidate), let pseudonym = pseudonym(address) {
                result += pseudonym.description
                stats.textAddressesRewritten += 1
            } else {
                result += candidate
            }
            candidate = ""
        }
        for character in text {
            if character.isHexDigit || character == "." || character == ":" {
                candidate.append(character)
            } else {
                flush()
                result.append(character)
            }
        }
        flush()
        return result
    }

    private func pseudonym(_ address: IPAddress) -> IPAddress? {
        if !keepNetworks.isEmpty, keepNetworks.contains(where: { $0.contains(address) }) { return nil }
        // Called through the optional, not bound to a local: binding cost a retain and a release per address.
        return pan?.anonymize(address)
    }

    private func rewriteAddresses(_ buffer: inout PacketBuffer, _ packet: DecodedPacket) {
        if let outer = packet.outer { rewriteOuter(&buffer, outer) }
        rewriteInner(&buffer, packet)
        // After the inner rewrite, which the outer UDP checksum covers.
        if let outer = packet.outer { clearOuterUDPChecksum(&buffer, outer) }
    }

    /// A tunnel's outermost IP header: its addresses and (IPv4) header checksum.
    private func rewriteOuter(_ buffer: inout PacketBuffer, _ outer: OuterHeader) {
        let base = outer.networkOffset, v6 = outer.network == .ipv6
        let (sourceAt, destinationAt) = v6 ? (base + 8, base + 24) : (base + 12, base + 16)
        var covering = ChecksumFields()
        if !v6 { covering.add(base + 10) }
        var sums = WordSums()
        for (at, original) in [(sourceAt, outer.source), (destinationAt, outer.destination)] {
            guard let replacement = pseudonym(original) else { continue }
            buffer.writeAddress(at: at, replacement, sums: &sums)
        }
        buffer.adjust(covering, for: sums)
    }

    /// The outer UDP checksum of VXLAN or Geneve covers the whole inner packet, rewritten above:
    /// it becomes 0, "no checksum", which tunnels may use (RFC 6935 for IPv6).
    private func clearOuterUDPChecksum(_ buffer: inout PacketBuffer, _ outer: OuterHeader) {
        guard outer.udpOffset >= 0, buffer.has(outer.udpOffset + 6, 2), buffer.word(outer.udpOffset + 6) != 0 else { return }
        buffer.setWord(outer.udpOffset + 6, 0)
        stats.checksumsUpdated += 1
    }

    private func rewriteInner(_ buffer: inout PacketBuffer, _ packet: DecodedPacket) {
        guard packet.network == .ipv4 || packet.network == .ipv6, packet.networkOffset >= 0 else { return }
        let base = packet.networkOffset
        let v6 = packet.network == .ipv6
        let (sourceAt, destinationAt) = v6 ? (base + 8, base + 24) : (base + 12, base + 16)
        // The checksums that cover the addresses: IPv4's header; TCP, UDP and ICMPv6 through the pseudo-header.
        var covering = ChecksumFields()
        if !v6 { covering.add(base + 10) }
        var udpChecksum = -1
        if packet.transportOffset >= 0, !packet.isLaterFragment {
            switch packet.transport {
            case .tcp: covering.add(packet.transportOffset + 16)
            case .udp:
                udpChecksum = packet.transportOffset + 6
                covering.add(udpChecksum)
            case .icmpv6: covering.add(packet.transportOffset + 2)
            default: break
            }
        }
        // Both addresses written, then each checksum adjusted once for both.
        var sums = WordSums(), changed = false
        if let replacement = pseudonym(packet.source) {
            buffer.writeAddress(at: sourceAt, replacement, sums: &sums)
            changed = true
        }
        if let replacement = pseudonym(packet.destination) {
            buffer.writeAddress(at: destinationAt, replacement, sums: &sums)
            changed = true
        }
        buffer.adjust(covering, for: sums, zeroMeansNone: v6 ? -1 : udpChecksum)
        if changed { stats.addressesPseudonymized += 1 }
        if packet.icmp.isError, packet.icmp.quotedNetworkOffset >= 0 { rewriteQuoted(&buffer, packet) }
        if let dns = packet.dns, dns.isResponse, packet.transport == .udp { rewriteDNSAnswers(&buffer, packet) }
    }

    /// The packet an ICMP error quotes: its addresses, the checksums inside it (its IPv4
    /// header's, its TCP or UDP checksum), and the outer ICMP checksum, which covers all of it.
    private func rewriteQuoted(_ buffer: inout PacketBuffer, _ packet: DecodedPacket) {
        let quoted = packet.icmp.quotedNetworkOffset
        let outer = packet.transportOffset + 2
        let v6 = packet.transport == .icmpv6
        let (sourceAt, destinationAt) = v6 ? (quoted + 8, quoted + 24) : (quoted + 12, quoted + 16)
        var inner: [Int] = v6 ? [] : [quoted + 10]
        var udpNone = -1
        if packet.icmp.quotedTransportOffset >= 0 {
            switch packet.icmp.quotedProtocol {
            case 6: inner.append(packet.icmp.quotedTransportOffset + 16)
            case 17:
                inner.append(packet.icmp.quotedTransportOffset + 6)
                if !v6 { udpNone = packet.icmp.quotedTransportOffset + 6 }
            default: break
            }
        }
        inner = inner.filter { buffer.has($0, 2) }
        for (at, original) in [(sourceAt, packet.icmp.quotedSource), (destinationAt, packet.icmp.quotedDestination)] {
            guard let replacement = pseudonym(original) else { continue }
            let before = inner.map { buffer.word($0) }
            buffer.replace(at: at, with: replacement.bytes, base: packet.networkOffset, checksums: inner + [outer], zeroMeansNone: udpNone)
            // The inner checksums changed too, and the outer one covers them.
            for (field, old) in zip(inner, before) where buffer.word(field) != old {
                buffer.adjust(outer, oldSum: UInt32(old), newSum: UInt32(buffer.word(field)))
            }
        }
    }

    /// A and AAAA records in DNS answers (names are kept: they are the evidence of a failed lookup).
    private func rewriteDNSAnswers(_ buffer: inout PacketBuffer, _ packet: DecodedPacket) {
        let start = packet.payloadOffset
        guard buffer.has(start, 12) else { return }
        let questions = Int(buffer.word(start + 4)), answers = Int(buffer.word(start + 6))
        var cursor = start + 12
        for _ in 0..<min(questions, 16) {
            guard let next = skipName(buffer, at: cursor) else { return }
            cursor = next + 4
        }
        let udpChecksum = packet.network == .ipv4 ? packet.transportOffset + 6 : -1
        let covering = [packet.transportOffset + 6]
        for _ in 0..<min(answers, 64) {
            guard let next = skipName(buffer, at: cursor), buffer.has(next, 10) else { return }
            let type = buffer.word(next), length = Int(buffer.word(next + 8))
            let data = next + 10
            if (type == 1 && length == 4) || (type == 28 && length == 16), buffer.has(data, length) {
                let bytes = (0..<length).map { buffer.bytes[data + $0] }
                if let original = Self.address(bytes), let replacement = pseudonym(original) {
                    buffer.replace(at: data, with: replacement.bytes, base: packet.networkOffset, checksums: covering, zeroMeansNone: udpChecksum)
                    stats.dnsAnswersRewritten += 1
                }
            }
            cursor = data + length
        }
    }

    /// The offset just past a DNS name (labels, or a compression pointer), nil if it runs out.
    private func skipName(_ buffer: PacketBuffer, at start: Int) -> Int? {
        var cursor = start
        for _ in 0..<128 {
            guard buffer.has(cursor, 1) else { return nil }
            let length = buffer.bytes[cursor]
            if length == 0 { return cursor + 1 }
            if length & 0xC0 == 0xC0 { return buffer.has(cursor, 2) ? cursor + 2 : nil }
            cursor += 1 + Int(length)
        }
        return nil
    }

    /// ARP over Ethernet/IPv4: sender and target protocol addresses (and hardware addresses for MAC rules).
    private func rewriteARP(_ buffer: inout PacketBuffer, at offset: Int) {
        guard buffer.has(offset, 28), buffer.word(offset) == 1, buffer.word(offset + 2) == 0x0800 else { return }
        for at in [offset + 14, offset + 24] {
            let bytes = (0..<4).map { buffer.bytes[at + $0] }
            if let original = Self.address(bytes), let replacement = pseudonym(original) {
                buffer.replace(at: at, with: replacement.bytes, base: offset, checksums: [])
            }
        }
        stats.arpRewritten += 1
    }

    // MARK: MACs

    private func rewriteLinkAddresses(_ buffer: inout PacketBuffer) {
        var fields: [(offset: Int, length: Int)] = []
        switch linkType {
        case .ethernet: fields = [(0, 6), (6, 6)]
        case .linuxSLL: if buffer.has(4, 2) { fields = [(6, min(Int(buffer.word(4)), 8))] }
        case .linuxSLL2: if buffer.has(11, 1) { fields = [(12, min(Int(buffer.bytes[11]), 8))] }
        default: break
        }
        // ARP carries hardware addresses too.
        if linkType == .ethernet, buffer.has(12, 2), buffer.word(12) == 0x0806 { fields += [(22, 6), (32, 6)] }
        var changed = false
        for field in fields where buffer.has(field.offset, field.length) {
            let original = (0..<field.length).map { buffer.bytes[field.offset + $0] }
            let replacement = rules.macs == .zero ? [UInt8](repeating: 0, count: field.length) : pseudonymMAC(original)
            for (index, byte) in replacement.enumerated() { buffer.bytes[field.offset + index] = byte }
            changed = changed || replacement != original
        }
        if changed { stats.macsRewritten += 1 }
    }

    /// A keyed pseudonym of a MAC that keeps its multicast bit and marks it locally administered.
    private func pseudonymMAC(_ mac: [UInt8]) -> [UInt8] {
        guard let macKey, mac.count == 6, mac != [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] else { return mac }
        let high = mac.prefix(2).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, low = mac.suffix(4).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var bytes = Array(macKey.anonymize(IPAddress(ipv6High: high, low: low)).bytes.suffix(6))
        bytes[0] = (bytes[0] & 0xFC) | 0x02 | (mac[0] & 0x01)
        return bytes
    }

    // MARK: payloads

    private func scrub(_ buffer: inout PacketBuffer, _ packet: DecodedPacket) {
        guard packet.transport == .tcp || packet.transport == .udp, packet.capturedPayloadLength > 0, packet.transportOffset >= 0 else { return }
        let start = packet.payloadOffset, length = min(packet.capturedPayloadLength, buffer.count - start)
        guard length > 0 else { return }
        let checksum = packet.transportOffset + (packet.transport == .tcp ? 16 : 6)
        let none = packet.transport == .udp && packet.network == .ipv4 ? checksum : -1
        for (index, pattern) in patterns.enumerated() {
            let payload = UnsafeRawBufferPointer(start: buffer.bytes.baseAddress.map { $0 + start }, count: length)
            for range in pattern.matches(in: payload) {
                // Same length, so sequence numbers and sizes stay consistent.
                buffer.replace(at: start + range.lowerBound, with: [UInt8](repeating: 0x2A, count: range.count),
                               base: packet.networkOffset, checksums: [checksum], zeroMeansNone: none)
                stats.scrubMatches[index] += 1
            }
        }
    }

    /// How many of the packet's `count` bytes are kept: every header up to and including
    /// TCP/UDP/ICMP (and the packet an ICMP error quotes), and what the payload rule keeps.
    @inline(__always)
    private func keptLength(_ count: Int, _ packet: DecodedPacket) -> Int {
        guard rules.payload != .keep, packet.payloadOffset > 0, packet.transport != .none, packet.transport != .other else { return count }
        var keepFrom = packet.payloadOffset
        if packet.icmp.isError, packet.icmp.quotedTransportOffset >= 0 { keepFrom = packet.icmp.quotedTransportOffset + 8 }
        if case .truncate(let bytes) = rules.payload { keepFrom += bytes }
        guard keepFrom < count else { return count }
        stats.payloadsCut += 1
        stats.payloadBytesRemoved += Int64(count - keepFrom)
        return keepFrom
    }

    // MARK: keys

    static func address(_ bytes: [UInt8]) -> IPAddress? {
        switch bytes.count {
        case 4: return IPAddress(ipv4: bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16: return IPAddress(ipv6High: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        default: return nil
        }
    }

    static func randomKey() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = bytes.withUnsafeBufferPointer { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        return digest
    }

    /// Lower-case hex of the first 8 bytes of SHA-256.
    public static func fingerprint(_ key: [UInt8]) -> String {
        sha256(key).prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
