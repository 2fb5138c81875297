import CapplanCLI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The executable is only this: everything else is in CapplanCLI, testable in-process.
@main
struct Entrypoint {
    static func main() {
        exit(Capplan.run(Array(CommandLine.arguments.dropFirst())))
    }
}
