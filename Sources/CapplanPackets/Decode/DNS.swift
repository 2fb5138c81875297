/// Just enough DNS (RFC 1035) to report failed lookups: id, response code, first question.
extension PacketDecoder {
    func decodeDNS(_ bytes: Bytes, at offset: Int, into packet: inout DecodedPacket) {
        guard let id = bytes.u16(offset), let flags = bytes.u16(offset + 2),
              let questions = bytes.u16(offset + 4), let answers = bytes.u16(offset + 6) else {
            packet.truncated = .application
            return
        }
        var dns = DNSMessage()
        dns.id = id
        dns.isResponse = flags & 0x8000 != 0
        dns.responseCode = UInt8(flags & 0x000F)
        dns.answerCount = answers
        if questions > 0 {
            // Walk the labels of the first name (bounded; a pointer ends a question name).
            var cursor = offset + 12
            var labels = 0
            while let length = bytes.u8(cursor), length != 0, length & 0xC0 == 0, labels < 128 {
                cursor += 1 + Int(length)
                labels += 1
            }
            if let length = bytes.u8(cursor) {
                dns.nameOffset = offset + 12
                let typeOffset = length & 0xC0 == 0xC0 ? cursor + 2 : cursor + 1
                dns.questionType = bytes.u16(typeOffset) ?? 0
            } else {
                packet.truncated = .application
            }
        }
        packet.dns = dns
    }
}

extension DNSMessage {
    /// The first question's name as text (`example.com`), read from the packet's bytes.
    /// Only called for lookups that are reported, so it may allocate.
    public func name(in raw: UnsafeRawBufferPointer) -> String {
        guard nameOffset >= 0 else { return "" }
        let bytes = Bytes(base: raw)
        var labels: [String] = []
        var cursor = nameOffset
        while let length = bytes.u8(cursor), length != 0, length & 0xC0 == 0, labels.count < 128 {
            guard bytes.has(cursor + 1, Int(length)) else { break }
            let label = raw[(cursor + 1)..<(cursor + 1 + Int(length))].map { byte -> Character in
                (0x21...0x7E).contains(byte) ? Character(UnicodeScalar(byte)) : "?"
            }
            labels.append(String(label))
            cursor += 1 + Int(length)
        }
        return labels.isEmpty ? "." : labels.joined(separator: ".")
    }

    public static func typeName(_ type: UInt16) -> String {
        switch type {
        case 1: "A"
        case 2: "NS"
        case 5: "CNAME"
        case 6: "SOA"
        case 12: "PTR"
        case 15: "MX"
        case 16: "TXT"
        case 28: "AAAA"
        case 33: "SRV"
        case 65: "HTTPS"
        default: "TYPE\(type)"
        }
    }

    public static func responseCodeName(_ code: UInt8) -> String {
        switch code {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE\(code)"
        }
    }
}
