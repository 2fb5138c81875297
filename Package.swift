// swift-tools-version: 6.2
// capplan: a declarative capture-plan runner for Kubernetes.
// Targets follow the pipeline: load -> plan -> (execute) -> packets -> (redact) -> (analyse) -> (report).
// CapplanPackets owns libpcap and the byte matchers; it never imports anything about Kubernetes.
import PackageDescription

let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "capplan",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "capplan", targets: ["capplan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // One small C module per system library: a module map plus a one-line shim header.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Packet layer: pcap I/O, live capture and streams, BPF programs, link types, byte patterns, the in-place decoder.
        .target(name: "CapplanPackets", dependencies: ["CPcap", "CPCRE2"], swiftSettings: strict),
        // Redact: rules applied to every packet before anything reaches disk (Crypto-PAn on OpenSSL's AES).
        .target(name: "CapplanRedact", dependencies: ["CapplanPackets", "CCrypto"], swiftSettings: strict),
        // Analyse: flows, Zeek connection states, Wireshark's TCP analysis, resets, ICMP and DNS failures.
        .target(name: "CapplanAnalyse", dependencies: ["CapplanPackets"], swiftSettings: strict),
        // Report: findings in plain words, summary.md and summary.json.
        .target(name: "CapplanReport", dependencies: ["CapplanAnalyse"], swiftSettings: strict),
        // Load: YAML with marks -> diagnostics -> typed, validated Plan.
        .target(name: "CapplanLoad", dependencies: ["CYAML", "CapplanPackets"], swiftSettings: strict),
        // Plan: a pure function from (Plan, target snapshot) to ordered steps with undos.
        .target(name: "CapplanPlan", dependencies: ["CapplanLoad"], swiftSettings: strict),
        // Execute: performing the planner's steps on a target (Engine, Run, Local, Kubernetes), the one capture pass, undo.
        .target(name: "CapplanExecute", dependencies: ["CapplanLoad", "CapplanPlan", "CapplanPackets", "CapplanRedact", "CapplanAnalyse", "CapplanReport"],
                swiftSettings: strict),
        // Commands: every subcommand lives here so it is testable without spawning the binary.
        .target(
            name: "CapplanCLI",
            dependencies: [
                "CapplanLoad", "CapplanPlan", "CapplanPackets", "CapplanRedact", "CapplanAnalyse", "CapplanReport", "CapplanExecute",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "capplan", dependencies: ["CapplanCLI"], swiftSettings: strict),

        // Test targets mirror the source targets: a module's tests are in <Module>Tests.
        .testTarget(name: "CapplanPacketsTests", dependencies: ["CapplanPackets", "CapplanTestSupport"], swiftSettings: strict),
        .testTarget(name: "CapplanLoadTests", dependencies: ["CapplanLoad", "CapplanPackets", "CapplanTestSupport"], swiftSettings: strict),
        // Packet crafting shared by the test targets; not part of any product.
        .target(name: "CapplanTestSupport", dependencies: ["CapplanPackets", "CapplanExecute"], path: "Tests/CapplanTestSupport",
                swiftSettings: strict),
        .testTarget(name: "CapplanAnalyseTests", dependencies: ["CapplanAnalyse", "CapplanReport", "CapplanPackets", "CapplanTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "CapplanRedactTests", dependencies: ["CapplanRedact", "CapplanPackets", "CapplanReport", "CapplanTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "CapplanReportTests", dependencies: ["CapplanReport", "CapplanAnalyse", "CapplanPackets", "CapplanTestSupport"], swiftSettings: strict),
        .testTarget(name: "CapplanExecuteTests", dependencies: ["CapplanExecute", "CapplanLoad", "CapplanPlan", "CapplanAnalyse", "CapplanReport", "CapplanRedact", "CapplanPackets", "CapplanTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "CapplanPlanTests", dependencies: ["CapplanPlan", "CapplanLoad"], swiftSettings: strict),
        .testTarget(name: "CapplanCLITests", dependencies: ["CapplanCLI", "capplan", "CapplanAnalyse", "CapplanPackets", "CapplanTestSupport"], exclude: ["Golden"],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
