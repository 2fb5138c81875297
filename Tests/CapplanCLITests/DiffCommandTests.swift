import CapplanTestSupport
import Foundation
import Testing

/// `capplan diff` over reports of crafted captures (written by `capplan report --out`, as a run
/// writes them): a fix that removes the resets exits 0, the resets coming back exits 3; the same
/// failure with other ports and timing is a change, not a new finding. Real runs are compared in
/// ApplyTests.
struct DiffCommandTests {
    /// A connection from `port` to the server: data, then after `idle` seconds a reset by the
    /// server, or a clean close when `reset` is false.
    static func run(port: UInt16, idle: Double, reset: Bool, extraConnections: Int = 0) throws -> String {
        var crafter = Crafter()
        let client = (ip: Crafter.client.ip, port: port)
        crafter.tcp(Crafter.TCP(from: client, to: Crafter.server, flags: SYN, seq: 0))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: client, flags: SYN | ACK, seq: 0, ack: 1))
        crafter.tcp(Crafter.TCP(from: client, to: Crafter.server, flags: ACK | PSH, seq: 1, ack: 1, payload: 100))
        crafter.tcp(Crafter.TCP(from: Crafter.server, to: client, flags: ACK, seq: 1, ack: 101))
        if reset {
            crafter.tcp(Crafter.TCP(from: Crafter.server, to: client, flags: RST | ACK, seq: 1, ack: 101), after: idle)
        } else {
            crafter.tcp(Crafter.TCP(from: client, to: Crafter.server, flags: FIN | ACK, seq: 101, ack: 1), after: idle)
            crafter.tcp(Crafter.TCP(from: Crafter.server, to: client, flags: FIN | ACK, seq: 1, ack: 102))
            crafter.tcp(Crafter.TCP(from: client, to: Crafter.server, flags: ACK, seq: 102, ack: 2))
        }
        for index in 0..<extraConnections {
            let other = (ip: Crafter.client.ip, port: UInt16(50000 + index))
            crafter.tcp(Crafter.TCP(from: other, to: (ip: Crafter.server.ip, port: 8443), flags: SYN, seq: 0))
            crafter.tcp(Crafter.TCP(from: (ip: Crafter.server.ip, port: 8443), to: other, flags: RST | ACK, seq: 0, ack: 1))
        }
        let directory = Crafter.directory + "/diff-run-\(UUID().uuidString)"
        let result = runCLI("report", try crafter.write(), "--out", directory)
        #expect(result.status == 0, "\(result.stderr)")
        return directory
    }

    @Test func aFixThatRemovesTheResetsExitsZeroAndTheirReturnExitsThree() throws {
        let broken = try Self.run(port: 40000, idle: 3, reset: true), fixed = try Self.run(port: 40000, idle: 3, reset: false)
        let fix = runCLI("diff", broken, fixed)
        #expect(fix.status == 0, "\(fix.stdout)\(fix.stderr)")
        #expect(fix.stdout.contains("  - gone: [reset]"), "\(fix.stdout)")
        #expect(fix.stdout.contains("B has no finding that A lacks."))
        #expect(fix.stdout.contains("connection states:"))

        let regression = runCLI("diff", fixed + "/summary.json", broken + "/summary.json", "--format", "json")
        #expect(regression.status == 3, "\(regression.stdout)\(regression.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(regression.stdout.utf8)) as? [String: Any])
        #expect(json["hasNewFindings"] as? Bool == true)
        let appeared = json["appeared"] as? [[String: Any]] ?? []
        #expect(appeared.contains { $0["kind"] as? String == "reset" }, "\(appeared)")
        let states = json["states"] as? [[String: Any]] ?? []
        #expect(states.contains { $0["state"] as? String == "RSTR" && $0["before"] as? Int == 0 && $0["after"] as? Int == 1 }, "\(states)")
    }

    /// The same reset from another ephemeral port, after a longer idle time: changed in timing, not new.
    @Test func theSameFailureWithOtherPortsAndTimesIsAChange() throws {
        let first = try Self.run(port: 40000, idle: 3, reset: true), second = try Self.run(port: 45123, idle: 7.5, reset: true)
        let same = runCLI("diff", first, second)
        #expect(same.status == 0, "\(same.stdout)")
        #expect(same.stdout.contains("0 new, 0 gone"), "\(same.stdout)")
        #expect(same.stdout.contains("changed (counts or timing)"), "\(same.stdout)")

        // A new kind of failure on another port is new.
        let more = try Self.run(port: 40000, idle: 3, reset: true, extraConnections: 2)
        let worse = runCLI("diff", first, more)
        #expect(worse.status == 3)
        #expect(worse.stdout.contains("+ new: [refused]"), "\(worse.stdout)")
    }

    @Test func whatCannotBeReadIsAClearError() throws {
        let missing = runCLI("diff", "/nonexistent/run", "/nonexistent/other")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/run: no such run directory or summary.json"))
        // A directory that is not a run says so, and what to give instead.
        let notRun = Crafter.directory + "/not-a-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: notRun, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: notRun) }
        let empty = runCLI("diff", notRun, notRun)
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("\(notRun): not a run directory: it holds no summary.json (give a directory capplan apply wrote"),
                "\(empty.stderr)")
        let notJSON = Crafter.directory + "/not-\(UUID().uuidString).json"
        try "{\"capture\": {}}".write(toFile: notJSON, atomically: true, encoding: .utf8)
        let broken = runCLI("diff", notJSON, notJSON)
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("not a summary.json capplan wrote (no capture.packets)"), "\(broken.stderr)")
    }
}
