import Foundation

/// Paths in the package checkout, found from this file's location.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Every shipped plan: plans/ and examples/, recursively.
    static func shippedPlans() -> [URL] {
        ["plans", "examples"].flatMap { folder -> [URL] in
            let enumerator = FileManager.default.enumerator(at: url(folder), includingPropertiesForKeys: nil)
            return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "yaml" }
        }.sorted { $0.path < $1.path }
    }
}
