@testable import CapplanExecute
import Foundation
import Testing

/// run.json's `origins`: which interface captured each packet, as runs of [source, count].
struct OriginsTests {
    static func pairs(_ origins: RunRecord.Origins) -> [[Int]] { origins.runs.map { [$0.source, $0.count] } }

    @Test func packetsAreCountedInRunsAndReadBackTheSame() throws {
        var origins = RunRecord.Origins(sources: ["node-a/veth1", "node-a/eth0"])
        #expect(origins.runs.isEmpty)
        for source in [0, 0, 0, 1, 0, 0, 1, 1] { origins.add(source) }
        #expect(Self.pairs(origins) == [[0, 3], [1, 1], [0, 2], [1, 2]])
        let json = try JSONEncoder().encode(origins)
        let object = try #require(JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object.keys.sorted() == ["runs", "sources"])
        #expect(object["runs"] as? [[Int]] == [[0, 3], [1, 1], [0, 2], [1, 2]])
        #expect(object["sources"] as? [String] == ["node-a/veth1", "node-a/eth0"])
        var back = try JSONDecoder().decode(RunRecord.Origins.self, from: json)
        #expect(Self.pairs(back) == [[0, 3], [1, 1], [0, 2], [1, 2]])
        // Read back, the last run goes on as it would have.
        back.add(1)
        back.add(0)
        #expect(Self.pairs(back) == [[0, 3], [1, 1], [0, 2], [1, 3], [0, 1]])
    }
}
