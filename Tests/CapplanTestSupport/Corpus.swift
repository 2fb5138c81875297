import Foundation
import Testing

/// The captures nobody here wrote, beside the checkout in ../shared/corpus (CI has them there
/// too; they are never copied into the repository): Zeek's traces with their conn.logs (`zeek`)
/// and tcpdump's test captures (`tcpdump-tests`).
public enum Corpus {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus").path

    /// One of its folders, by name.
    public static func folder(_ name: String) -> String { root + "/" + name }

    /// What a test says when a folder is not there.
    public static func missing(_ name: String) -> Comment {
        "the corpus is missing: its captures belong in \(folder(name)) (see its SOURCES.md); CI has them there"
    }

    /// A folder's captures (.pcap and .pcapng) as paths, by name; a missing folder fails the test
    /// with `missing`.
    public static func captures(in name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        let files = try #require(try? FileManager.default.contentsOfDirectory(atPath: folder(name)), missing(name), sourceLocation: sourceLocation)
        return files.sorted().filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.map { folder(name) + "/" + $0 }
    }
}
