import Foundation

/// Paths in the package checkout, found from this file's location.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Every shipped plan: the YAML files of plans/ and examples/ (recursively) that say `kind: CapturePlan`.
    static func shippedPlans() -> [URL] {
        ["plans", "examples"].flatMap { folder -> [URL] in
            let enumerator = FileManager.default.enumerator(at: url(folder), includingPropertiesForKeys: nil)
            return (enumerator?.allObjects as? [URL] ?? []).filter { file in
                file.pathExtension == "yaml" && ((try? String(contentsOf: file, encoding: .utf8))?.contains("kind: CapturePlan") ?? false)
            }
        }.sorted { $0.path < $1.path }
    }
}
