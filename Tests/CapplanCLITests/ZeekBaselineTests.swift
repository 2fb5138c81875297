import CapplanTestSupport
import Foundation
import Testing

/// capplan's connections against the conn.log Zeek itself wrote for each of the 40 traces of its
/// test suite (../shared/corpus/zeek): every connection Zeek logs is found with Zeek's conn_state
/// and history, and capplan finds no connection Zeek does not. The traces that still differ are
/// listed below, each with its reason; any other difference fails, and so does a listed trace
/// that no longer differs (the list must be kept true).
struct ZeekBaselineTests {
    static let folder = Corpus.folder("zeek")

    /// Differences kept on purpose.
    static let onPurpose: [String: String] = [
        "communityid-sctp": "SCTP is not analysed: capplan reports TCP, UDP and ICMP connections",
        "dns-corrupt": "Zeek ran without -C and gave up on a bad checksum (history Cc); capplan does not check checksums, on purpose",
        "tcp-syn-bad": "Zeek ran without -C and gave up on a bad checksum; capplan does not check checksums, on purpose",
        "globus-url-copy": "the test loads Zeek's gridftp analyzer, which stops processing the data channel (S1); capplan sees its FINs (SF)",
        "ntp-misordered-ntp": "the answer precedes the request; Zeek's S0 D^ is its own quirk, capplan reports both packets as one exchange",
        "tcp-ctu-64702-888": "every packet is in the file twice; capplan counts a copy once, on purpose, so it sees no retransmission (t)",
    ]

    /// A conn.log as rows of column → value: Zeek's own format (#fields) or a zeek-cut subset
    /// (a first line naming the columns), after any comment lines.
    static func rows(_ path: String) throws -> (rows: [[String: String]], derived: Bool) {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let derived = lines.contains { $0.hasPrefix("# derived") }
        var header: [String]?
        var rows: [[String: String]] = []
        for line in lines {
            if line.hasPrefix("#fields") {
                header = Array(line.split(separator: "\t").dropFirst().map(String.init))
            } else if line.hasPrefix("#") {
                continue
            } else if let columns = header {
                let values = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                rows.append(Dictionary(uniqueKeysWithValues: zip(columns, values)))
            } else {
                header = line.split(separator: "\t").map(String.init)
            }
        }
        return (rows, derived)
    }

    static func endpoint(_ value: Any?) -> String {
        let endpoint = value as? [String: Any]
        return "\(endpoint?["address"] as? String ?? "?") \(endpoint?["port"] as? Int ?? -1)"
    }

    /// What differs between Zeek's conn.log and capplan's report of one trace.
    static func differences(_ name: String, capture: String) throws -> [String] {
        let (expected, derived) = try rows(folder + "/\(name).conn.log")
        let result = runCLI("report", capture, "--format", "json")
        guard result.status == 0 else { return ["capplan cannot read it: \(result.stderr)"] }
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        var found = (json["connections"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        var differences: [String] = []
        for row in expected {
            let index: Int?
            if let origin = row["id.orig_h"], let originPort = row["id.orig_p"], let responder = row["id.resp_h"], let responderPort = row["id.resp_p"] {
                index = found.firstIndex { record in
                    endpoint(record["originator"]) == "\(origin) \(originPort)" && endpoint(record["responder"]) == "\(responder) \(responderPort)"
                        && (row["proto"].map { $0 == record["proto"] as? String } ?? true)
                }
            } else {
                index = expected.count == 1 && found.count == 1 ? 0 : nil
            }
            let described = ["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"].compactMap { row[$0] }.joined(separator: " ")
            guard let index else {
                differences.append("Zeek's \(described) \(row["conn_state"] ?? "") \(row["history"] ?? "") is missing")
                continue
            }
            let record = found.remove(at: index)
            if let state = row["conn_state"], state != record["state"] as? String {
                differences.append("\(described): conn_state Zeek \(state), capplan \(record["state"] ?? "")")
            }
            if let history = row["history"], (history == "-" ? "" : history) != record["history"] as? String {
                differences.append("\(described): history Zeek \(history), capplan \(record["history"] ?? "")")
            }
        }
        // A derived log describes one connection only; the others list every connection of the trace.
        if !derived, expected.first?["id.orig_h"] != nil {
            differences += found.map { "capplan's \($0["proto"] ?? "") \(endpoint($0["originator"])) > \(endpoint($0["responder"])) is not in Zeek's log" }
        }
        return differences
    }

    @Test func everyZeekConnectionAgreesButThoseListed() throws {
        let names = try #require(try? FileManager.default.contentsOfDirectory(atPath: Self.folder), Corpus.missing("zeek"))
        let logs = names.filter { $0.hasSuffix(".conn.log") }.map { String($0.dropLast(".conn.log".count)) }.sorted()
        #expect(logs.count == 40)
        var differing: Set<String> = []
        var agreeing = 0
        for name in logs {
            let capture = try #require(names.first { $0.hasPrefix(name + ".pcap") }, "\(name) has no capture")
            let differences = try Self.differences(name, capture: Self.folder + "/" + capture)
            if differences.isEmpty { agreeing += 1; continue }
            differing.insert(name)
            let listed = Self.onPurpose[name]
            #expect(listed != nil, "\(name) differs from Zeek: \(differences.joined(separator: "; "))")
        }
        let stale = Set(Self.onPurpose.keys).subtracting(differing)
        #expect(stale.isEmpty, "listed as differing but now agreeing with Zeek: \(stale.sorted()); take them off the lists")
        #expect(agreeing == logs.count - Self.onPurpose.count)
    }
}
