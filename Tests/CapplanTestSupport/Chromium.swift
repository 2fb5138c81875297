import Foundation

/// Headless Chromium (Debian's `chromium`) as the oracle for report.html: the page laid out
/// for real at a given width, measured by a script the test adds to a copy of the page.
public enum Chromium {
    public static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") }

    static let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                        "--disable-extensions", "--disable-background-networking", "--virtual-time-budget=3000"]

    /// The page as Chromium left it after running `script` (appended to a copy of the page at
    /// `path`), at `width` × `height`: its DOM, which the script can write its findings into.
    public static func dumpDOM(_ path: String, script: String, width: Int = 1280, height: Int = 1400) throws -> String {
        let copy = NSTemporaryDirectory() + "capplan-chromium-\(UUID().uuidString).html"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let page = try String(contentsOfFile: path, encoding: .utf8)
        try page.replacingOccurrences(of: "</body>", with: "<script>\(script)</script></body>").write(toFile: copy, atomically: true, encoding: .utf8)
        return try NetLab.run(["chromium"] + flags + ["--window-size=\(width),\(height)", "--dump-dom", copy], timeout: 90, keepStandardError: false)
    }

    /// A screenshot of the page, to look at.
    public static func screenshot(_ path: String, to png: String, width: Int = 1280, height: Int = 1800) throws {
        try NetLab.run(["chromium"] + flags + ["--window-size=\(width),\(height)", "--screenshot=\(png)", path], timeout: 90, keepStandardError: false)
    }
}
