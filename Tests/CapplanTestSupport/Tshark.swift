import Foundation

/// tshark as the oracle: the same file, read by Wireshark's dissectors and TCP analysis.
public enum Tshark {
    /// Field values of every packet matching `filter`, one array per packet.
    public static func fields(_ file: String, filter: String, _ fields: [String], options: [String] = []) throws -> [[String]] {
        var argv = ["tshark", "-n", "-r", file, "-Y", filter, "-T", "fields", "-E", "separator=|"]
        for option in options { argv += ["-o", option] }
        for field in fields { argv += ["-e", field] }
        // tshark's warnings (running as root) go to stderr; only the fields are read.
        return try NetLab.run(argv, timeout: 60, keepStandardError: false).split(separator: "\n").map { line in
            line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        }
    }

    public static func count(_ file: String, filter: String) throws -> Int {
        try fields(file, filter: filter, ["frame.number"]).count
    }
}
