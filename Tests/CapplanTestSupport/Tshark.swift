import Foundation

/// tshark as the oracle: the same file, read by Wireshark's dissectors and TCP analysis.
public enum Tshark {
    /// Field values of every packet matching `filter`, one array per packet.
    /// With `nameResolution`, addresses are named from the file's name resolution blocks (`-N n`).
    public static func fields(_ file: String, filter: String, _ fields: [String], options: [String] = [],
                              nameResolution: Bool = false) throws -> [[String]] {
        var argv = ["tshark"] + (nameResolution ? ["-N", "n"] : ["-n"]) + ["-r", file, "-Y", filter, "-T", "fields", "-E", "separator=|"]
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
