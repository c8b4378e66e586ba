// swift-tools-version: 6.0
// Whittle: fine-tune small language models on ordinary CPUs.
// Layering (a target imports only targets below it) is described in README.md and ../shared/docs/architecture.md.
import PackageDescription

/// Release builds are what users and benchmarks run; these flags were measured (see README "Build settings").
let optimized: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "Whittle",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "whittle", targets: ["WhittleCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // L0: OpenBLAS through pkg-config (Debian: libopenblas-dev).
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // A C twin of the GEMM timing loop, so `whittle bench gemm` can compare Swift's call path with C's in one run.
        .target(name: "CBenchSupport", dependencies: ["COpenBLAS"]),
        // L1: tensors and kernels.
        .target(name: "Tensors", dependencies: ["COpenBLAS"], swiftSettings: optimized),
        // L1: text ⇄ ids and chat templates (a leaf: no tensors).
        .target(name: "Tokenization", exclude: ["ChatTemplate/README.md"], swiftSettings: optimized),
        // Benchmarks behind `whittle bench`.
        .target(name: "Benchmarking", dependencies: ["Tensors", "CBenchSupport"], swiftSettings: optimized),
        // L6: the command-line tool.
        .executableTarget(
            name: "WhittleCLI",
            dependencies: [
                "Tensors", "Benchmarking", "Tokenization",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimized
        ),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "ChatTemplateTests", dependencies: ["Tokenization"]),
    ]
)
