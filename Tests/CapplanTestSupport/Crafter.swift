import CapplanPackets
import Foundation

/// Test support, shared by the test targets (never linked into capplan itself).
///
/// Builds packets byte by byte (Ethernet, IPv4/IPv6, TCP, UDP, ICMP) and writes them
/// with capplan's own libpcap writer, for cases real traffic cannot be made to show
/// on demand. tshark reads the same files as the oracle.
public struct Crafter: Sendable {
    public var packets: [(time: Int64, bytes: [UInt8])] = []
    public var clock: Int64 = 1_700_000_000_000_000_000

    public init() {}

    public static let client = (ip: "198.51.100.10", port: UInt16(40000))
    public static let server = (ip: "203.0.113.20", port: UInt16(443))

    public struct TCP: Sendable {
        public var from: (ip: String, port: UInt16)
        public var to: (ip: String, port: UInt16)
        public var flags: UInt8
        public var seq: UInt32
        public var ack: UInt32 = 0
        public var window: UInt16 = 64240
        public var payload = 0
        public var ttl: UInt8 = 64
        public var options: [UInt8] = []
        /// The IPv4 identification.
        public var id: UInt16 = 1

        public init(from: (ip: String, port: UInt16), to: (ip: String, port: UInt16), flags: UInt8, seq: UInt32, ack: UInt32 = 0,
                    window: UInt16 = 64240, payload: Int = 0, ttl: UInt8 = 64, options: [UInt8] = [], id: UInt16 = 1) {
            self.from = from
            self.to = to
            self.flags = flags
            self.seq = seq
            self.ack = ack
            self.window = window
            self.payload = payload
            self.ttl = ttl
            self.options = options
            self.id = id
        }
    }

    /// Advances the clock by `after` seconds and adds an Ethernet/IPv4/TCP packet with valid checksums.
    public mutating func tcp(_ segment: TCP, after: Double = 0.01) {
        clock += Int64(after * 1e9)
        packets.append((clock, Self.ethernet(Self.withChecksums(Self.ipv4(segment.from.ip, segment.to.ip, proto: 6, ttl: segment.ttl,
                                                                            id: segment.id, body: Self.tcpHeader(segment))))))
    }

    /// Adds an IP packet (IPv4 or IPv6) in an Ethernet frame, with its transport checksum filled in.
    public mutating func ip(_ packet: [UInt8], after: Double = 0.01) {
        clock += Int64(after * 1e9)
        let type: UInt16 = packet.first.map { $0 >> 4 == 6 ? 0x86DD : 0x0800 } ?? 0x0800
        packets.append((clock, Self.ethernet(Self.withChecksums(packet), type: type)))
    }

    /// Fills in the TCP, UDP, ICMP or ICMPv6 checksum of an IP packet (pseudo-header included).
    public static func withChecksums(_ packet: [UInt8]) -> [UInt8] {
        guard let first = packet.first else { return packet }
        var bytes = packet
        let v6 = first >> 4 == 6
        let headerLength = v6 ? 40 : Int(first & 0x0F) * 4
        let proto = v6 ? bytes[6] : bytes[9]
        let field: Int
        switch proto {
        case 6: field = 16
        case 17: field = 6
        case 1, 58: field = 2
        default: return bytes
        }
        guard bytes.count >= headerLength + field + 2 else { return bytes }
        bytes[headerLength + field] = 0
        bytes[headerLength + field + 1] = 0
        let transport = Array(bytes[headerLength...])
        var pseudo: [UInt8] = []
        if proto != 1 {
            pseudo = v6 ? Array(bytes[8..<40]) + be32(UInt32(transport.count)) + [0, 0, 0, proto]
                        : Array(bytes[12..<20]) + [0, proto] + be16(UInt16(transport.count))
        }
        var sum = checksum(pseudo + transport)
        if proto == 17 && sum == 0 { sum = 0xFFFF }
        bytes[headerLength + field] = UInt8(sum >> 8)
        bytes[headerLength + field + 1] = UInt8(sum & 0xFF)
        return bytes
    }

    public mutating func raw(_ bytes: [UInt8], after: Double = 0.01) {
        clock += Int64(after * 1e9)
        packets.append((clock, bytes))
    }

    /// Writes the packets to a new pcap file in `directory` and returns its path.
    public func write(linkType: Int32 = 1, snaplen: Int = 262_144, directory: String = Crafter.directory) throws -> String {
        let path = directory + "/crafted-\(UUID().uuidString).pcap"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let writer = try PcapWriter(path: path, linkType: linkType, snaplen: snaplen)
        for packet in packets {
            let captured = Array(packet.bytes.prefix(snaplen))
            captured.withUnsafeBytes { writer.write(timestamp: Timestamp(nanoseconds: packet.time), bytes: $0, originalLength: packet.bytes.count) }
        }
        writer.close()
        return path
    }

    /// Writes the packets to a new pcapng file with capplan's writer, the `n`th packet on interface
    /// `n % interfaces.count`, each interface named as given, with a name for each address in `names`.
    public func writePcapng(interfaces: [String], names: [(String, String)] = []) throws -> String {
        let path = Crafter.directory + "/crafted-\(UUID().uuidString).pcapng"
        try? FileManager.default.createDirectory(atPath: Crafter.directory, withIntermediateDirectories: true)
        let writer = try PcapngWriter(path: path, comment: "crafted", application: "capplan tests",
                                      interfaces: interfaces.map { PcapngInterface(name: $0, description: "about \($0)", linkType: 1, snaplen: 262_144) })
        writer.writeNames(names.compactMap { address, name in IPAddress(address).map { ($0, [name]) } })
        for (index, packet) in packets.enumerated() {
            packet.bytes.withUnsafeBytes {
                writer.write(interface: index % interfaces.count, timestamp: Timestamp(nanoseconds: packet.time), bytes: $0, originalLength: packet.bytes.count)
            }
        }
        writer.close()
        return path
    }

    /// A folder of this test process's files, removed when it exits.
    public static let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("capplan-test-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Crafter.directory) }
        return path
    }()

    // MARK: headers

    public static func ethernet(_ payload: [UInt8], type: UInt16 = 0x0800, vlans: [UInt16] = []) -> [UInt8] {
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]
        for vlan in vlans { frame += be16(0x8100) + be16(vlan) }
        return frame + be16(type) + payload
    }

    public static func ipv4(_ source: String, _ destination: String, proto: UInt8, ttl: UInt8 = 64, id: UInt16 = 1,
                     fragment: UInt16 = 0x4000, options: [UInt8] = [], body: [UInt8]) -> [UInt8] {
        let headerLength = 20 + options.count
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0] + be16(UInt16(headerLength + body.count)) + be16(id)
            + be16(fragment) + [ttl, proto, 0, 0] + address(source) + address(destination) + options
        let sum = checksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xFF)
        return header + body
    }

    public static func ipv6(_ source: String, _ destination: String, next: UInt8, hopLimit: UInt8 = 64, body: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(UInt16(body.count)) + [next, hopLimit] + address(source) + address(destination) + body
    }

    public static func tcpHeader(_ segment: TCP) -> [UInt8] {
        var options = segment.options
        while options.count % 4 != 0 { options.append(1) }
        let length = 20 + options.count
        return be16(segment.from.port) + be16(segment.to.port) + be32(segment.seq) + be32(segment.ack)
            + [UInt8(length / 4) << 4, segment.flags] + be16(segment.window) + [0, 0, 0, 0] + options
            + [UInt8](repeating: 0x41, count: segment.payload)
    }

    public static func udpHeader(_ sourcePort: UInt16, _ destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    public static func address(_ text: String) -> [UInt8] { IPAddress(text)?.bytes ?? [] }
    public static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    public static func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }

    public static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

public let SYN: UInt8 = 0x02, ACK: UInt8 = 0x10, FIN: UInt8 = 0x01, RST: UInt8 = 0x04, PSH: UInt8 = 0x08
